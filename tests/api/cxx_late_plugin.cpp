// SPDX-License-Identifier: MIT
//
// The C++ plugin of api-cxx_late (cxx_late.c), which a C program loads with
// dlopen(RTLD_LOCAL): libstdc++ comes in with it, after kalloc's references
// to the C++ runtime were bound.  plugin_run checks that new still throws
// std::bad_alloc and calls the new-handler, and that nothrow new returns
// nullptr; it returns the number of failed checks and writes the file that
// defines the operator new the plugin calls into where[].
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <new>

static volatile std::size_t impossible = (std::size_t)1 << 62;
static int handler_calls;

static void handler_three_times()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

static bool throws_bad_alloc(bool array)
{
	try {
		void *p = array ? ::operator new[](impossible) : ::operator new(impossible);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

extern "C" __attribute__((visibility("default"))) int plugin_run(char *where, std::size_t len)
{
	int fails = 0;
	void *(*op)(std::size_t) = &::operator new;
	Dl_info info;
	std::snprintf(where, len, "%s", dladdr(reinterpret_cast<void *>(op), &info) && info.dli_fname ? info.dli_fname : "?");

	if (!throws_bad_alloc(false) || !throws_bad_alloc(true)) {
		std::fprintf(stderr, "plugin: new did not throw std::bad_alloc\n");
		fails++;
	}
	handler_calls = 0;
	std::set_new_handler(handler_three_times);
	if (!throws_bad_alloc(false) || handler_calls != 3) {
		std::fprintf(stderr, "plugin: handler called %d times, not 3 before bad_alloc\n", handler_calls);
		fails++;
	}
	if (::operator new(impossible, std::nothrow) != nullptr ||
	    ::operator new[](impossible, std::align_val_t(64), std::nothrow) != nullptr) {
		std::fprintf(stderr, "plugin: nothrow new did not return nullptr\n");
		fails++;
	}
	std::set_new_handler(nullptr);
	char *s = new char[1000];
	std::memset(s, 1, 1000);
	delete[] s;
	return fails;
}

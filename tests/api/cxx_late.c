/* SPDX-License-Identifier: MIT */
/*
 * A C program, under the preload library, that loads a C++ plugin
 * (cxx_late_plugin.cpp, argv[1]) with dlopen(RTLD_LOCAL), as python3 loads
 * an extension module: libstdc++ arrives after kalloc's weak references to
 * the C++ runtime were bound (to nothing).  The plugin's operator new is
 * kalloc's, and on failure it must still call the plugin's new-handler and
 * throw std::bad_alloc, which kalloc finds in the libstdc++ loaded late
 * (cxxrt.cc); nothrow new returns nullptr.  Before libstdc++ is loaded, it
 * is not mapped at all: the preload library did not bring it.
 */
#include "ktest.h"

#include <dlfcn.h>
#include <stdio.h>

static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;
	while (f && fgets(line, sizeof line, f))
		found |= contains(line, name);
	if (f)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	check_allocator();
	CHECKF(argc == 2, "usage: %s PLUGIN", argv[0]);
	if (argc != 2)
		return check_done();
	CHECKF(!mapped("libstdc++"), "libstdc++ is mapped before the plugin is loaded");
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CHECKF(h != NULL, "dlopen %s: %s", argv[1], dlerror());
	if (!h)
		return check_done();
	int (*run)(char *, size_t);
	*(void **)&run = dlsym(h, "plugin_run");   /* POSIX's way past ISO C */
	CHECK(run != NULL);
	if (run) {
		char where[512];
		CHECK(run(where, sizeof where) == 0);
		if (expect_kalloc())
			CHECKF(contains(where, "kalloc"), "the plugin's operator new comes from %s", where);
	}
	CHECK(mapped("libstdc++"));
	return check_done();
}

// SPDX-License-Identifier: MIT
//
// cxxrt.cc - the only file that touches the C++ runtime, as os.c is the only
// one that calls the kernel.  The C++ operators (malloc.c, in C) need three
// things only the runtime has: the installed new-handler, a way to throw
// std::bad_alloc, and, for the nothrow forms, a way to stop an exception the
// handler throws.
//
// The library must not depend on libstdc++: C programs preload it too, and
// pulling libstdc++ into every one of them would cost start-up time and
// memory for nothing.  So every symbol of the runtime is a weak reference
// (the library is linked as C: no -lstdc++, and `ldd` shows no libstdc++):
//
//   std::get_new_handler()    _ZSt15get_new_handlerv   (libstdc++, libc++abi)
//   std::__throw_bad_alloc()  _ZSt17__throw_bad_allocv (libstdc++)
//   the catch below           __gxx_personality_v0, __cxa_begin_catch,
//                             __cxa_end_catch          (libstdc++, libc++abi)
//
// A C++ program has its runtime loaded before the library's references are
// bound (the program's own DT_NEEDED), so they all resolve.  In a program
// without it they stay null: no handler is installed there, and nothing can
// be thrown.  A runtime that comes later, with dlopen (a C program loading
// a C++ plugin: python3 and an extension module), is not seen by them; a
// failed new then looks for libstdc++ among the loaded objects (dlopen with
// RTLD_NOLOAD, which finds it even when it was loaded RTLD_LOCAL) and takes
// the new-handler and __throw_bad_alloc from there.  The catch's references
// cannot be found that way: in that case the nothrow forms return NULL
// without calling the handler, which could throw past them.  A runtime
// without std::__throw_bad_alloc (libc++ alone) cannot be thrown through:
// a failed new reports and aborts.
//
// Built without RTTI, and with nothing of the C++ library included: the
// functions are declared here under their symbol names.
#include "cxxrt.h"

#include <dlfcn.h>

extern "C" {
kcxx_handler_fn rt_get_new_handler(void) noexcept __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
[[noreturn]] void rt_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv") __attribute__((weak));
void *rt_begin_catch(void *) noexcept __asm__("__cxa_begin_catch") __attribute__((weak));
}

// The catch's own references, weak too (the compiler emits them strong).
__asm__(".weak __gxx_personality_v0\n\t.weak __cxa_begin_catch\n\t.weak __cxa_end_catch");

// A function of libstdc++ loaded after the library, or NULL.  Only on
// new's failure path; dlopen's lock is recursive, so this may run inside a
// constructor that dlopen is running.
static void *late_runtime(const char *name)
{
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return nullptr;
	void *f = dlsym(h, name);
	dlclose(h);   // drops the reference RTLD_NOLOAD took; the library stays
	return f;
}

kcxx_handler_fn kcxx_new_handler(void)
{
	if (rt_get_new_handler)
		return rt_get_new_handler();
	auto get = reinterpret_cast<kcxx_handler_fn (*)(void)>(late_runtime("_ZSt15get_new_handlerv"));
	return get ? get() : nullptr;
}

bool kcxx_call_handler(kcxx_handler_fn h, bool nothrow)
{
	if (!nothrow) {
		h();
		return true;
	}
	if (!rt_begin_catch)
		return false;   // a late runtime: nothing here could catch
	try {
		h();
	} catch (...) {
		return false;
	}
	return true;
}

void kcxx_throw_bad_alloc(void)
{
	if (rt_throw_bad_alloc)
		rt_throw_bad_alloc();
	auto thr = reinterpret_cast<void (*)(void)>(late_runtime("_ZSt17__throw_bad_allocv"));
	if (thr)
		thr();
}

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
// be thrown.  One case is weaker than the standard: a runtime that comes
// later, with dlopen, is not seen (the references were bound at start-up),
// so operator new acts as if no handler were installed and a failure is
// reported and aborts instead of throwing; so does a runtime without
// std::__throw_bad_alloc (libc++ alone).
//
// Built without RTTI, and with nothing of the C++ library included: the
// functions are declared here under their symbol names.
#include "cxxrt.h"

extern "C" {
kcxx_handler_fn rt_get_new_handler(void) noexcept __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
[[noreturn]] void rt_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv") __attribute__((weak));
}

// The catch's own references, weak too (the compiler emits them strong).
__asm__(".weak __gxx_personality_v0\n\t.weak __cxa_begin_catch\n\t.weak __cxa_end_catch");

kcxx_handler_fn kcxx_new_handler(void)
{
	return rt_get_new_handler ? rt_get_new_handler() : nullptr;
}

// A handler is only ever seen with the runtime loaded (kcxx_new_handler),
// so the catch's references are bound whenever it runs.
bool kcxx_call_handler(kcxx_handler_fn h, bool nothrow)
{
	if (!nothrow) {
		h();
		return true;
	}
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
}

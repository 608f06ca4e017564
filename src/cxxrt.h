/* SPDX-License-Identifier: MIT */
/*
 * cxxrt.h - the C++ runtime's side of operator new (cxxrt.cc): the
 * new-handler and std::bad_alloc, bound weakly.  A C header, included by
 * the C++ file too; it includes nothing of kalloc (base.h is C only).
 */
#ifndef KALLOC_CXXRT_H
#define KALLOC_CXXRT_H

#ifdef __cplusplus
extern "C" {
#else
#include <stdbool.h>
#endif

#pragma GCC visibility push(hidden)

typedef void (*kcxx_handler_fn)(void);

/* The installed new-handler (std::get_new_handler()); NULL when none is
 * installed or no C++ runtime is loaded. */
kcxx_handler_fn kcxx_new_handler(void);
/* Calls the new-handler h.  With nothrow, an exception it throws is caught
 * and the call returns false (a nothrow operator new then returns NULL);
 * without, the exception goes on to operator new's caller.  With nothrow
 * and a runtime loaded after the library (nothing to catch with), h is
 * not called and the result is false. */
bool kcxx_call_handler(kcxx_handler_fn h, bool nothrow);
/* Throws std::bad_alloc (std::__throw_bad_alloc); returns only when no
 * loaded C++ runtime has that function (none, or not libstdc++). */
void kcxx_throw_bad_alloc(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KALLOC_CXXRT_H */

/* SPDX-License-Identifier: MIT */
/*
 * preload.c - the LD_PRELOAD library.
 *
 * The allocator itself is the core library linked in whole; this file only
 * makes sure of what preloading needs beyond linking: the core is set up at
 * load time when nothing has allocated yet (a program whose first malloc
 * comes from a constructor still initialises lazily), so that the first
 * allocation of every thread takes the short path.
 */
#include "internal.h"

__attribute__((constructor)) static void kalloc_preload_init(void)
{
	kalloc_ensure_init();
}

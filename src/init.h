/* SPDX-License-Identifier: MIT */
/*
 * init.h - lazy initialisation, fork handlers, reclaim and the exit report
 * (init.c).
 */
#ifndef KALLOC_INIT_H
#define KALLOC_INIT_H

#include "reclaim.h"

#pragma GCC visibility push(hidden)

/* 0: not started, 1: in progress, 2: done */
extern _Atomic int kalloc_init_state;
void kalloc_init_slow(void);
/* Called by the exported entry points that need kalloc set up (kapi.c,
 * malloc.c's slow paths); malloc's and free's fast paths need no test: the
 * front caches' sentinel view sends the first calls to a slow path. */
KINLINE void kalloc_ensure_init(void)
{
	if (unlikely(atomic_load_explicit(&kalloc_init_state, memory_order_acquire) != 2))
		kalloc_init_slow();
}

/* malloc_trim: front caches flushed, empty slabs returned, every free page
 * released, free chunks unmapped.  True when something went back. */
bool kalloc_trim(void);

#pragma GCC visibility pop

#endif /* KALLOC_INIT_H */

/* SPDX-License-Identifier: MIT */
/*
 * reclaim.h - memory pressure (reclaim.c): what runs when an allocation
 * finds memory short, under the limit or because the OS refused, and the
 * shrinkers programs register.
 */
#ifndef KALLOC_RECLAIM_H
#define KALLOC_RECLAIM_H

#include "prof.h"

#pragma GCC visibility push(hidden)

/* Registers the pressure hook with the page layer and the OS reclaim hook
 * with os.c (init.c calls it while it sets kalloc up). */
void kreclaim_init(void);
/* What kalloc holds that it can give back at once: front caches flushed,
 * empty slabs returned, cached huge areas and free chunks unmapped, and,
 * when `release`, every free page released.  Bytes given back. */
size_t kreclaim_own(bool release);
/* register_shrinker / unregister_shrinker (kapi.c exports them). */
int kreclaim_register(struct shrinker *s, const char *name);
void kreclaim_unregister(struct shrinker *s);
/* kalloc_set_limit: sets the limit and, when more than it is charged,
 * gives back what kalloc can (no shrinker runs). */
void kreclaim_set_limit(size_t bytes);

void kreclaim_fork_prepare(void);
void kreclaim_fork_parent(void);
void kreclaim_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_RECLAIM_H */

/* SPDX-License-Identifier: MIT */
/*
 * stats.h - introspection across the layers (stats.c).
 */
#ifndef KALLOC_STATS_H
#define KALLOC_STATS_H

#include "kmalloc.h"
#include "percpu.h"

#pragma GCC visibility push(hidden)

/* slabinfo, buddyinfo, vmallocinfo and the front caches, as text, to fd;
 * written with no lock held and without allocating from kalloc. */
void kstats_print(int fd);
/* Totals for mallinfo: bytes mapped for chunks, bytes in use (page blocks
 * and slab objects handed out, not counting front-cached ones), free buddy
 * blocks. */
void kstats_totals(size_t *present, size_t *in_use, size_t *free_blocks);

#pragma GCC visibility pop

#endif /* KALLOC_STATS_H */

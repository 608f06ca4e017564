/* SPDX-License-Identifier: MIT */
/*
 * front_rseq.h - front caches, per-CPU mode (front_rseq.c).
 */
#ifndef KALLOC_FRONT_RSEQ_H
#define KALLOC_FRONT_RSEQ_H

#include "front_region.h"

#pragma GCC visibility push(hidden)

bool kfront_rseq_setup(void);
/* Where the per-thread mode may arm its sequences so that they restart:
 * glibc's rseq_cs, as an offset from kfront_thr.  False without rseq. */
bool kfront_rseq_cs_rel(intptr_t *rel);
void kfront_rseq_grow(unsigned idx);
/* Drains the stacks of the selected indices on every CPU (drain_lock);
 * false when the kernel refused the fence and nothing was drained. */
bool kfront_rseq_drain(const bool *sel);
int kfront_rseq_attach(struct kmem_cache *c);
bool kfront_rseq_detach(struct kmem_cache *c);
bool kfront_rseq_uses_cid(void);
void kfront_rseq_fork_prepare(void);
void kfront_rseq_fork_parent(void);
void kfront_rseq_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_FRONT_RSEQ_H */

/* SPDX-License-Identifier: MIT */
/*
 * front_thread.h - front caches, per-thread mode (front_thread.c).
 */
#ifndef KALLOC_FRONT_THREAD_H
#define KALLOC_FRONT_THREAD_H

#include "front_rseq.h"

#pragma GCC visibility push(hidden)

bool kfront_thread_setup(void);
/* Gives the calling thread its region on its first miss (with a GFP that
 * may reclaim); afterwards its pushes and pops hit. */
void kfront_thread_ready(gfp_t gfp);
/* Returns the calling thread's cached objects to the slabs: all, or those
 * of one front index. */
void kfront_thread_flush(void);
void kfront_thread_flush_index(unsigned idx);
/* A miss on the calling thread's stack idx (per-thread mode), on a full
 * stack (`spill`) or an empty one: when the stack's last miss was of the
 * other kind (the thread allocates and frees more of the class than the
 * stack holds), grows its capacity by half, up to the slots reserved for
 * it, within the thread's KFRONT_THREAD_GROW_BYTES.  A stack that only
 * fills (a consumer's) or only empties (a producer's) keeps its base. */
void kfront_thread_grow(unsigned idx, bool spill);
/* Whether the sequences restart when a signal interrupts them (glibc
 * registered rseq), so signal handlers may allocate. */
bool kfront_thread_restartable(void);
/* Gives the memory of regions no thread holds back to the OS. */
void kfront_thread_release_idle(void);
void kfront_thread_fork_prepare(void);
void kfront_thread_fork_parent(void);
void kfront_thread_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_FRONT_THREAD_H */

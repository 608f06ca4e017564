/* SPDX-License-Identifier: MIT */
/*
 * percpu.h - per-CPU data for applications (percpu.c): alloc_percpu and the
 * this_cpu operations, on the front caches' per-CPU machinery.
 */
#ifndef KALLOC_PERCPU_H
#define KALLOC_PERCPU_H

#include "front.h"

#pragma GCC visibility push(hidden)

/* Zeroed per-CPU space (kapi.c: __alloc_percpu); NULL (errno set, reported)
 * on failure. */
void *kpcpu_alloc(size_t size, size_t align);
/* Reports and aborts for a pointer __alloc_percpu did not return. */
void kpcpu_free(void *p);
/* Possible CPUs: the number of units. */
unsigned kpcpu_nr_ids(void);
/* The unit of the CPU the caller runs on now. */
unsigned kpcpu_this_cpu(void);
/* *(p in this CPU's unit) += v, for objects of 1, 2, 4 or 8 bytes. */
void kpcpu_add(void *p, long v, size_t size);
void kpcpu_fork_prepare(void);
void kpcpu_fork_parent(void);
void kpcpu_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_PERCPU_H */

/* SPDX-License-Identifier: MIT */
/*
 * percpu.h - per-CPU data for applications (percpu.c): alloc_percpu, static
 * DEFINE_PER_CPU variables, get_cpu and the this_cpu operations, on the
 * front caches' per-CPU machinery.
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
/* The unit of the CPU the caller runs on now; in a get_cpu section, the
 * section's. */
unsigned kpcpu_this_cpu(void);
/* *(p in this CPU's unit) += v, for objects of 1, 2, 4 or 8 bytes; p is
 * alloc_percpu memory or a DEFINE_PER_CPU template (as kpcpu_ptr). */
void kpcpu_add(void *p, long v, size_t size);
/* *(p in this CPU's unit) = v, likewise. */
void kpcpu_write(void *p, long v, size_t size);
/* CPU cpu's copy of the per-CPU object at p: alloc_percpu memory (CPU 0's
 * copy) or any address inside a registered module's DEFINE_PER_CPU
 * templates.  Anything else, or a CPU index out of range, is reported under
 * op's name and aborts. */
void *kpcpu_ptr(const void *p, unsigned cpu, const char *op);
/* Registers the section of a module's DEFINE_PER_CPU templates (each file
 * of the module calls it; the first call counts), and marks it retired. */
void kpcpu_module_add(const void *start, const void *stop);
void kpcpu_module_del(const void *start, const void *stop);
/* Locks the caller's CPU index for its get_cpu section, or nests in the
 * section it has open; returns the index.  kpcpu_put_cpu closes a level. */
unsigned kpcpu_get_cpu(void);
void kpcpu_put_cpu(void);
void kpcpu_fork_prepare(void);
void kpcpu_fork_parent(void);
void kpcpu_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_PERCPU_H */

/* SPDX-License-Identifier: MIT */
/*
 * vmalloc.h - huge areas (vmalloc.c), each its own mapping with a guard page.
 */
#ifndef KALLOC_VMALLOC_H
#define KALLOC_VMALLOC_H

#include "slab.h"

#pragma GCC visibility push(hidden)

/* Registers the freed-block lookup with KALLOC_DEBUG's fault reporter
 * (when debugging and hardening are on). */
void kvm_init(void);
/* Allocates a huge area of size bytes aligned to `align` (2 MiB at least
 * when fresh; a reused one may be page aligned when align is below 2 MiB).
 * *zeroed says whether it reads as zero (a fresh mapping) or not (a freed
 * area reused).  NULL without __GFP_DIRECT_RECLAIM (mapping is a system
 * call) or when the OS refuses. */
void *kvm_alloc(size_t size, size_t align, gfp_t gfp, bool *zeroed);
/* If p is the start of a huge area, frees it (into the cache of freed
 * areas; hardened, its pages moved away and its range left reserved with
 * no access) and returns true. */
bool kvm_free(const void *p);
/* Unmaps every cached freed area and every quarantined range; returns
 * the bytes given back (address space, for the ranges). */
size_t kvm_purge(void);
/* Usable size of huge area p, or 0 if p is not a huge area's start. */
size_t kvm_usable(const void *p);
/* Resizes a huge area in place, by mremap, or (one made of several
 * mappings, growing) by copying; NULL on failure (p intact).
 * Reports and aborts when p is not a huge area's start. */
void *kvm_realloc(void *p, size_t size);
/* Is p inside (not only at the start of) any huge area? */
bool kvm_contains(const void *p);
/* The start of the huge area whose usable bytes hold p, or NULL. */
void *kvm_start(const void *p);
void kvm_fork_prepare(void);
void kvm_fork_parent(void);
void kvm_fork_child(void);
/* Live areas and their bytes, and the bytes of freed areas cached. */
void kvm_totals(size_t *count, size_t *bytes, size_t *cached);
/* Calls fn(addr, size, arg) for every area, with vmap_lock held: fn makes no
 * system call and takes no lock. */
void kvm_foreach(void (*fn)(uintptr_t addr, size_t size, void *arg), void *arg);

#pragma GCC visibility pop

#endif /* KALLOC_VMALLOC_H */

/* SPDX-License-Identifier: MIT */
/* The shared library of percpu-shlib: per-CPU variables defined in a library. */
#ifndef KALLOC_TESTS_SHLIB_LIB_H
#define KALLOC_TESTS_SHLIB_LIB_H

#include <kalloc.h>

struct lib_stats {
	long calls;
	int mark;
};

DECLARE_PER_CPU(long, lib_hits);
DECLARE_PER_CPU(struct lib_stats, lib_stats);

/* this_cpu_inc(lib_hits) and this_cpu_inc(lib_stats.calls), in the library. */
void lib_hit(void);
/* The sums over every CPU, as the library sees them. */
long lib_hits_sum(void);
long lib_calls_sum(void);
/* &lib_hits and CPU cpu's copy of it, as the library sees them. */
long *lib_hits_addr(void);
long *lib_hits_ptr(int cpu);
/* CPU cpu's copy of the library's static variable (initialised to 11). */
int lib_static_of(int cpu);

#endif

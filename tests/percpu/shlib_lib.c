/* SPDX-License-Identifier: MIT */
/* The shared library of percpu-shlib (see shlib.c). */
#include "shlib_lib.h"

DEFINE_PER_CPU(long, lib_hits);
DEFINE_PER_CPU(struct lib_stats, lib_stats) = {.mark = 5};
static DEFINE_PER_CPU(int, lib_static) = 11;

void lib_hit(void)
{
	this_cpu_inc(lib_hits);
	this_cpu_inc(lib_stats.calls);
	this_cpu_inc(lib_static);
	this_cpu_dec(lib_static);
}

long lib_hits_sum(void)
{
	long sum = 0;
	int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(lib_hits, cpu);
	return sum;
}

long lib_calls_sum(void)
{
	long sum = 0;
	int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(lib_stats, cpu).calls;
	return sum;
}

long *lib_hits_addr(void) { return &lib_hits; }
long *lib_hits_ptr(int cpu) { return per_cpu_ptr(&lib_hits, cpu); }
int lib_static_of(int cpu) { return per_cpu(lib_static, cpu); }

/* SPDX-License-Identifier: MIT */
/* The library percpu-shlib loads with dlopen (see shlib.c). */
#include <kalloc.h>

static DEFINE_PER_CPU(long, dl_count) = 100;
DEFINE_PER_CPU(char[64], dl_name) = "dl";

/* Adds v to this CPU's count; returns the sum over every CPU. */
long dl_add(long v)
{
	this_cpu_add(dl_count, v);
	long sum = 0;
	int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(dl_count, cpu);
	return sum;
}

/* CPU cpu's copy of dl_name. */
char *dl_name_of(int cpu)
{
	return per_cpu(dl_name, cpu);
}

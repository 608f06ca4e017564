/* SPDX-License-Identifier: MIT */
/*
 * alloc_percpu: a per-CPU counter incremented from 8 threads (this_cpu_inc
 * and this_cpu_add, 8- and 4-byte) sums exactly once the writers stop;
 * per_cpu_ptr covers nr_cpu_ids distinct, zeroed copies; free_percpu gives
 * the space back (the same offset is handed out again).
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdio.h>
#include <kalloc.h>
#include <pthread.h>
#include <stdint.h>

#define THREADS 8
#define ITERS 500000

struct stats {
	long events;
	int small;
};

static struct stats *st;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		this_cpu_inc(st->events);
		this_cpu_add(st->small, 3);
		if ((i & 4095) == 0)
			sched_yield();
	}
	return NULL;
}

int main(void)
{
	unsigned ncpu = nr_cpu_ids;
	CHECK(ncpu >= 1);
	st = alloc_percpu(struct stats);
	CHECK(st != NULL);
	if (!st)
		return check_done();
	int cpu;
	for_each_possible_cpu(cpu) {
		struct stats *s = per_cpu_ptr(st, cpu);
		CHECK(s->events == 0 && s->small == 0);
		if (cpu > 0)
			CHECK((char *)s != (char *)per_cpu_ptr(st, cpu - 1));
	}
	CHECK(kalloc_this_cpu() < ncpu);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	long sum = 0, small = 0;
	for_each_possible_cpu(cpu) {
		sum += per_cpu_ptr(st, cpu)->events;
		small += per_cpu_ptr(st, cpu)->small;
	}
	CHECK(sum == (long)THREADS * ITERS);
	CHECK(small == 3L * THREADS * ITERS);
	fprintf(stderr, "counter: %ld increments over %u CPUs\n", sum, ncpu);

	void *a = __alloc_percpu(100, 64);
	CHECK(a != NULL && ((uintptr_t)a & 63) == 0);
	free_percpu(a);
	void *b = __alloc_percpu(100, 64);
	CHECK(a == b);
	free_percpu(b);
	free_percpu(st);
	CHECK(__alloc_percpu(0, 8) == NULL);
	return check_done();
}

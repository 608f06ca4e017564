/* SPDX-License-Identifier: MIT */
/*
 * DEFINE_PER_CPU in the program: a counter incremented with this_cpu_inc
 * from 8 threads sums exactly over for_each_possible_cpu(per_cpu(...)); a
 * struct's members take this_cpu_add and this_cpu_inc; initialisers reach
 * every CPU's copy; this_cpu_write and this_cpu_read; per_cpu_ptr of a
 * variable and of a member agree; static and global variables and
 * alloc_percpu memory side by side; a pointer that is neither is reported.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#define THREADS 8
#define ITERS 300000

struct stats {
	long events;
	int small;
	short tiny;
	char flag;
};

DEFINE_PER_CPU(long, hits);
static DEFINE_PER_CPU(struct stats, st);
DEFINE_PER_CPU(int, seven) = 7;
static DEFINE_PER_CPU(long[4], arr) = {1, 2, 3, 4};
DEFINE_PER_CPU(void *, where);
static long *dyn;   /* alloc_percpu, beside the static ones */
static long plain;  /* not per-CPU */

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		this_cpu_inc(hits);
		this_cpu_add(st.events, 2);
		this_cpu_inc(st.small);
		this_cpu_dec(st.tiny);
		this_cpu_sub(arr[2], 1);
		this_cpu_inc(*dyn);
		if ((i & 4095) == 0)
			sched_yield();
	}
	return NULL;
}

static int bad_this_cpu_inc(void *arg)
{
	(void)arg;
	this_cpu_inc(plain);
	return 0;
}

static int bad_cpu_index(void *arg)
{
	(void)arg;
	return per_cpu_ptr(&hits, nr_cpu_ids) != NULL;
}

int main(void)
{
	unsigned ncpu = nr_cpu_ids;
	int cpu;
	dyn = alloc_percpu(long);
	CHECK(dyn != NULL);
	if (!dyn)
		return check_done();

	/* Every copy starts from the template, and copies are distinct. */
	for_each_possible_cpu(cpu) {
		CHECKF(per_cpu(hits, cpu) == 0 && per_cpu(seven, cpu) == 7, "cpu %d", cpu);
		CHECK(per_cpu(arr, cpu)[0] == 1 && per_cpu(arr, cpu)[3] == 4);
		CHECK(per_cpu(st, cpu).events == 0 && per_cpu(where, cpu) == NULL);
		CHECK((void *)per_cpu_ptr(&hits, cpu) != (void *)&hits);
		CHECK((char *)per_cpu_ptr(&st.small, cpu) ==
		      (char *)per_cpu_ptr(&st, cpu) + offsetof(struct stats, small));
		CHECK(&per_cpu(arr, cpu)[2] == per_cpu_ptr(&arr[2], cpu));
		if (cpu > 0)
			CHECK(per_cpu_ptr(&seven, cpu) != per_cpu_ptr(&seven, cpu - 1));
	}
	/* A write to one copy stays in it; the template is not a copy. */
	per_cpu(seven, ncpu - 1) = 70;
	CHECK(per_cpu(seven, 0) == (ncpu > 1 ? 7 : 70) && seven == 7);

	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	long sum = 0, events = 0, small = 0, tiny = 0, a2 = 0, d = 0;
	for_each_possible_cpu(cpu) {
		sum += per_cpu(hits, cpu);
		events += per_cpu(st, cpu).events;
		small += per_cpu(st.small, cpu);
		tiny += per_cpu_ptr(&st, cpu)->tiny;
		a2 += per_cpu(arr, cpu)[2];
		d += *per_cpu_ptr(dyn, cpu);
	}
	long n = (long)THREADS * ITERS;
	CHECKF(sum == n, "hits %ld, expected %ld", sum, n);
	CHECK(events == 2 * n && small == n);
	/* tiny is a short: its copies wrap, their sum modulo 2^16 does not lose updates */
	CHECKF((uint16_t)tiny == (uint16_t)-n, "tiny %ld", tiny);
	CHECK(a2 == 3L * ncpu - n);
	CHECK(d == n);
	CHECK(hits == 0 && st.events == 0);
	test_msg("static_vars: %ld increments over %u CPUs", sum, ncpu);

	/* this_cpu_write and this_cpu_read, 1 to 8 bytes and a pointer: the
	 * value lands in exactly one copy (the thread may migrate between the
	 * calls, so the read is checked on the copy it names).  tiny's copies
	 * hold what the workers left: cleared first. */
	for_each_possible_cpu(cpu)
		per_cpu(st.tiny, cpu) = 0;
	this_cpu_write(st.flag, 5);
	this_cpu_write(st.tiny, 1234);
	this_cpu_write(seven, -3);
	this_cpu_write(hits, 1L << 40);
	this_cpu_write(where, &plain);
	int flags = 0, tinies = 0, sevens = 0, bigs = 0, wheres = 0;
	for_each_possible_cpu(cpu) {
		flags += per_cpu(st, cpu).flag == 5;
		tinies += per_cpu(st, cpu).tiny == 1234;
		sevens += per_cpu(seven, cpu) == -3;
		bigs += per_cpu(hits, cpu) == 1L << 40;
		wheres += per_cpu(where, cpu) == &plain;
	}
	CHECK(flags == 1 && tinies == 1 && sevens == 1 && bigs == 1 && wheres == 1);
	int c = get_cpu();
	CHECK(c >= 0 && (unsigned)c < ncpu && smp_processor_id() == c);
	this_cpu_ptr(&seven)[0] = 99;
	CHECK(this_cpu_read(seven) == 99 && per_cpu(seven, c) == 99);
	CHECK(this_cpu_ptr(&st) == per_cpu_ptr(&st, c) && this_cpu_ptr(dyn) == per_cpu_ptr(dyn, c));
	put_cpu();

	/* Neither alloc_percpu memory nor a per-CPU variable: reported. */
	struct child_result r;
	run_child(bad_this_cpu_inc, NULL, 10000, &r);
	CHECK(child_aborted(&r) && report_names(&r, &plain));
	CHECK(contains(r.err, "this_cpu_add"));
	run_child(bad_cpu_index, NULL, 10000, &r);
	CHECK(child_aborted(&r) && contains(r.err, "per_cpu_ptr"));
	free_percpu(dyn);
	return check_done();
}

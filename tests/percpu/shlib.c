/* SPDX-License-Identifier: MIT */
/*
 * DEFINE_PER_CPU in shared libraries.  The program links a library
 * (shlib_lib.c) that defines per-CPU variables and declares them in its
 * header, and defines one of its own; 8 threads increment the library's
 * variables from the program (this_cpu_inc) and from the library (lib_hit):
 * both see the same copies, and the sums are exact on both sides.  Then a
 * library loaded with dlopen (argv[1], shlib_dl.c): its initialisers reach
 * every copy, the program reaches its variables through dlsym, and after
 * dlclose a second dlopen starts again from the templates.
 *
 * Built as a position-independent program: a plain `extern` would make the
 * linker copy the library's variables into it (a copy relocation), out of
 * the library's section; DECLARE_PER_CPU's weak declaration prevents that.
 * The program also writes to stderr directly, which a declaration that
 * forbade copy relocations in the whole program would break.
 */
#define _GNU_SOURCE
#include "ktest.h"
#include "shlib_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#define THREADS 8
#define ITERS 200000

DEFINE_PER_CPU(long, prog_hits);

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		this_cpu_inc(lib_hits);
		this_cpu_inc(prog_hits);
		this_cpu_add(lib_stats.calls, 1);
		lib_hit();
		if ((i & 4095) == 0)
			sched_yield();
	}
	return NULL;
}

static void dl_round(const char *path, int round, void **addr)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECKF(h != NULL, "dlopen %s: %s", path, dlerror());
	if (!h)
		return;
	long (*add)(long);
	char *(*name_of)(int);
	*(void **)&add = dlsym(h, "dl_add");  /* POSIX's way past ISO C's function pointers */
	*(void **)&name_of = dlsym(h, "dl_name_of");
	char (*name)[64] = dlsym(h, "dl_name");
	CHECK(add && name_of && name);
	if (!add || !name_of || !name)
		return;
	long n = nr_cpu_ids;
	CHECKF(add(0) == 100 * n, "round %d: %ld", round, add(0));
	CHECK(add(5) == 100 * n + 5);
	int cpu;
	for_each_possible_cpu(cpu) {
		CHECKF(strcmp(name_of(cpu), "dl") == 0, "round %d cpu %d: %s", round, cpu, name_of(cpu));
		CHECK(per_cpu_ptr(name, cpu) == (char (*)[64])name_of(cpu));
		CHECK(per_cpu(*name, cpu) == name_of(cpu));
	}
	/* Changed copies must not survive dlclose into the next dlopen. */
	for_each_possible_cpu(cpu)
		strcpy(per_cpu(*name, cpu), "changed");
	add(1000);
	if (round == 0)
		*addr = name;
	else
		test_msg("shlib: the second dlopen put its variables %s",
		         *addr == (void *)name ? "at the same address" : "elsewhere");
	dlclose(h);
}

int main(int argc, char **argv)
{
	/* the C library's data, by direct reference (a copy relocation) */
	fprintf(stderr, "percpu-shlib: stderr reachable\n");
	fflush(stderr);
	CHECK(argc == 2);
	int cpu;
	/* The library's variables, seen from the program and from the library. */
	CHECK(&lib_hits == lib_hits_addr());
	for_each_possible_cpu(cpu) {
		CHECK(per_cpu_ptr(&lib_hits, cpu) == lib_hits_ptr(cpu));
		CHECK(per_cpu(lib_stats, cpu).mark == 5 && per_cpu(lib_stats, cpu).calls == 0);
		CHECK(lib_static_of(cpu) == 11);
		CHECK((void *)per_cpu_ptr(&prog_hits, cpu) != (void *)per_cpu_ptr(&lib_hits, cpu));
	}
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	long n = (long)THREADS * ITERS, hits = 0, calls = 0, prog = 0;
	for_each_possible_cpu(cpu) {
		hits += per_cpu(lib_hits, cpu);
		calls += per_cpu(lib_stats.calls, cpu);
		prog += per_cpu(prog_hits, cpu);
		CHECK(lib_static_of(cpu) == 11);
	}
	CHECKF(hits == 2 * n && lib_hits_sum() == 2 * n, "program %ld, library %ld, expected %ld", hits,
	       lib_hits_sum(), 2 * n);
	CHECK(calls == 2 * n && lib_calls_sum() == 2 * n);
	CHECK(prog == n);

	void *first = NULL;
	dl_round(argv[1], 0, &first);
	dl_round(argv[1], 1, &first);
	return check_done();
}

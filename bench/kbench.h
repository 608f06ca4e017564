/* SPDX-License-Identifier: MIT */
/*
 * kbench.h - Google Benchmark, driven from C.
 *
 * Benchmarks are C functions taking a kb_state; each binary defines a table
 * kb_benchmarks[] (ended by a NULL name) and shim.cc registers every entry
 * with benchmark::RegisterBenchmark and runs them with the usual
 * --benchmark_* flags.
 */
#ifndef KBENCH_H
#define KBENCH_H
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kb_state kb_state;
typedef void (*kb_fn)(kb_state *st);

struct kb_def {
	const char *name;
	kb_fn fn;
	long arg;        /* kb_arg(); -1: none */
	int threads;     /* 0 or 1: single thread */
};

extern const struct kb_def kb_benchmarks[];

bool kb_keep_running(kb_state *st);
long kb_arg(kb_state *st);
int kb_thread_index(kb_state *st);
void kb_set_items(kb_state *st, long items);
void kb_pause(kb_state *st);
void kb_resume(kb_state *st);

/* Keeps the compiler from removing an allocation whose result is unused. */
static inline void kb_keep(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

#ifdef __cplusplus
}
#endif
#endif

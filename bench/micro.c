/* SPDX-License-Identifier: MIT */
/*
 * Micro-benchmarks of the malloc API.  The binary uses plain malloc/free,
 * so it measures whatever allocator is preloaded (bench.sh runs it under
 * each one).
 */
#define _GNU_SOURCE
#include "kbench.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* malloc(n) + free, the same size every time */
static void pair(kb_state *st)
{
	size_t n = (size_t)kb_arg(st);
	long it = 0;
	while (kb_keep_running(st)) {
		void *p = malloc(n);
		kb_keep(p);
		free(p);
		it++;
	}
	kb_set_items(st, it);
}

/* 64-byte blocks, N = 1000 at a time: allocate all, free all (in order) */
static void batch(kb_state *st, bool shuffled)
{
	enum { N = 1000 };
	static void *v[N];
	static unsigned order[N];
	uint64_t s = 99;
	for (unsigned i = 0; i < N; i++)
		order[i] = i;
	for (unsigned i = N - 1; shuffled && i > 0; i--) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		unsigned j = (unsigned)(s % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	long it = 0;
	while (kb_keep_running(st)) {
		for (unsigned i = 0; i < N; i++)
			v[i] = malloc(64);
		for (unsigned i = 0; i < N; i++)
			free(v[order[i]]);
		it += N;
	}
	kb_set_items(st, it);
}
static void batch_inorder(kb_state *st) { batch(st, false); }
static void batch_shuffled(kb_state *st) { batch(st, true); }

static void calloc_free(kb_state *st)
{
	size_t n = (size_t)kb_arg(st);
	long it = 0;
	while (kb_keep_running(st)) {
		void *p = calloc(1, n);
		kb_keep(p);
		free(p);
		it++;
	}
	kb_set_items(st, it);
}

/* realloc growth, small: 16 bytes to 4 KiB in 16-byte steps */
static void realloc_small(kb_state *st)
{
	long it = 0;
	while (kb_keep_running(st)) {
		char *p = NULL;
		for (size_t n = 16; n <= 4096; n += 16) {
			p = realloc(p, n);
			p[n - 1] = 1;
		}
		free(p);
		it += 256;
	}
	kb_set_items(st, it);
}

/* realloc growth, huge: 8 MiB to 256 MiB by doubling (pages untouched) */
static void realloc_huge(kb_state *st)
{
	long it = 0;
	while (kb_keep_running(st)) {
		char *p = malloc(8u << 20);
		p[0] = 1;
		for (size_t n = 16u << 20; n <= (256u << 20); n *= 2) {
			p = realloc(p, n);
			kb_keep(p);
		}
		free(p);
		it += 5;
	}
	kb_set_items(st, it);
}

static void aligned(kb_state *st)
{
	size_t align = (size_t)kb_arg(st);
	long it = 0;
	while (kb_keep_running(st)) {
		void *p;
		if (posix_memalign(&p, align, align + 100) == 0)
			free(p);
		it++;
	}
	kb_set_items(st, it);
}

/* Hand-off: thread 0 mallocs 64-byte blocks, thread 1 frees them. */
#define RING 256
static void *ring[RING];
static _Atomic unsigned long ring_head, ring_tail;

static void handoff(kb_state *st)
{
	long it = 0;
	if (kb_thread_index(st) == 0) {
		while (kb_keep_running(st)) {
			void *p = malloc(64);
			unsigned long h = atomic_load_explicit(&ring_head, memory_order_relaxed);
			while (h - atomic_load_explicit(&ring_tail, memory_order_acquire) >= RING)
				;
			ring[h % RING] = p;
			atomic_store_explicit(&ring_head, h + 1, memory_order_release);
			it++;
		}
	} else {
		while (kb_keep_running(st)) {
			unsigned long t = atomic_load_explicit(&ring_tail, memory_order_relaxed);
			while (atomic_load_explicit(&ring_head, memory_order_acquire) == t)
				;
			void *p = ring[t % RING];
			atomic_store_explicit(&ring_tail, t + 1, memory_order_release);
			free(p);
			it++;
		}
	}
	kb_set_items(st, it);
}

const struct kb_def kb_benchmarks[] = {
	{ "pair", pair, 16, 0 },
	{ "pair", pair, 32, 0 },
	{ "pair", pair, 64, 0 },
	{ "pair", pair, 128, 0 },
	{ "pair", pair, 256, 0 },
	{ "pair", pair, 512, 0 },
	{ "pair", pair, 1024, 0 },
	{ "pair", pair, 4096, 0 },
	{ "pair", pair, 16384, 0 },
	{ "pair", pair, 65536, 0 },
	{ "pair", pair, 1 << 20, 0 },
	{ "batch_inorder", batch_inorder, -1, 0 },
	{ "batch_shuffled", batch_shuffled, -1, 0 },
	{ "calloc", calloc_free, 64, 0 },
	{ "calloc", calloc_free, 4096, 0 },
	{ "calloc", calloc_free, 1 << 20, 0 },
	{ "realloc_small", realloc_small, -1, 0 },
	{ "realloc_huge", realloc_huge, -1, 0 },
	{ "posix_memalign", aligned, 64, 0 },
	{ "posix_memalign", aligned, 4096, 0 },
	{ "handoff", handoff, -1, 2 },
	{ NULL, NULL, 0, 0 },
};

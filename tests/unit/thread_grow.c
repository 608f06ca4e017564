/* SPDX-License-Identifier: MIT */
/*
 * thread_grow: the per-thread mode's adaptive capacity (front_thread.c,
 * kfront_thread_grow).  Run with KALLOC_RSEQ=0 (the program re-runs itself
 * so where rseq is the default):
 *   - a thread that allocates 3,000 64-byte blocks and frees them all, four
 *     times, grows its kmalloc-64 stack above the base capacity
 *     (kfront_thread_cap), never above the slots reserved (kfront_cap);
 *   - a thread that only allocates a class (a producer's) and one that only
 *     frees it (a consumer's) keep the base capacity;
 *   - the growth of all its stacks stays within KFRONT_THREAD_GROW_BYTES of
 *     object bytes, however many classes miss (eight classes churned);
 *   - malloc_trim flushes the stacks back to their base capacity and the
 *     thread's growth to 0;
 *   - a new thread starts at the base capacity.
 */
#include "internal.h"
#include "ktest.h"

#include <pthread.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#define N 3000

static void *blocks[N];

static unsigned cap_of(size_t size)
{
	unsigned idx = kmalloc_index(size);
	return kfront_hdr_cap(kfront_hdr((unsigned)kfront_thr.slot, idx));
}

static void churn(size_t size, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < N; i++)
			blocks[i] = malloc(size);
		for (int i = 0; i < N; i++)
			free(blocks[i]);
	}
}

static void *producer(void *arg)
{
	struct { void **v; unsigned cap; } *pr = arg;
	for (int i = 0; i < N; i++)
		pr->v[i] = malloc(128);
	pr->cap = cap_of(128);
	return NULL;
}

static void *new_thread(void *arg)
{
	unsigned *out = arg;
	free(malloc(64));
	out[0] = kfront_thr.state == KT_LIVE ? cap_of(64) : 0;
	out[1] = kfront_thr.grown;
	return NULL;
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!getenv("KALLOC_RSEQ") || strcmp(getenv("KALLOC_RSEQ"), "0") != 0) {
		setenv("KALLOC_RSEQ", "0", 1);
		execv("/proc/self/exe", argv);
		test_msg("thread_grow: cannot re-run with KALLOC_RSEQ=0");
		return 1;
	}
	free(malloc(64));
	CHECKF(kfront_mode == KF_THREAD && kfront_thr.state == KT_LIVE, "not in per-thread mode with a region (mode %s)",
	       kfront_mode_name());
	if (kfront_mode != KF_THREAD || kfront_thr.state != KT_LIVE)
		return check_done();
	unsigned idx = kmalloc_index(64), base = kfront_thread_cap[idx], max = kfront_cap[idx];
	CHECKF(base < max, "kmalloc-64: base %u, reserved %u: nothing to grow into", base, max);
	unsigned before = cap_of(64);
	churn(64, 4);
	unsigned grown = cap_of(64);
	test_msg("thread_grow: kmalloc-64 capacity %u -> %u (base %u, reserved %u), %u bytes grown", before, grown, base,
	         max, kfront_thr.grown);
	CHECKF(before == base, "a new thread's kmalloc-64 capacity is %u, not the base %u", before, base);
	CHECKF(grown > base && grown <= max, "after churning 3,000 blocks the capacity is %u (base %u, reserved %u)",
	       grown, base, max);

	static const size_t sizes[] = { 16, 32, 48, 80, 96, 128, 256, 512 };
	for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++)
		churn(sizes[k], 4);
	size_t extra = 0;
	for (unsigned i = 0; i < KFRONT_CLASSES; i++) {
		if (!kfront_cache[i] || kfront_cache[i]->pages)
			continue;
		unsigned cap = kfront_hdr_cap(kfront_hdr((unsigned)kfront_thr.slot, i));
		CHECKF(cap <= kfront_cap[i], "class %u: capacity %u above the %u slots reserved", i, cap, kfront_cap[i]);
		if (cap > kfront_thread_cap[i])
			extra += (size_t)(cap - kfront_thread_cap[i]) * kfront_cache[i]->size;
	}
	test_msg("thread_grow: after nine classes churned, %zu bytes of capacity above the base (%u counted)", extra,
	         kfront_thr.grown);
	CHECKF(extra <= KFRONT_THREAD_GROW_BYTES, "the stacks grew by %zu bytes, above the budget of %u", extra,
	       (unsigned)KFRONT_THREAD_GROW_BYTES);
	CHECKF(extra == kfront_thr.grown, "the thread counts %u bytes grown, its stacks hold %zu", kfront_thr.grown,
	       extra);

	malloc_trim(0);
	CHECKF(cap_of(64) == base, "after malloc_trim kmalloc-64's capacity is %u, not the base %u", cap_of(64), base);
	CHECKF(kfront_thr.grown == 0, "after malloc_trim the thread still counts %u bytes grown", kfront_thr.grown);

	/* One direction only: 3,000 blocks allocated by one thread and freed by
	 * another (this one, which never allocates kmalloc-128 again). */
	{
		unsigned i128 = kmalloc_index(128);
		static void *keep[N];
		pthread_t p;
		struct { void **v; unsigned cap; } pr = { keep, 0 };
		CHECK(pthread_create(&p, NULL, producer, &pr) == 0);
		pthread_join(p, NULL);
		for (int i = 0; i < N; i++)
			free(keep[i]);
		unsigned mine = kfront_hdr_cap(kfront_hdr((unsigned)kfront_thr.slot, i128));
		test_msg("thread_grow: kmalloc-128 producer capacity %u, consumer %u (base %u)", pr.cap, mine,
		         kfront_thread_cap[i128]);
		CHECKF(pr.cap == kfront_thread_cap[i128], "a producer's stack grew to %u (base %u)", pr.cap,
		       kfront_thread_cap[i128]);
		CHECKF(mine == kfront_thread_cap[i128], "a consumer's stack grew to %u (base %u)", mine,
		       kfront_thread_cap[i128]);
	}

	unsigned out[2] = { 0, 1 };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, new_thread, out) == 0);
	pthread_join(t, NULL);
	CHECKF(out[0] == base && out[1] == 0, "a new thread starts at capacity %u with %u bytes grown (base %u)", out[0],
	       out[1], base);
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * front_view: the views the front-cache fast paths read (internal.h).
 *   - kfront_thr.none is -1 in every thread, and a new thread's slot is -1
 *     until it is given a region;
 *   - a view whose index word is -1 and whose region -1 has zeroed headers
 *     (the sentinel) makes every pop return NULL and every push fail, and
 *     writes nothing to that region;
 *   - the same instructions on a view that names a region of this test's
 *     own (index word kfront_thr.slot, set by hand) push and pop in LIFO
 *     order, stop at the stack's end and begin, and refuse an object that is
 *     already on top; free's push (kpcpu_push_fresh) names the stack by
 *     index + KPCPU_FRESH_BIAS and takes an object already on top;
 *   - after initialisation the fast paths' view (kpcpu) is the slow paths'
 *     one (kpcpu_slow) unless KALLOC_STATS counts, region -1 of the live
 *     base has zeroed headers, and in per-thread mode a freed block is the
 *     next one malloc returns.
 * The programs run with and without KALLOC_RSEQ=0.
 */
#include "internal.h"
#include "ktest.h"

#include <stdlib.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>

#define IDX 3
#define BEGIN (KPCPU_HDR_WORDS + 4)   /* first slot, past the headers */
#define CAP 5

static void *thread_ids(void *arg)
{
	int *out = arg;
	out[0] = kfront_thr.none;
	out[1] = kfront_thr.slot;
	return NULL;
}

static void tls_words(void)
{
	CHECK(kfront_thr.none == -1);
	int got[2] = { 0, 0 };
	pthread_t t;
	/* pthread_create itself may allocate in this thread, never in the new one
	 * before it runs thread_ids. */
	CHECK(pthread_create(&t, NULL, thread_ids, got) == 0);
	pthread_join(t, NULL);
	CHECKF(got[0] == -1, "new thread's none = %d", got[0]);
	CHECKF(got[1] == -1, "new thread's slot = %d before any allocation", got[1]);
}

/* Two regions (-1 and 0) of our own. */
static char *own_regions(void)
{
	char *m = mmap(NULL, 2 * KPCPU_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	return m == MAP_FAILED ? NULL : m + KPCPU_REGION;
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void sentinel(char *base)
{
	struct kpcpu_view v = {
		.cid_rel = offsetof(struct kfront_thread, none),
		.cs_rel = offsetof(struct kfront_thread, cs),
		.base = base,
	};
	int x;
	for (size_t i = 0; i < KFRONT_NR; i++) {
		CHECKF(kpcpu_pop(&v, i) == NULL, "pop of index %zu on the sentinel", i);
		CHECKF(!kpcpu_push(&v, i, &x), "push of index %zu on the sentinel", i);
		CHECKF(!kpcpu_push_fresh(&v, i + KPCPU_FRESH_BIAS, &x), "fresh push of index %zu on the sentinel", i);
	}
	CHECK(all_zero(base - KPCPU_REGION, KPCPU_REGION));
	CHECK(all_zero(base, KPCPU_REGION));
}

static void own_stack(char *base)
{
	/* This thread's slot is borrowed for the test: keep the real one. */
	int32_t saved = kfront_thr.slot;
	kfront_thr.slot = 0;
	struct kpcpu_view v = {
		.cid_rel = offsetof(struct kfront_thread, slot),
		.cs_rel = offsetof(struct kfront_thread, cs),
		.base = base,
	};
	uint16_t *h = (uint16_t *)(void *)(base + IDX * 8);
	h[0] = BEGIN;         /* current */
	h[1] = BEGIN;         /* begin */
	h[2] = BEGIN + CAP;   /* end */
	void **slots = (void **)(void *)base;
	int objs[CAP + 1];
	CHECK(kpcpu_pop(&v, IDX) == NULL);
	for (int i = 0; i < CAP; i++) {
		CHECKF(kpcpu_push(&v, IDX, &objs[i]), "push %d", i);
		CHECKF(!kpcpu_push(&v, IDX, &objs[i]), "push %d again (on top)", i);
	}
	CHECK(h[0] == BEGIN + CAP);
	CHECK(!kpcpu_push(&v, IDX, &objs[CAP]));   /* full */
	for (int i = 0; i < CAP; i++)
		CHECK(slots[BEGIN + i] == &objs[i]);
	for (int i = CAP - 1; i >= 0; i--)
		CHECKF(kpcpu_pop(&v, IDX) == &objs[i], "pop %d", i);
	CHECK(kpcpu_pop(&v, IDX) == NULL);
	CHECK(h[0] == BEGIN);
	/* free's push: the stack named by index + KPCPU_FRESH_BIAS, and no
	 * test of the top object (its caller's free tag stands for it) */
	for (int i = 0; i < CAP; i++)
		CHECKF(kpcpu_push_fresh(&v, IDX + KPCPU_FRESH_BIAS, &objs[i / 2]), "fresh push %d", i);
	CHECK(h[0] == BEGIN + CAP);
	CHECK(!kpcpu_push_fresh(&v, IDX + KPCPU_FRESH_BIAS, &objs[CAP]));   /* full */
	for (int i = CAP - 1; i >= 0; i--)
		CHECKF(kpcpu_pop(&v, IDX) == &objs[i / 2], "pop %d after fresh pushes", i);
	CHECK(h[0] == BEGIN);
	/* other headers untouched */
	for (unsigned i = 0; i < KFRONT_NR; i++)
		if (i != IDX)
			CHECKF(((uint64_t *)(void *)base)[i] == 0, "header %u written", i);
	/* region -1 untouched */
	CHECK(all_zero(base - KPCPU_REGION, KPCPU_REGION));
	kfront_thr.slot = saved;
}

static void live_views(void)
{
	const char *st = getenv("KALLOC_STATS");
	int counting = st && *st && strcmp(st, "0") != 0;
	if (counting) {
		CHECK(kpcpu.cid_rel == (intptr_t)offsetof(struct kfront_thread, none));
	} else {
		CHECK(kpcpu.base == kpcpu_slow.base);
		CHECK(kpcpu.cs_rel == kpcpu_slow.cs_rel);
		CHECK(kpcpu.cid_rel == kpcpu_slow.cid_rel);
	}
	CHECK(all_zero(kpcpu_slow.base - KPCPU_REGION, KFRONT_NR * 8));
	/* The live view serves the fast paths: in per-thread mode (no
	 * migration to take the thread to another stack) a freed block is the
	 * next one handed out. */
	void *p = malloc(24);
	CHECK(p != NULL);
	free(p);
	void *q = malloc(24);
	if (kfront_mode == KF_THREAD)
		CHECK(q == p);
	free(q);
}

int main(void)
{
	tls_words();
	void *first = malloc(1);   /* initialises */
	CHECK(first != NULL);
	free(first);
	char *base = own_regions();
	if (base) {
		sentinel(base);
		own_stack(base);
	}
	live_views();
	return check_done();
}

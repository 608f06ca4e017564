/* SPDX-License-Identifier: MIT */
/*
 * kmem_cache_destroy of a cache whose objects were freed on several CPUs
 * (and so sit in several per-CPU caches) must drain them all and succeed;
 * while some object is still live it must refuse.  Also checks that
 * KALLOC_STATS reports the front cache mode that is expected
 * (KALLOC_EXPECT_MODE=rseq|per-thread, checked in a child).
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <kalloc.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define PER 3000

static struct kmem_cache *cache;
static void *objs[THREADS][PER];

static void *alloc_some(void *arg)
{
	int id = (int)(size_t)arg;
	for (int i = 0; i < PER; i++) {
		objs[id][i] = kmem_cache_alloc(cache, GFP_KERNEL);
		memset(objs[id][i], id, 48);
	}
	return NULL;
}

static void *free_some(void *arg)
{
	int id = (int)(size_t)arg;
	/* free another thread's objects */
	for (int i = 0; i < PER; i++)
		kmem_cache_free(cache, objs[(id + 1) % THREADS][i]);
	return NULL;
}

int main(void)
{
	cache = kmem_cache_create("drain_test", 48, 0, 0, NULL);
	CHECK(cache != NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, alloc_some, (void *)(size_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	void *keep = objs[0][0];
	objs[0][0] = kmem_cache_alloc(cache, GFP_KERNEL);   /* swap in a fresh one */
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, free_some, (void *)(size_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	/* one object still live: destroy refuses and the cache keeps working */
	int saved = dup(2);
	int devnull = open("/dev/null", 1);
	dup2(devnull, 2);
	int rc = kmem_cache_destroy(cache);
	dup2(saved, 2);
	CHECK(rc != 0);
	void *x = kmem_cache_alloc(cache, GFP_KERNEL);
	CHECK(x != NULL);
	kmem_cache_free(cache, x);
	kmem_cache_free(cache, keep);
	CHECK(kmem_cache_destroy(cache) == 0);

	const char *want = getenv("KALLOC_EXPECT_MODE");
	if (want) {
		static char buf[65536];
		stats_text(kalloc_stats_print, buf, sizeof buf);
		char line[128];
		snprintf(line, sizeof line, "front caches: %s", want);
		CHECK(strstr(buf, line) != NULL);
		if (!strstr(buf, line))
			fprintf(stderr, "expected \"%s\" in:\n%.400s\n", line, buf);
	}
	return check_done();
}

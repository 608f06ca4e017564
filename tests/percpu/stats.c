/* SPDX-License-Identifier: MIT */
/*
 * KALLOC_STATS: with it set, every malloc and free of a front-cached class
 * goes through the counting slow path, so the report's per-class counts
 * cover every call the program made, and a churn loop (malloc then free of
 * one size) hits the front cache nearly every time.  Without it the fast
 * paths count nothing and the report shows fills only.  Checked on the
 * main thread and on 4 threads at once, in whichever mode the run selects
 * (KALLOC_EXPECT_MODE).
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <kalloc.h>

#include <pthread.h>

#define THREADS 4
#define ROUNDS 50000

/* 40 bytes: kmalloc-48, which the runtime itself hardly uses.  The
 * pointer goes through a volatile so the compiler keeps every call. */
static void *churn(void *arg)
{
	(void)arg;
	void *keep[8];
	for (int i = 0; i < 8; i++)
		keep[i] = malloc(40);
	for (int r = 0; r < ROUNDS; r++) {
		void *volatile p = malloc(40);
		memset(p, r, 40);
		free(p);
	}
	for (int i = 0; i < 8; i++)
		free(keep[i]);
	return NULL;
}

/* Parses "front cache NAME: ... alloc A hit H.h%, free F hit G.g%". */
static int class_counts(const char *text, const char *name, unsigned long *a, double *ah, unsigned long *f, double *fh)
{
	char key[64];
	snprintf(key, sizeof key, "front cache %s:", name);
	const char *line = strstr(text, key);
	if (!line)
		return -1;
	const char *c = strstr(line, ", alloc ");
	const char *eol = strchr(line, '\n');
	if (!c || (eol && c > eol))
		return 0;
	unsigned long ai, ad, fi, fd;
	if (sscanf(c, ", alloc %lu hit %lu.%lu%%, free %lu hit %lu.%lu%%", a, &ai, &ad, f, &fi, &fd) != 6)
		return -1;
	*ah = (double)ai + (double)ad / 10;
	*fh = (double)fi + (double)fd / 10;
	return 1;
}

int main(void)
{
	const char *st = getenv("KALLOC_STATS");
	int counting = st && *st && strcmp(st, "0") != 0;

	churn(NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	static char text[65536];
	stats_text(kalloc_stats_print, text, sizeof text);
	const char *want = getenv("KALLOC_EXPECT_MODE");
	if (want) {
		char line[128];
		snprintf(line, sizeof line, "front caches: %s", want);
		CHECK(strstr(text, line) != NULL);
	}

	unsigned long a = 0, f = 0;
	double ah = 0, fh = 0;
	int got = class_counts(text, "kmalloc-48", &a, &ah, &f, &fh);
	unsigned long calls = (unsigned long)(THREADS + 1) * (ROUNDS + 8);
	if (counting) {
		CHECK(got == 1);
		CHECK(a >= calls);
		CHECK(f >= calls);
		CHECK(ah >= 90.0);
		CHECK(fh >= 90.0);
	} else {
		/* no counts: the fast paths ran uncounted */
		CHECK(got != 1);
	}
	if (check_failures)
		fprintf(stderr, "KALLOC_STATS=%s: kmalloc-48 alloc %lu hit %.1f%%, free %lu hit %.1f%% (calls %lu); report:\n%.2000s\n",
		        st ? st : "(unset)", a, ah, f, fh, calls, text);
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * pageprotect: what it would cost to make freed page blocks (33 KiB to
 * 4 MiB) inaccessible, as freed huge areas are: an mprotect(PROT_NONE) per
 * free and an mprotect(PROT_READ | PROT_WRITE) per reuse, added by hand
 * around the allocator's malloc and free (run it under the preload
 * library).  For each size: 8 live blocks replaced at random, every page
 * of a new block written (as the pageblocks workload does), nanoseconds per
 * replacement without and with the two calls, in one run; then the
 * mappings (/proc/self/maps lines) after 2,000 blocks of 64 KiB are
 * allocated and every other one is freed, without and with the protection.
 *
 *   LD_PRELOAD=build/libkalloc-preload.so build/bench/pageprotect
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LIVE 8
#define PAGE 4096

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void touch(char *p, size_t n)
{
	for (size_t i = 0; i < n; i += PAGE)
		p[i] = (char)i;
}

static double run(size_t size, long iters, int protect)
{
	char *live[LIVE];
	for (int i = 0; i < LIVE; i++) {
		live[i] = malloc(size);
		touch(live[i], size);
	}
	double t0 = now_ns();
	for (long k = 0; k < iters; k++) {
		int i = (int)(next() % LIVE);
		if (protect)
			mprotect(live[i], size, PROT_NONE);
		free(live[i]);
		live[i] = malloc(size);
		if (protect)
			mprotect(live[i], size, PROT_READ | PROT_WRITE);
		touch(live[i], size);
	}
	double t = (now_ns() - t0) / (double)iters;
	for (int i = 0; i < LIVE; i++)
		free(live[i]);
	return t;
}

static int maps_lines(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int maps_after_frees(int protect)
{
	enum { N = 2000 };
	static char *p[N];
	for (int i = 0; i < N; i++)
		p[i] = malloc(64 << 10);
	for (int i = 0; i < N; i += 2) {
		if (protect)
			mprotect(p[i], 64 << 10, PROT_NONE);
		free(p[i]);
	}
	int n = maps_lines();
	for (int i = 0; i < N; i += 2)
		if (protect)
			mprotect(p[i], 64 << 10, PROT_READ | PROT_WRITE);
	for (int i = 0; i < N; i++)
		if (i % 2)
			free(p[i]);
	return n;
}

int main(void)
{
	static const size_t sizes[] = { 40 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20 };
	printf("%10s %12s %12s %8s\n", "size", "plain ns", "mprotect ns", "ratio");
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		long iters = (long)((2UL << 30) / sizes[s]);
		if (iters > 200000)
			iters = 200000;
		run(sizes[s], iters / 4, 0);   /* warm up */
		double a = 0, b = 0;
		for (int r = 0; r < 3; r++) {   /* interleaved */
			a += run(sizes[s], iters, 0);
			b += run(sizes[s], iters, 1);
		}
		printf("%10zu %12.0f %12.0f %8.2f\n", sizes[s], a / 3, b / 3, b / a);
	}
	int base = maps_lines();
	printf("mappings: %d at start, %d with 1,000 of 2,000 64 KiB blocks freed, %d with them protected\n", base,
	       maps_after_frees(0), maps_after_frees(1));
	return 0;
}

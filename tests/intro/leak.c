/* SPDX-License-Identifier: MIT */
/*
 * A program that leaks from one call site, for check_prof.py.
 * leak_from_here() leaks 4000 blocks of 2000 bytes (8,000,000 bytes);
 * churn_site() allocates 64 MiB in blocks of 64 to 4000 bytes, writes and
 * frees every one, so it must not appear in the live profile; grow_site()
 * grows blocks with realloc and frees them (sampled blocks moved and
 * resized must leave the profile too); calloc_site() leaks 1000 zeroed
 * blocks of 1000 bytes through calloc, checking they read as zero.
 * Built with -fno-builtin-malloc and friends, without inlining or sibling
 * calls, so each site is a frame of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *leak_from_here(size_t n);
void churn_site(void);
void grow_site(void);
int calloc_site(void);

static void *volatile sink;

void *leak_from_here(size_t n)
{
	void *p = malloc(n);
	memset(p, 0x5a, n);
	return p;
}

void churn_site(void)
{
	size_t total = 0;
	for (unsigned i = 0; total < (64u << 20); i++) {
		size_t n = 64 + (i * 2654435761u) % 4000;
		char *p = malloc(n);
		p[0] = p[n - 1] = 1;
		sink = p;
		free(p);
		total += n;
	}
}

void grow_site(void)
{
	for (int r = 0; r < 200; r++) {
		char *p = NULL;
		for (size_t n = 16; n <= 64 << 10; n *= 2) {
			p = realloc(p, n);
			p[n - 1] = 2;
		}
		free(p);
	}
}

int calloc_site(void)
{
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		unsigned char *p = calloc(1000, 1);
		for (int k = 0; k < 1000; k++)
			bad += p[k] != 0;
		sink = p;
	}
	return bad;
}

int main(void)
{
	for (int i = 0; i < 4000; i++) {
		sink = leak_from_here(2000);
		if (i % 400 == 0) {
			churn_site();
			grow_site();
		}
	}
	int bad = calloc_site();
	if (bad)
		fprintf(stderr, "calloc_site: %d bytes not zero\n", bad);
	return bad != 0;
}

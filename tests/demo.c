/* SPDX-License-Identifier: MIT */
/*
 * demo.c - a short tour of the kernel-style API (./run.sh with no command).
 * Also run as a test: it checks what it shows and returns non-zero when
 * something is off.
 */
#include <kalloc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct point {
	double x, y;
	int tag;
};

static int ctor_calls;

static void point_ctor(void *obj)
{
	struct point *p = obj;
	p->x = p->y = 0;
	p->tag = 42;
	ctor_calls++;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
	int bad = 0;

	struct kmem_cache *c = kmem_cache_create("point", sizeof(struct point), 0, SLAB_HWCACHE_ALIGN, point_ctor);
	struct point *pts[100];
	for (int i = 0; i < 100; i++)
		pts[i] = kmem_cache_alloc(c, GFP_KERNEL);
	printf("cache %s: object size %u, 100 objects, constructor ran %d times (once per object of each new slab)\n",
	       kmem_cache_name(c), kmem_cache_size(c), ctor_calls);
	for (int i = 0; i < 100; i++) {
		bad += pts[i]->tag != 42 || ((uintptr_t)pts[i] % 32) != 0;
		kmem_cache_free(c, pts[i]);
	}
	bad += kmem_cache_destroy(c) != 0;

	struct page *pg = alloc_pages(GFP_KERNEL, 3);
	void *addr = page_address(pg);
	printf("alloc_pages(order 3): 32 KiB at %p, aligned to 32 KiB: %s, virt_to_page round trip: %s\n", addr,
	       ((uintptr_t)addr & 0x7fff) == 0 ? "yes" : "no", virt_to_page(addr) == pg ? "yes" : "no");
	bad += ((uintptr_t)addr & 0x7fff) != 0 || virt_to_page(addr) != pg;
	__free_pages(pg, 3);

	unsigned long zp = get_zeroed_page(GFP_KERNEL);
	bad += zp == 0 || ((char *)zp)[100] != 0;
	free_page(zp);

	char *s = kmalloc(100, GFP_KERNEL);
	printf("kmalloc(100): ksize %zu (the kmalloc-112 class)\n", ksize(s));
	bad += ksize(s) != 112;
	strcpy(s, "kept across krealloc");
	s = krealloc(s, 100000, GFP_KERNEL);
	printf("krealloc to 100000: ksize %zu (the kmalloc-112k page class), contents \"%s\"\n", ksize(s), s);
	bad += ksize(s) != 114688 || strcmp(s, "kept across krealloc") != 0;
	kfree(s);

	/* A huge block grows by moving page tables (mremap), not by copying. */
	size_t size = 8u << 20;
	char *big = malloc(size);
	memset(big, 7, size);
	double t0 = now();
	for (int i = 0; i < 6; i++) {
		size *= 2;
		big = realloc(big, size);
		bad += big == NULL || big[12345] != 7;
	}
	double t1 = now();
	printf("realloc 8 MiB -> %zu MiB by doubling: %.3f ms in realloc (mremap, no copy)\n", size >> 20,
	       (t1 - t0) * 1e3);
	free(big);

	fflush(stdout);
	printf("-- kalloc_stats_print --\n");
	fflush(stdout);
	kalloc_stats_print(1, KALLOC_STATS_TEXT);
	if (bad)
		fprintf(stderr, "demo: %d checks failed\n", bad);
	return bad;
}

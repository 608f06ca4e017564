/* SPDX-License-Identifier: MIT */
/*
 * example_api.c - a program using kalloc's public header only, as an
 * application would: built with `cc example_api.c $(pkg-config --cflags
 * --libs kalloc)` (tests/unit/pkgconfig.sh) and by meson against kalloc_dep.
 *
 * It uses a cache with a constructor and SLAB_HWCACHE_ALIGN, the page
 * allocator (alloc_pages, page_address, virt_to_page, __get_free_pages,
 * get_zeroed_page), kmalloc, krealloc, ksize, kzalloc, and the zones
 * (GFP_DMA32 pages, kmalloc and a SLAB_CACHE_DMA32 cache; page_zonenum),
 * and checks what it gets.  Exit status: the number of failed checks.
 */
#include <kalloc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__,      \
			        __LINE__, #cond);                             \
			failures++;                                           \
		}                                                             \
	} while (0)

struct point {
	double x, y, z;
	long generation;
	char label[40];
};

static unsigned constructed;

static void point_ctor(void *obj)
{
	struct point *p = obj;
	memset(p, 0, sizeof *p);
	p->generation = 1;
	constructed++;
}

int main(void)
{
	/* A cache of objects, cache-line aligned, constructed per slab. */
	struct kmem_cache *points = kmem_cache_create("example_point", sizeof(struct point), 0,
	                                              SLAB_HWCACHE_ALIGN, point_ctor);
	EXPECT(points != NULL);
	if (!points)
		return 1;
	EXPECT(kmem_cache_size(points) == sizeof(struct point));
	EXPECT(strcmp(kmem_cache_name(points), "example_point") == 0);
	struct point *pts[100];
	for (int i = 0; i < 100; i++) {
		pts[i] = kmem_cache_alloc(points, GFP_KERNEL);
		EXPECT(pts[i] != NULL);
		EXPECT((uintptr_t)pts[i] % 64 == 0);
		EXPECT(pts[i]->generation == 1);
		pts[i]->x = i;
	}
	EXPECT(constructed >= 100);
	unsigned after_fill = constructed;
	for (int i = 0; i < 100; i++)
		kmem_cache_free(points, pts[i]);
	struct point *again = kmem_cache_alloc(points, GFP_KERNEL);
	EXPECT(again != NULL && again->generation == 1);
	EXPECT(constructed == after_fill);   /* no constructor call per allocation */
	kmem_cache_free(points, again);
	EXPECT(kmem_cache_destroy(points) == 0);

	/* Pages. */
	struct page *pg = alloc_pages(GFP_KERNEL, 3);
	EXPECT(pg != NULL);
	char *mem = page_address(pg);
	EXPECT(mem != NULL && (uintptr_t)mem % (8 * PAGE_SIZE) == 0);
	EXPECT(virt_to_page(mem) == pg);
	EXPECT(page_address(virt_to_page(mem + 5 * PAGE_SIZE + 7)) == mem + 5 * PAGE_SIZE);
	memset(mem, 0xab, 8 * PAGE_SIZE);
	__free_pages(pg, 3);

	unsigned long addr = __get_free_pages(GFP_KERNEL, 1);
	EXPECT(addr != 0 && addr % (2 * PAGE_SIZE) == 0);
	memset((void *)addr, 1, 2 * PAGE_SIZE);
	free_pages(addr, 1);

	unsigned long zp = get_zeroed_page(GFP_KERNEL);
	EXPECT(zp != 0);
	for (size_t i = 0; zp && i < PAGE_SIZE; i++)
		if (((unsigned char *)zp)[i]) {
			EXPECT(!"get_zeroed_page is not zero");
			break;
		}
	free_page(zp);

	/* kmalloc and friends. */
	char *s = kmalloc(100, GFP_KERNEL);
	EXPECT(s != NULL && ksize(s) >= 100);
	snprintf(s, 100, "hello from kalloc");
	s = krealloc(s, 100000, GFP_KERNEL);
	EXPECT(s != NULL && ksize(s) >= 100000 && strcmp(s, "hello from kalloc") == 0);
	s = krealloc(s, 10, GFP_KERNEL);
	EXPECT(s != NULL && ksize(s) >= 10 && memcmp(s, "hello from", 10) == 0);
	kfree(s);
	int *z = kzalloc(1000 * sizeof *z, GFP_KERNEL);
	EXPECT(z != NULL);
	for (int i = 0; z && i < 1000; i++)
		if (z[i]) {
			EXPECT(!"kzalloc is not zero");
			break;
		}
	kfree(z);

	/* Zones: memory below 4 GiB, and the zone of a page. */
	struct page *low = alloc_pages(GFP_KERNEL | GFP_DMA32, 2);
	EXPECT(low != NULL && page_zonenum(low) == ZONE_DMA32);
	EXPECT(low != NULL && (uintptr_t)page_address(low) + 4 * PAGE_SIZE <= (4UL << 30));
	__free_pages(low, 2);
	char *ls = kmalloc(40, GFP_KERNEL | GFP_DMA32);
	EXPECT(ls != NULL && (uintptr_t)ls < (4UL << 30) && page_zonenum(virt_to_page(ls)) == ZONE_DMA32);
	kfree(ls);
	struct kmem_cache *lowc = kmem_cache_create("example-dma32", 72, 0, SLAB_CACHE_DMA32, NULL);
	void *lo = lowc ? kmem_cache_alloc(lowc, GFP_KERNEL) : NULL;
	EXPECT(lo != NULL && (uintptr_t)lo < (4UL << 30));
	kmem_cache_free(lowc, lo);
	EXPECT(lowc != NULL && kmem_cache_destroy(lowc) == 0);
	char *hs = kmalloc(40, GFP_HIGHUSER);
	EXPECT(hs != NULL && page_zonenum(virt_to_page(hs)) == ZONE_NORMAL);
	kfree(hs);

	/* The program's malloc is kalloc's too (libkalloc exports it). */
	void *m = malloc(64);
	EXPECT(m != NULL && virt_to_page(m) != NULL);
	free(m);

	printf("example_api: %d failure%s\n", failures, failures == 1 ? "" : "s");
	return failures;
}

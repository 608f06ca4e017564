/* SPDX-License-Identifier: MIT */
/*
 * intro-report: a scripted sequence of allocations, then every report of
 * it, for check_report.py to compare with the known state and with each
 * other:
 *   - 37 blocks of 1700 bytes held (kmalloc-1792: nothing else here asks
 *     for that size), 5 more allocated and freed;
 *   - a kmem_cache "intro-widget" of 200-byte objects: 100 allocated, 30
 *     freed (70 held);
 *   - one huge block of 9 MiB held.
 * Output, sections separated by lines "----": the JSON report (through
 * kalloc_stats_write's callback), the text report (kalloc_stats_print to
 * fd 1), malloc_info's XML, and mallinfo2's fields as "name value" lines.
 * Runs under the preload library (KALLOC_EXPECT=1), whose kalloc entry
 * points the program's calls bind to.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kalloc.h"
#include "ktest.h"

static void out(void *opaque, const char *text, size_t len)
{
	(*(int *)opaque)++;
	fwrite(text, 1, len, stdout);
}

int main(void)
{
	check_allocator();
	static void *held[37], *gone[5], *widgets[100];
	for (int i = 0; i < 37; i++)
		held[i] = malloc(1700);
	for (int i = 0; i < 5; i++)
		gone[i] = malloc(1700);
	for (int i = 0; i < 5; i++)
		free(gone[i]);
	struct kmem_cache *c = kmem_cache_create("intro-widget", 200, 0, 0, NULL);
	CHECK(c != NULL);
	for (int i = 0; i < 100; i++)
		widgets[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 30; i++)
		kmem_cache_free(c, widgets[i]);
	void *huge = malloc(9 << 20);
	CHECK(huge != NULL);

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	int calls = 0;
	kalloc_stats_write(out, &calls, KALLOC_STATS_JSON);
	CHECK(calls == 1);
	printf("----\n");
	fflush(stdout);
	kalloc_stats_print(1, KALLOC_STATS_TEXT);
	printf("----\n");
	malloc_info(0, stdout);
	printf("----\n");
	struct mallinfo2 m = mallinfo2();
	printf("arena %zu\nordblks %zu\nsmblks %zu\nhblks %zu\nhblkhd %zu\nuordblks %zu\nfsmblks %zu\nfordblks %zu\n",
	       m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.uordblks, m.fsmblks, m.fordblks);
	fflush(stdout);

	for (int i = 30; i < 100; i++)
		kmem_cache_free(c, widgets[i]);
	for (int i = 0; i < 37; i++)
		free(held[i]);
	free(huge);
	return check_done();
}

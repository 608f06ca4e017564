/* SPDX-License-Identifier: MIT */
/*
 * The kernel-style API against malloc, in one binary linked with
 * libkalloc (so malloc here is kalloc's too).
 */
#include "kbench.h"

#include <kalloc.h>
#include <stdlib.h>

static struct kmem_cache *cache64;

static void cache_pair(kb_state *st)
{
	if (!cache64)
		cache64 = kmem_cache_create("bench64", 64, 0, 0, NULL);
	long it = 0;
	while (kb_keep_running(st)) {
		void *p = kmem_cache_alloc(cache64, GFP_KERNEL);
		kb_keep(p);
		kmem_cache_free(cache64, p);
		it++;
	}
	kb_set_items(st, it);
}

static void kmalloc_pair(kb_state *st)
{
	size_t n = (size_t)kb_arg(st);
	long it = 0;
	while (kb_keep_running(st)) {
		void *p = kmalloc(n, GFP_KERNEL);
		kb_keep(p);
		kfree(p);
		it++;
	}
	kb_set_items(st, it);
}

static void malloc_pair(kb_state *st)
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

static void pages_pair(kb_state *st)
{
	unsigned order = (unsigned)kb_arg(st);
	long it = 0;
	while (kb_keep_running(st)) {
		struct page *pg = alloc_pages(GFP_KERNEL, order);
		kb_keep(pg);
		__free_pages(pg, order);
		it++;
	}
	kb_set_items(st, it);
}

const struct kb_def kb_benchmarks[] = {
	{ "kmem_cache_alloc_free", cache_pair, -1, 0 },
	{ "kmalloc_kfree", kmalloc_pair, 64, 0 },
	{ "malloc_free", malloc_pair, 64, 0 },
	{ "alloc_pages_free", pages_pair, 0, 0 },
	{ "alloc_pages_free", pages_pair, 3, 0 },
	{ "malloc_free", malloc_pair, 4096, 0 },
	{ "malloc_free", malloc_pair, 32768, 0 },
	{ NULL, NULL, 0, 0 },
};

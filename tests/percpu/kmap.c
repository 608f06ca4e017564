/* SPDX-License-Identifier: MIT */
/*
 * The kmap family, as on a 64-bit kernel where every page is mapped: for
 * pages from alloc_pages of orders 0 to 4, kmap, kmap_atomic and
 * kmap_local_page return page_address(page); data written through one
 * mapping is read through another and through page_address; the unmaps
 * evaluate their argument once and leave the pages mapped.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <stdint.h>
#include <string.h>

static int calls;

static struct page *counted(struct page *pg)
{
	calls++;
	return pg;
}

int main(void)
{
	for (unsigned order = 0; order <= 4; order++) {
		struct page *pg = alloc_pages(GFP_KERNEL, order);
		CHECK(pg != NULL);
		if (!pg)
			continue;
		size_t size = PAGE_SIZE << order;
		char *addr = page_address(pg);
		CHECK(addr != NULL && ((uintptr_t)addr & (size - 1)) == 0);
		CHECK(kmap(pg) == addr && kmap_atomic(pg) == addr && kmap_local_page(pg) == addr);

		/* Write through a local mapping, unmap, read through kmap. */
		char *w = kmap_local_page(pg);
		pattern_fill(w, size, order);
		kunmap_local(w);
		char *r = kmap(pg);
		CHECK(pattern_check(r, size, order) == size);
		kunmap(pg);
		CHECK(pattern_check(addr, size, order) == size);

		/* Every page of the block: the descriptor of page i maps page i. */
		for (size_t i = 0; i < (1u << order); i++) {
			struct page *pi = virt_to_page(addr + i * PAGE_SIZE);
			char *m = kmap_atomic(pi);
			CHECK(m == addr + i * PAGE_SIZE && (unsigned char)m[1] == pattern_byte(order, i * PAGE_SIZE + 1));
			m[0] ^= 1;
			kunmap_atomic(m);
			m[0] ^= 1;
		}
		CHECK(pattern_check(addr, size, order) == size);

		/* The unmaps evaluate their argument exactly once. */
		char *p = addr;
		kunmap_local(p++);
		CHECK(p == addr + 1);
		kunmap_atomic(p++);
		CHECK(p == addr + 2);
		calls = 0;
		kunmap(counted(pg));
		CHECK(calls == 1);
		__free_pages(pg, order);
	}
	/* A page the kernel-style way: map, clear, unmap, free. */
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	CHECK(pg != NULL);
	if (pg) {
		void *m = kmap_local_page(pg);
		CHECK(first_nonzero(m, PAGE_SIZE) == PAGE_SIZE);
		memset(m, 0xa5, PAGE_SIZE);
		kunmap_local(m);
		__free_page(pg);
	}
	return check_done();
}

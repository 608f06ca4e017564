/* SPDX-License-Identifier: MIT */
/*
 * kmalloc_classes: the kmalloc size classes.
 *   - the class table is increasing, starts at 8, ends at
 *     KMALLOC_MAX_CACHE_SIZE, and kmalloc_index(size) is the smallest class
 *     that fits, for every size 1 .. 32768;
 *   - for every size up to 1 KiB and the boundaries of every class above
 *     (class - 1, class, class + 1, the middle), kmalloc(size) lands in that
 *     class's slab (page kind KPG_KSLAB, class in the descriptor), ksize is
 *     the class size, the whole usable size can be written without touching
 *     neighbours;
 *   - alignment: at least 8; at least 16 for size >= 16; objects of
 *     power-of-two classes aligned to their size (a page at most);
 *   - above 32 KiB up to 256 KiB: page blocks, page aligned, of a page
 *     class's size (the smallest page class that fits), kept in the class's
 *     front cache when freed (page kind KPG_CACHED); up to 4 MiB, page blocks
 *     of exactly round_up(size, PAGE_SIZE) bytes, back in the buddy allocator
 *     when freed; above, huge blocks (in no chunk);
 *   - the page class table: whole pages, increasing, at most 25% apart,
 *     ending at KMALLOC_PAGE_CLASS_MAX;
 *   - free's test (kmalloc_obj_valid, by the page's info byte): on a slab of
 *     every class it covers, true at exactly the offsets of the slab's
 *     objects; with any other info byte, false at every offset tried.
 */
#include "internal.h"
#include "ktest.h"

#define PER_SIZE 8

static unsigned expected_class(size_t size)
{
	unsigned c = 0;
	while (c < KMALLOC_NR_CLASSES && kmalloc_class_size[c] < size)
		c++;
	return c;
}

static void table(void)
{
	CHECK(kmalloc_class_size[0] == 8);
	CHECK(kmalloc_class_size[KMALLOC_NR_CLASSES - 1] == KMALLOC_MAX_CACHE_SIZE);
	for (unsigned c = 1; c < KMALLOC_NR_CLASSES; c++) {
		CHECKF(kmalloc_class_size[c] > kmalloc_class_size[c - 1], "class %u (%u) not above class %u (%u)", c,
		       kmalloc_class_size[c], c - 1, kmalloc_class_size[c - 1]);
		CHECKF(kmalloc_class_size[c] % 8 == 0, "class %u size %u not a multiple of 8", c, kmalloc_class_size[c]);
		/* at most 25% (20% of the block) internal waste above 128 bytes */
		if (kmalloc_class_size[c] > 128)
			CHECKF(kmalloc_class_size[c] * 4 <= kmalloc_class_size[c - 1] * 5,
			       "class %u: %u after %u wastes more than a quarter", c, kmalloc_class_size[c],
			       kmalloc_class_size[c - 1]);
	}
	for (size_t size = 1; size <= KMALLOC_MAX_CACHE_SIZE; size++) {
		unsigned want = expected_class(size);
		unsigned got = kmalloc_index(size);
		if (got != want) {
			CHECKF(got == want, "kmalloc_index(%zu) = %u (size %u), want %u (size %u)", size, got,
			       got < KMALLOC_NR_CLASSES ? kmalloc_class_size[got] : 0, want, kmalloc_class_size[want]);
		}
	}
	for (unsigned c = 0; c < KMALLOC_NR_CLASSES; c++) {
		CHECKF(kmalloc_caches[c].object_size == kmalloc_class_size[c], "cache %u object size %u, class %u", c,
		       kmalloc_caches[c].object_size, kmalloc_class_size[c]);
		CHECKF(kmalloc_caches[c].objects >= 1 && kmalloc_caches[c].order <= MAX_ORDER,
		       "cache %s: %u objects of order %u", kmalloc_caches[c].name, kmalloc_caches[c].objects,
		       kmalloc_caches[c].order);
	}
}

static void one_size(size_t size)
{
	void *p[PER_SIZE];
	unsigned cls = expected_class(size);
	size_t csize = kmalloc_class_size[cls];
	for (int i = 0; i < PER_SIZE; i++) {
		p[i] = kmalloc(size, GFP_KERNEL);
		CHECKF(p[i] != NULL, "kmalloc(%zu) failed", size);
		if (!p[i])
			return;
		uintptr_t a = (uintptr_t)p[i];
		size_t ks = ksize(p[i]);
		CHECKF(ks >= size, "ksize(kmalloc(%zu)) = %zu", size, ks);
		CHECKF(ks == csize, "kmalloc(%zu): ksize %zu, the smallest class that fits is %zu", size, ks, csize);
		struct page *pg = virt_to_page(p[i]);
		/* A slab page of the class: marked with the class when free's
		 * fast check covers its slabs, else a plain slab of the cache. */
		const struct kmem_cache *kc = &kmalloc_caches[cls];
		bool fast = kc->page_info != KPG_SLAB;
		CHECKF(pg && (fast ? kpage_info(pg) == KINFO_KSLAB_BASE + cls
		                   : kpage_kind(pg) == KPG_SLAB && pg->head->slab_cache == kc),
		       "kmalloc(%zu) = %p: page info %#x, want a slab page of class %u", size, p[i],
		       pg ? kpage_info(pg) : 0, cls);
		if (size >= 16 && size <= 16384)
			CHECKF(fast, "class %u (%zu bytes): free's fast check does not cover it", cls, csize);
		CHECKF(a % 8 == 0, "kmalloc(%zu) = %p not 8-aligned", size, p[i]);
		if (size >= 16)
			CHECKF(a % 16 == 0, "kmalloc(%zu) = %p not 16-aligned", size, p[i]);
		if (KIS_POW2(csize)) {
			size_t al = csize < PAGE_SIZE ? csize : PAGE_SIZE;
			CHECKF(a % al == 0, "kmalloc(%zu) = %p (power-of-two class %zu) not aligned to %zu", size, p[i],
			       csize, al);
		}
		pattern_fill(p[i], ks, size * 131 + (size_t)i);
	}
	for (int i = 0; i < PER_SIZE; i++) {
		size_t ks = ksize(p[i]);
		size_t bad = pattern_check(p[i], ks, size * 131 + (size_t)i);
		CHECKF(bad == ks, "kmalloc(%zu) = %p: byte %zu of %zu overwritten", size, p[i], bad, ks);
		for (int j = 0; j < i; j++)
			CHECKF(p[i] != p[j], "kmalloc(%zu) returned %p twice", size, p[i]);
	}
	for (int i = 0; i < PER_SIZE; i++)
		kfree(p[i]);
}

/* malloc's table agrees with kmalloc_index for every size it covers. */
static void malloc_table(void)
{
	for (size_t size = 1; size <= KMALLOC_TABLE_MAX; size++) {
		unsigned want = kmalloc_index(size < 16 ? 16 : size);
		unsigned got = kmalloc_index16[(size + 15) >> 4];
		CHECKF(got == want, "malloc table: size %zu -> class %u, kmalloc_index says %u", size, got, want);
	}
}

static void slab_sizes(void)
{
	for (size_t size = 1; size <= KMALLOC_SMALL_MAX; size++)
		one_size(size);
	for (unsigned c = 1; c < KMALLOC_NR_CLASSES; c++) {
		size_t lo = kmalloc_class_size[c - 1], hi = kmalloc_class_size[c];
		if (hi <= KMALLOC_SMALL_MAX)
			continue;
		one_size(lo + 1);
		one_size((lo + hi) / 2);
		one_size(hi - 1);
		one_size(hi);
	}
}

static void page_sizes(void)
{
	static const size_t sizes[] = { KMALLOC_MAX_CACHE_SIZE + 1, 36864, 36865, 40000, 65536, 100000,
	                                1UL << 20, (1UL << 20) + 1, KMAX_ORDER_SIZE - 1, KMAX_ORDER_SIZE };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t size = sizes[i];
		char *p = kmalloc(size, GFP_KERNEL);
		CHECKF(p != NULL, "kmalloc(%zu) failed", size);
		if (!p)
			continue;
		size_t want = KALIGN_UP(size, PAGE_SIZE);
		if (size <= KMALLOC_PAGE_CLASS_MAX)
			want = kmalloc_class_size[kmalloc_index(size)];
		CHECKF(want >= size && want < size + size / 4 + PAGE_SIZE, "kmalloc(%zu): class size %zu", size, want);
		CHECKF(((uintptr_t)p & (PAGE_SIZE - 1)) == 0, "kmalloc(%zu) = %p not page aligned", size, (void *)p);
		CHECKF(ksize(p) == want, "kmalloc(%zu): ksize %zu, want exactly %zu", size, ksize(p), want);
		struct page *pg = virt_to_page(p);
		CHECKF(pg && kpage_kind(pg) == KPG_LARGE && pg->npages == want >> PAGE_SHIFT,
		       "kmalloc(%zu): not a page block of %zu pages", size, want >> PAGE_SHIFT);
		memset(p, 0x42, want);
		kfree(p);
		if (size <= KMALLOC_PAGE_CLASS_MAX)
			CHECKF(kpage_kind(pg) == KPG_CACHED, "kfree(kmalloc(%zu)): page kind %u, want KPG_CACHED (%u)",
			       size, kpage_kind(pg), KPG_CACHED);
		else
			CHECKF(kpage_kind(pg) != KPG_LARGE && kpage_kind(pg) != KPG_CACHED,
			       "kfree(kmalloc(%zu)): page kind %u, want back in the buddy allocator", size, kpage_kind(pg));
	}
	/* the page classes */
	for (unsigned c = KMALLOC_NR_CLASSES; c < KMALLOC_NR_ALL; c++) {
		CHECKF(kmalloc_class_size[c] % PAGE_SIZE == 0, "page class %u: %u bytes, not whole pages", c,
		       kmalloc_class_size[c]);
		CHECKF(kmalloc_class_size[c] > kmalloc_class_size[c - 1] &&
		               kmalloc_class_size[c] * 4 <= kmalloc_class_size[c - 1] * 5,
		       "page class %u: %u after %u", c, kmalloc_class_size[c], kmalloc_class_size[c - 1]);
		CHECKF(kmalloc_index(kmalloc_class_size[c]) == c && kmalloc_index(kmalloc_class_size[c - 1] + 1) == c,
		       "kmalloc_index around page class %u", c);
	}
	CHECK(kmalloc_class_size[KMALLOC_NR_ALL - 1] == KMALLOC_PAGE_CLASS_MAX);
	static const size_t huge[] = { KMAX_ORDER_SIZE + 1, KMAX_ORDER_SIZE + PAGE_SIZE, 5UL << 20, (9UL << 20) + 3 };
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		size_t size = huge[i];
		char *p = kmalloc(size, GFP_KERNEL);
		CHECKF(p != NULL, "kmalloc(%zu) failed", size);
		if (!p)
			continue;
		CHECKF(((uintptr_t)p & (PAGE_SIZE - 1)) == 0, "kmalloc(%zu) = %p not page aligned", size, (void *)p);
		CHECKF(ksize(p) >= size && ksize(p) == KALIGN_UP(size, PAGE_SIZE), "kmalloc(%zu): ksize %zu", size,
		       ksize(p));
		CHECKF(virt_to_page(p) == NULL, "huge kmalloc(%zu) = %p is inside a chunk", size, (void *)p);
		memset(p, 0x43, ksize(p));
		kfree(p);
	}
}

/* Every offset of one slab of each class free's test covers, with the
 * class's info byte and with every other byte. */
static void free_check(void)
{
	unsigned covered = 0;
	for (unsigned cls = 0; cls < KMALLOC_NR_CLASSES; cls++) {
		const struct kmem_cache *kc = &kmalloc_caches[cls];
		if (kc->page_info == KPG_SLAB)
			continue;
		covered++;
		CHECKF(kc->page_info == KINFO_KSLAB_BASE + cls, "class %u: info %#x", cls, kc->page_info);
		void *obj = kmalloc(kc->object_size, GFP_KERNEL);
		CHECK(obj != NULL);
		if (!obj)
			continue;
		struct page *pg = virt_to_page(obj);
		CHECKF(pg && kpage_info(pg) == kc->page_info, "class %u: page info %#x", cls, pg ? kpage_info(pg) : 0);
		uintptr_t base = (uintptr_t)obj & ~kc->slab_mask;
		size_t slab = kc->slab_mask + 1, size = kc->size, bad = 0;
		for (size_t off = 0; off < slab; off++) {
			bool want = off % size == 0 && off / size < kc->objects;
			if (kmalloc_obj_valid(kc->page_info, (void *)(base + off)) != want && bad++ < 3)
				CHECKF(0, "class %u (%u bytes, %u objects): offset %zu of its slab %s", cls, kc->size,
				       kc->objects, off, want ? "refused" : "taken for an object");
		}
		CHECKF(bad == 0, "class %u: %zu offsets judged wrong", cls, bad);
		for (unsigned b = 0; b < KMALLOC_INFO_BYTES; b++) {
			if (b == kc->page_info)
				continue;
			bool other = b >= KINFO_KSLAB_BASE && b < KINFO_KSLAB_BASE + KMALLOC_NR_CLASSES &&
			             kmalloc_caches[b - KINFO_KSLAB_BASE].page_info == b;
			if (other)
				continue;   /* another class's byte: its own slabs are tried above */
			for (size_t off = 0; off < slab; off += 8)
				if (kmalloc_obj_valid(b, (void *)(base + off)))
					bad++;
		}
		CHECKF(bad == 0, "class %u: %zu offsets taken for objects under an info byte of no class", cls, bad);
		kfree(obj);
	}
	CHECKF(covered >= KMALLOC_NR_CLASSES - 2, "free's test covers %u classes", covered);
}

int main(void)
{
	void *first = kmalloc(1, GFP_KERNEL);   /* initialises */
	CHECK(first != NULL);
	kfree(first);
	table();
	malloc_table();
	slab_sizes();
	page_sizes();
	free_check();
	return check_done();
}

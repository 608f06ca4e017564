/* SPDX-License-Identifier: MIT */
/*
 * slab_cache: kmem_cache_create and its objects.
 *   - a constructor runs once per object when a slab is populated, never on
 *     an allocation: counted; objects come out constructed and stay so
 *     across free/alloc (the free pointer does not clobber them); after
 *     populating, calls == slabs * objects per slab;
 *   - SLAB_HWCACHE_ALIGN: objects above 32 bytes are 64-byte aligned;
 *   - explicit alignment 8 .. 4096 for several sizes; objects are at least
 *     8-aligned, 16-aligned from 16 bytes; every object is usable over its
 *     whole size and no two overlap;
 *   - kmem_cache_size / kmem_cache_name (the name is copied), ksize of an
 *     object, kmem_cache_zalloc zeroes, kfree takes a cache's object;
 *   - bad parameters (size 0, alignment not a power of two or above a page,
 *     size above 256 KiB, no name) return NULL with a one-line report
 *     naming the cache;
 *   - a cache made where a destroyed one was (the same kmem_cache object,
 *     memory that is not zeroed) starts with no list, no slabs and no
 *     quarantine: a debug cache destroyed, then plain caches made, none
 *     keeps its quarantine (reclaim would flush another cache's objects
 *     into it), and shrinking all caches afterwards is harmless.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define CTOR_MAGIC 0xc0ffee11u
#define CTOR_WORDS 25   /* 100-byte objects */

static unsigned long ctor_calls;

static void ctor(void *obj)
{
	uint32_t *w = obj;
	for (int i = 0; i < CTOR_WORDS; i++)
		w[i] = CTOR_MAGIC ^ (uint32_t)i;
	ctor_calls++;
}

static int constructed(const void *obj)
{
	const uint32_t *w = obj;
	for (int i = 0; i < CTOR_WORDS; i++)
		if (w[i] != (CTOR_MAGIC ^ (uint32_t)i))
			return 0;
	return 1;
}

#define NLIVE 5000
static void *live[NLIVE];

static void constructor(void)
{
	struct kmem_cache *c = kmem_cache_create("unit_ctor", CTOR_WORDS * 4, 0, 0, ctor);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(ctor_calls == 0);
	unsigned per_slab = c->objects;
	CHECK(per_slab >= KSLAB_MIN_OBJECTS);

	void *p = kmem_cache_alloc(c, GFP_KERNEL);
	CHECK(p != NULL);
	CHECK(constructed(p));
	unsigned long first = ctor_calls;
	CHECKF(first >= per_slab && first % per_slab == 0, "%lu constructor calls for the first object (%u per slab)",
	       first, per_slab);
	/* Use and restore, free, allocate again: no more constructor calls. */
	for (int i = 0; i < 10000; i++) {
		uint32_t *w = p;
		w[3] = 0xdeadbeef;
		w[3] = CTOR_MAGIC ^ 3u;
		kmem_cache_free(c, p);
		p = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(p != NULL);
		if (!constructed(p)) {
			CHECKF(0, "object %p not in its constructed state after alloc #%d", p, i);
			break;
		}
	}
	CHECKF(ctor_calls == first, "constructor called %lu times in 10000 alloc/free pairs",
	       ctor_calls - first);
	kmem_cache_free(c, p);

	/* Populate many slabs: calls are whole slabs, once per object. */
	for (int i = 0; i < NLIVE; i++) {
		live[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(live[i] != NULL);
		if (live[i] && !constructed(live[i]))
			CHECKF(0, "object %d not constructed", i);
	}
	CHECKF(ctor_calls >= NLIVE && ctor_calls % per_slab == 0, "%lu constructor calls for %d objects", ctor_calls,
	       NLIVE);
	CHECKF(ctor_calls == c->nr_slabs * per_slab, "%lu constructor calls, %zu slabs of %u objects", ctor_calls,
	       c->nr_slabs, per_slab);
	/* Free all, allocate again: objects still constructed. */
	for (int i = 0; i < NLIVE; i++)
		kmem_cache_free(c, live[i]);
	for (int i = 0; i < NLIVE; i++) {
		live[i] = kmem_cache_alloc(c, GFP_KERNEL);
		if (live[i] && !constructed(live[i]))
			CHECKF(0, "reused object %d not constructed", i);
	}
	for (int i = 0; i < NLIVE; i++)
		kmem_cache_free(c, live[i]);
	CHECK(kmem_cache_destroy(c) == 0);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* Allocates n objects of cache c, checks alignment, fills them, checks that
 * none overlaps another and that the fills survive, frees them. */
static void exercise(struct kmem_cache *c, size_t size, size_t align, int n, const char *what)
{
	void **p = calloc((size_t)n, sizeof *p);
	uintptr_t *sorted = calloc((size_t)n, sizeof *sorted);
	if (!p || !sorted) {
		CHECK(!"calloc");
		return;
	}
	for (int i = 0; i < n; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECKF(p[i] != NULL, "%s: alloc failed", what);
		if (!p[i]) {
			n = i;
			break;
		}
		uintptr_t a = (uintptr_t)p[i];
		CHECKF(a % align == 0, "%s: object %p not aligned to %zu", what, p[i], align);
		CHECKF(a % 8 == 0 && (size < 16 || a % 16 == 0), "%s: object %p below the minimum alignment", what,
		       p[i]);
		CHECKF(ksize(p[i]) == size, "%s: ksize %zu, object size %zu", what, ksize(p[i]), size);
		pattern_fill(p[i], size, (uint64_t)i * 1000003 + size);
		sorted[i] = a;
	}
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_ptr);
	for (int i = 1; i < n; i++)
		CHECKF(sorted[i - 1] + size <= sorted[i], "%s: objects %#lx and %#lx overlap (size %zu)", what,
		       (unsigned long)sorted[i - 1], (unsigned long)sorted[i], size);
	for (int i = 0; i < n; i++) {
		size_t bad = pattern_check(p[i], size, (uint64_t)i * 1000003 + size);
		CHECKF(bad == size, "%s: object %p overwritten at byte %zu", what, p[i], bad);
		kmem_cache_free(c, p[i]);
	}
	free(p);
	free(sorted);
}

static void hwcache_align(void)
{
	static const size_t sizes[] = { 33, 40, 50, 63, 64, 65, 100, 129, 200, 1000, 3000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "unit_hw_%zu", sizes[i]);
		struct kmem_cache *c = kmem_cache_create(name, sizes[i], 0, SLAB_HWCACHE_ALIGN, NULL);
		CHECK(c != NULL);
		if (!c)
			continue;
		exercise(c, sizes[i], 64, 300, name);
		CHECK(kmem_cache_destroy(c) == 0);
	}
	/* small objects keep at least their natural minimum */
	for (size_t size = 1; size <= 32; size += 5) {
		struct kmem_cache *c = kmem_cache_create("unit_hw_small", size, 0, SLAB_HWCACHE_ALIGN, NULL);
		CHECK(c != NULL);
		if (!c)
			continue;
		exercise(c, size, 8, 300, "unit_hw_small");
		CHECK(kmem_cache_destroy(c) == 0);
	}
}

static void explicit_align(void)
{
	static const size_t sizes[] = { 1, 8, 24, 100, 1000, 5000 };
	for (size_t align = 8; align <= PAGE_SIZE; align *= 2)
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			char name[48];
			snprintf(name, sizeof name, "unit_align_%zu_%zu", align, sizes[i]);
			struct kmem_cache *c = kmem_cache_create(name, sizes[i], align, 0, NULL);
			CHECKF(c != NULL, "%s", name);
			if (!c)
				continue;
			exercise(c, sizes[i], align, 100, name);
			CHECK(kmem_cache_destroy(c) == 0);
		}
	/* with a constructor too (the free pointer moves behind the object) */
	struct kmem_cache *c = kmem_cache_create("unit_align_ctor", CTOR_WORDS * 4, 256, 0, ctor);
	CHECK(c != NULL);
	if (c) {
		void *p[50];
		for (int i = 0; i < 50; i++) {
			p[i] = kmem_cache_alloc(c, GFP_KERNEL);
			CHECK(p[i] && (uintptr_t)p[i] % 256 == 0 && constructed(p[i]));
		}
		for (int i = 0; i < 50; i++)
			kmem_cache_free(c, p[i]);
		CHECK(kmem_cache_destroy(c) == 0);
	}
}

static void accessors(void)
{
	char name[40];
	snprintf(name, sizeof name, "unit_named");
	struct kmem_cache *c = kmem_cache_create(name, 72, 0, 0, NULL);
	CHECK(c != NULL);
	if (!c)
		return;
	name[0] = 'X';   /* the cache keeps its own copy */
	CHECK(strcmp(kmem_cache_name(c), "unit_named") == 0);
	CHECK(kmem_cache_size(c) == 72);

	/* zalloc after dirty objects went back */
	void *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(p[i] != NULL);
		memset(p[i], 0xee, 72);
	}
	for (int i = 0; i < 64; i++)
		kmem_cache_free(c, p[i]);
	for (int i = 0; i < 64; i++) {
		p[i] = kmem_cache_zalloc(c, GFP_KERNEL);
		CHECK(p[i] != NULL);
		if (p[i])
			CHECKF(first_nonzero(p[i], 72) == 72, "kmem_cache_zalloc object %p not zero", p[i]);
	}
	/* kfree works on objects of any cache, as in the kernel */
	for (int i = 0; i < 64; i++)
		kfree(p[i]);
	CHECK(kmem_cache_destroy(c) == 0);

	/* a long name is truncated, not overflowed */
	c = kmem_cache_create("unit_a_very_long_cache_name_that_goes_on_and_on", 8, 0, 0, NULL);
	CHECK(c != NULL);
	if (c) {
		CHECK(strlen(kmem_cache_name(c)) < KCACHE_NAME_LEN);
		CHECK(strncmp(kmem_cache_name(c), "unit_a_very_long", 16) == 0);
		CHECK(kmem_cache_destroy(c) == 0);
	}
	CHECK(kmem_cache_size(NULL) == 0);
	CHECK(kmem_cache_name(NULL) == NULL);
	kmem_cache_free(c, NULL);   /* NULL object: no-op, even with a dead cache */
}

static void bad_parameters(void)
{
	struct {
		const char *name;
		size_t size, align;
	} bad[] = {
		{ "unit_bad_zero", 0, 0 },
		{ "unit_bad_align3", 64, 3 },
		{ "unit_bad_align24", 64, 24 },
		{ "unit_bad_align8k", 64, 8192 },
		{ "unit_bad_huge", KMALLOC_MAX_CACHE_SIZE * 8 + 1, 0 },
		{ "unit_bad_max", SIZE_MAX, 0 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct capture cap;
		char err[2048];
		capture_begin(&cap);
		errno = 0;
		struct kmem_cache *c = kmem_cache_create(bad[i].name, bad[i].size, bad[i].align, 0, NULL);
		int e = errno;
		capture_end(&cap, err, sizeof err);
		CHECKF(c == NULL, "%s: created", bad[i].name);
		CHECKF(e == EINVAL, "%s: errno %d, want EINVAL", bad[i].name, e);
		CHECKF(count_lines(err) == 1 && contains(err, "kalloc") && contains(err, bad[i].name),
		       "%s: report [%.400s]", bad[i].name, err);
		if (c)
			kmem_cache_destroy(c);
	}
	struct capture cap;
	char err[2048];
	capture_begin(&cap);
	struct kmem_cache *c = kmem_cache_create(NULL, 64, 0, 0, NULL);
	capture_end(&cap, err, sizeof err);
	CHECK(c == NULL);
	CHECKF(count_lines(err) == 1, "no-name report [%.400s]", err);
}

static void reused_cache_object(void)
{
	struct kmem_cache *seen[8];
	unsigned n = 0;
	for (int round = 0; round < 8; round++) {
		struct kmem_cache *d = kmem_cache_create("unit_reuse_debug", 96, 0, SLAB_POISON | SLAB_RED_ZONE, NULL);
		CHECK(d != NULL);
		if (!d)
			return;
		CHECK(d->dbg != NULL);
		void *o = kmem_cache_alloc(d, GFP_KERNEL);
		CHECK(o != NULL);
		kmem_cache_free(d, o);   /* quarantined */
		kmem_cache_destroy(d);
		struct kmem_cache *c = kmem_cache_create("unit_reuse_plain", 96, 0, 0, NULL);
		CHECK(c != NULL);
		if (!c)
			return;
		CHECKF(c->dbg == NULL && c->partial == NULL && c->nr_slabs == 0 && !c->dead,
		       "round %d: a new cache at %p kept state of the destroyed one (dbg %p, partial %p, %zu slabs)", round,
		       (void *)c, (void *)c->dbg, (void *)c->partial, c->nr_slabs);
		n += c == d;
		seen[round] = c;
	}
	test_msg("reused_cache_object: %u of 8 plain caches took the destroyed debug cache's object", n);
	CHECKF(n > 0, "no cache reused a destroyed one's object: the check above proves nothing");
	kalloc_trim();   /* every cache shrunk: dbg_flush on each */
	for (int i = 0; i < 8; i++)
		kmem_cache_destroy(seen[i]);
}

int main(void)
{
	reused_cache_object();
	constructor();
	hwcache_align();
	explicit_align();
	accessors();
	bad_parameters();
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * vmalloc: huge, virtually contiguous areas.
 *   - vmalloc / vzalloc of small and large sizes: page aligned, writable
 *     over the rounded size; ksize is the rounded size; vfree(NULL) is a
 *     no-op;
 *   - vzalloc after a dirty area was freed still reads as zero;
 *   - hardened (KALLOC_HARDEN, the default): a freed area's pages move at
 *     once to another place, its range stays reserved and faults; the next
 *     request takes the moved pages (their contents show) elsewhere;
 *   - with hardening off (set by hand below: the cache's in-place reuse):
 *     freed areas are kept for reuse: a smaller request takes a cached area
 *     at the same address and gives back its tail (a new guard after it, the
 *     rest unmapped), a larger one grows it with its contents, and
 *     malloc_trim's work unmaps what is cached;
 *   - no cached area large enough: the largest ones are moved together
 *     into a new aligned area with their contents (nothing faulted in
 *     afresh), and the rest of the last one stays cached; such an area,
 *     several mappings, grows (copied), is reused for less and grows again
 *     with its contents;
 *   - krealloc growing a huge block moves it to a 2 MiB aligned place,
 *     contents intact, a guard after it;
 *   - the guard page: a child writing one byte past the rounded end dies
 *     with SIGSEGV; a child writing the last byte inside lives;
 *   - kvmalloc / kvfree, small and huge;
 *   - vfree of a kmalloc pointer is reported and aborts.
 */
#include "internal.h"
#include "ktest.h"

#include <signal.h>

static int write_at(void *arg)
{
	volatile char *p = arg;
	*p = 1;
	return 0;
}

static void guard(size_t size)
{
	char *p = vmalloc(size);
	CHECKF(p != NULL, "vmalloc(%zu) failed", size);
	if (!p)
		return;
	size_t end = KALIGN_UP(size, PAGE_SIZE);
	struct child_result r;
	run_child(write_at, p + end - 1, 10000, &r);
	CHECKF(child_exit(&r) == 0, "vmalloc(%zu): writing the last byte killed the child (status %#x)", size,
	       r.status);
	run_child(write_at, p + end, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV,
	       "vmalloc(%zu): writing one byte past the end (offset %zu): status %#x, want SIGSEGV", size, end,
	       r.status);
	vfree(p);
}

static int child_faults(void *addr)
{
	static struct child_result r;
	run_child(write_at, addr, 10000, &r);
	return child_signal(&r) == SIGSEGV;
}

static void reuse(void)
{
	kalloc_trim();   /* an empty cache to start from */
	char *p = vmalloc(8UL << 20);
	CHECK(p != NULL);
	if (!p)
		return;
	memset(p, 0x5c, 8UL << 20);
	vfree(p);
	char *q = vmalloc(6UL << 20);   /* the cached 8 MiB, its tail given back */
	CHECKF(q == p, "vmalloc(6 MiB) after vfree of 8 MiB: %p, want the cached %p", (void *)q, (void *)p);
	CHECK(ksize(q) == 6UL << 20);
	CHECK(q[0] == 0x5c && q[(6UL << 20) - 1] == 0x5c);   /* not zeroed: it was not asked for */
	CHECKF(child_faults(q + (6UL << 20)), "no guard after the trimmed area");
	CHECKF(child_faults(q + (7UL << 20)), "the trimmed tail is still mapped");
	vfree(q);
	char *r = vmalloc(10UL << 20);   /* the cached 6 MiB, grown */
	CHECK(r != NULL && ksize(r) == 10UL << 20);
	if (r) {
		CHECK(r[0] == 0x5c && r[(6UL << 20) - 1] == 0x5c && r[(10UL << 20) - 1] == 0);
		CHECKF(((uintptr_t)r & ((2UL << 20) - 1)) == 0, "the grown area %p is not 2 MiB aligned", (void *)r);
		CHECKF(child_faults(r + (10UL << 20)), "no guard after the grown area");
		vfree(r);
		kalloc_trim();
		CHECKF(child_faults(r), "a cached area is still mapped after malloc_trim's work");
	}
	char *z = vzalloc(7UL << 20);
	CHECK(z != NULL);
	if (z) {
		CHECK(first_nonzero(z, 7UL << 20) == 7UL << 20);
		vfree(z);
	}
}

static size_t count_not(const char *p, size_t n, char v)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i += 512)
		bad += p[i] != v;
	return bad;
}

/* No cached area is large enough: the largest ones are moved together into
 * a new aligned area (their contents show: nothing was faulted in afresh),
 * their old places are gone, and what the last one had beyond the request
 * stays cached, reused next.  Such an area is several mappings: growing it
 * (which one mremap cannot do), reusing it for less, and growing that,
 * keep the contents. */
static void assembled(void)
{
	kalloc_trim();
	char *keep = vmalloc(64UL << 20);   /* the cache may hold a quarter of the huge bytes in use */
	char *x = vmalloc(6UL << 20), *y = vmalloc(8UL << 20);
	CHECK(keep && x && y);
	if (!keep || !x || !y)
		return;
	memset(x, 0x11, 6UL << 20);
	memset(y, 0x22, 8UL << 20);
	vfree(x);
	vfree(y);
	char *z = vmalloc(10UL << 20);
	CHECK(z != NULL);
	if (!z)
		return;
	CHECKF(((uintptr_t)z & ((2UL << 20) - 1)) == 0, "assembled area %p not 2 MiB aligned", (void *)z);
	CHECKF(count_not(z, 8UL << 20, 0x22) == 0, "the first 8 MiB are not the cached 8 MiB area's pages");
	CHECKF(count_not(z + (8UL << 20), 2UL << 20, 0x11) == 0,
	       "the last 2 MiB are not the cached 6 MiB area's first pages");
	CHECKF(child_faults(z + (10UL << 20)), "no guard after the assembled area");
	CHECKF(child_faults(y), "the moved 8 MiB area is still mapped at its old place");
	CHECKF(child_faults(x), "the moved part of the 6 MiB area is still mapped at its old place");
	char *w = vmalloc(3UL << 20);
	CHECKF(w == x + (2UL << 20), "vmalloc(3 MiB): %p, want the 6 MiB area's cached rest at %p", (void *)w,
	       (void *)(x + (2UL << 20)));
	if (w) {
		CHECK(count_not(w, 3UL << 20, 0x11) == 0);
		vfree(w);
	}

	/* grown: copied (several mappings), contents kept */
	char *g = krealloc(z, 20UL << 20, GFP_KERNEL);
	CHECKF(g != NULL, "krealloc of an assembled area to 20 MiB failed");
	if (!g) {
		vfree(z);
		return;
	}
	CHECK(count_not(g, 8UL << 20, 0x22) == 0 && count_not(g + (8UL << 20), 2UL << 20, 0x11) == 0);
	CHECKF(child_faults(g + (20UL << 20)), "no guard after the grown area");
	memset(g, 0x33, 20UL << 20);
	vfree(g);

	/* several again, then reused for less (cut, its tail cached) and grown */
	char *u = vmalloc(9UL << 20), *v = vmalloc(5UL << 20);
	CHECK(u && v);
	if (!u || !v)
		return;
	kalloc_trim();
	vfree(u);
	vfree(v);
	char *m = vmalloc(13UL << 20);   /* 9 + 4 of 5: two pieces */
	CHECK(m != NULL);
	memset(m, 0x44, 13UL << 20);
	vfree(m);
	char *s = vmalloc(11UL << 20);   /* reuses m: cut inside its second piece */
	CHECK(s == m);
	if (s) {
		CHECK(count_not(s, 11UL << 20, 0x44) == 0);
		char *s2 = krealloc(s, 16UL << 20, GFP_KERNEL);
		CHECKF(s2 != NULL, "krealloc of the reused area to 16 MiB failed");
		if (s2) {
			CHECK(count_not(s2, 11UL << 20, 0x44) == 0);
			CHECKF(child_faults(s2 + (16UL << 20)), "no guard after the grown area");
			vfree(s2);
		} else {
			vfree(s);
		}
	}
	vfree(keep);
	kalloc_trim();
}

/* krealloc growing a huge block moves its pages to a 2 MiB aligned place
 * (where the kernel moves whole page-table pages), contents intact. */
static void grow_aligned(void)
{
	size_t size = 4UL << 20;
	char *p = kmalloc(size, GFP_KERNEL);
	CHECK(p != NULL);
	if (!p)
		return;
	pattern_fill(p, size, 9);
	for (; size < (64UL << 20); size *= 2) {
		char *q = krealloc(p, size * 2, GFP_KERNEL);
		CHECKF(q != NULL, "realloc to %zu failed", size * 2);
		if (!q)
			break;
		p = q;
		CHECKF(((uintptr_t)p & ((2UL << 20) - 1)) == 0, "realloc to %zu: %p not 2 MiB aligned", size * 2,
		       (void *)p);
		CHECKF(pattern_check(p, size, 9) == size, "realloc to %zu lost the contents", size * 2);
		pattern_fill(p, size * 2, 9);
		CHECKF(child_faults(p + size * 2), "no guard after the area grown to %zu", size * 2);
	}
	kfree(p);
}

static void basics(void)
{
	static const size_t sizes[] = { 1, 100, 4096, 4097, 100000, 1UL << 20, KMAX_ORDER_SIZE + 1, 5UL << 20,
	                                (17UL << 20) + 5 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t size = sizes[i], rounded = KALIGN_UP(size, PAGE_SIZE);
		char *p = vmalloc(size);
		CHECKF(p != NULL, "vmalloc(%zu) failed", size);
		if (!p)
			continue;
		CHECKF(((uintptr_t)p & (PAGE_SIZE - 1)) == 0, "vmalloc(%zu) = %p not page aligned", size, (void *)p);
		CHECKF(ksize(p) == rounded, "vmalloc(%zu): ksize %zu, want %zu", size, ksize(p), rounded);
		memset(p, 0xfe, rounded);
		vfree(p);

		p = vzalloc(size);
		CHECKF(p != NULL, "vzalloc(%zu) failed", size);
		if (!p)
			continue;
		CHECKF(first_nonzero(p, rounded) == rounded, "vzalloc(%zu) after a dirty vfree not zero", size);
		pattern_fill(p, rounded, size);
		CHECK(pattern_check(p, rounded, size) == rounded);
		vfree(p);
	}
	vfree(NULL);
	kvfree(NULL);

	/* several live at once do not overlap */
	char *a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = vmalloc(3UL << 20);
		CHECK(a[i] != NULL);
		if (a[i])
			pattern_fill(a[i], 3UL << 20, (uint64_t)i);
	}
	for (int i = 0; i < 8; i++)
		if (a[i]) {
			CHECK(pattern_check(a[i], 3UL << 20, (uint64_t)i) == 3UL << 20);
			vfree(a[i]);
		}
}

static void kv(void)
{
	static const size_t sizes[] = { 10, 5000, 100000, 8UL << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = kvmalloc(sizes[i], GFP_KERNEL);
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK(ksize(p) >= sizes[i]);
		memset(p, 0x33, sizes[i]);
		kvfree(p);
	}
}

static int vfree_kmalloc(void *arg)
{
	vfree(arg);
	return 0;
}

static void bad_vfree(void)
{
	void *p = kmalloc(64, GFP_KERNEL);
	struct child_result r;
	run_child(vfree_kmalloc, p, 10000, &r);
	char addr[32];
	CHECKF(child_signal(&r) == SIGABRT, "vfree(kmalloc pointer): status %#x, want SIGABRT", r.status);
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "kalloc") && contains(r.err, addr_text(p, addr)),
	       "report [%.400s]", r.err);
	kfree(p);
}

/* Hardened: vfree moves the pages away at once; they come back elsewhere. */
static void hardened(void)
{
	kalloc_trim();
	char *p = vmalloc(8UL << 20);
	CHECK(p != NULL);
	if (!p)
		return;
	memset(p, 0x6d, 8UL << 20);
	vfree(p);
	CHECKF(child_faults(p) && child_faults(p + (8UL << 20) - 1), "a freed area is still accessible");
	char *q = vmalloc(8UL << 20);
	CHECK(q != NULL);
	if (!q)
		return;
	CHECKF(q != p, "the freed area's range was handed out again at once");
	CHECKF(count_not(q, 8UL << 20, 0x6d) == 0, "the next area did not take the freed pages");
	CHECKF(child_faults(p), "the freed range is mapped again");
	CHECKF(child_faults(q + (8UL << 20)), "no guard after the area");
	vfree(q);
	kalloc_trim();
}

int main(void)
{
	basics();
	kalloc_ensure_init();
	CHECK(ktune.harden != KHARDEN_OFF);
	hardened();
	ktune.harden = KHARDEN_OFF;   /* the cache's own behaviour, below */
	reuse();
	grow_aligned();
	assembled();
	guard(1);
	guard(4096);
	guard(5UL << 20);
	guard((6UL << 20) + 100);
	kv();
	bad_vfree();
	return check_done();
}

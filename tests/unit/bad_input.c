/* SPDX-License-Identifier: MIT */
/*
 * bad_input: each misuse on its own.
 *   - an order above MAX_ORDER (alloc_pages, __get_free_pages) and a size
 *     above 4 MiB for alloc_pages_exact return NULL / 0 with errno ENOMEM
 *     and a one-line report; __GFP_NOWARN makes them silent;
 *   - size overflow in kcalloc and kmalloc_array, and sizes above
 *     PTRDIFF_MAX for kmalloc: NULL, ENOMEM, one line unless __GFP_NOWARN;
 *   - kfree of a pointer that is not a block's start (the stack, a wild
 *     address, a non-canonical one, the inside of a slab object, of a page
 *     block, of a huge block), of a freed page block, and of an object on a
 *     later page of a slab that went back to the page allocator: abort
 *     (SIGABRT) with one line containing "kalloc" and the address;
 *   - kmem_cache_free to the wrong cache: abort naming both caches;
 *   - a zero-size cache: NULL and a report; with SLAB_PANIC, abort;
 *   - __GFP_NOFAIL never returns NULL: possible requests succeed, impossible
 *     ones (kmalloc of PTRDIFF_MAX and above, kcalloc overflow, an order
 *     above MAX_ORDER, alloc_pages_exact above 4 MiB, a slab cache alloc
 *     is possible) abort with a report instead of returning NULL.
 * Reports that abort are checked in a forked child.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* failures that return                                                 */
/* ------------------------------------------------------------------ */

typedef void *(*attempt_fn)(gfp_t gfp);

/* Runs fn(gfp) with stderr captured: it must fail with ENOMEM and one
 * report line containing `word` (and "kalloc"); with __GFP_NOWARN it must
 * fail silently. */
static void expect_failure(const char *what, attempt_fn fn, gfp_t gfp, const char *word)
{
	struct capture cap;
	char err[4096];
	capture_begin(&cap);
	errno = 0;
	void *p = fn(gfp);
	int e = errno;
	capture_end(&cap, err, sizeof err);
	CHECKF(p == NULL, "%s returned %p", what, p);
	CHECKF(e == ENOMEM, "%s: errno %d, want ENOMEM", what, e);
	CHECKF(count_lines(err) == 1 && contains(err, "kalloc") && contains(err, word),
	       "%s: report [%.400s] should be one line with \"%s\"", what, err, word);

	capture_begin(&cap);
	errno = 0;
	p = fn(gfp | __GFP_NOWARN);
	e = errno;
	capture_end(&cap, err, sizeof err);
	CHECKF(p == NULL, "%s (__GFP_NOWARN) returned %p", what, p);
	CHECKF(e == ENOMEM, "%s (__GFP_NOWARN): errno %d, want ENOMEM", what, e);
	CHECKF(err[0] == '\0', "%s: __GFP_NOWARN did not silence [%.400s]", what, err);
}

static void *order_11(gfp_t gfp) { return alloc_pages(gfp, MAX_ORDER + 1); }
static void *order_huge(gfp_t gfp) { return alloc_pages(gfp, UINT_MAX); }
static void *gfp_order_11(gfp_t gfp) { return (void *)__get_free_pages(gfp, MAX_ORDER + 1); }
static void *exact_too_big(gfp_t gfp) { return alloc_pages_exact(KMAX_ORDER_SIZE + 1, gfp); }
static void *kcalloc_overflow(gfp_t gfp) { return kcalloc(SIZE_MAX / 2 + 1, 2, gfp); }
static void *kcalloc_overflow2(gfp_t gfp) { return kcalloc(1UL << 33, 1UL << 31, gfp); }
static void *array_overflow(gfp_t gfp) { return kmalloc_array(SIZE_MAX / 16, 17, gfp); }
static void *kmalloc_max(gfp_t gfp) { return kmalloc(SIZE_MAX, gfp); }
static void *kmalloc_above_ptrdiff(gfp_t gfp) { return kmalloc((size_t)PTRDIFF_MAX + 1, gfp); }
static void *kzalloc_above_ptrdiff(gfp_t gfp) { return kzalloc((size_t)PTRDIFF_MAX + 4096, gfp); }

static void failures_that_return(void)
{
	expect_failure("alloc_pages(order 11)", order_11, GFP_KERNEL, "order");
	expect_failure("alloc_pages(order UINT_MAX)", order_huge, GFP_KERNEL, "order");
	expect_failure("__get_free_pages(order 11)", gfp_order_11, GFP_KERNEL, "order");
	expect_failure("alloc_pages_exact(4 MiB + 1)", exact_too_big, GFP_KERNEL, "alloc_pages_exact");
	expect_failure("kcalloc(SIZE_MAX / 2 + 1, 2)", kcalloc_overflow, GFP_KERNEL, "kmalloc");
	expect_failure("kcalloc(2^33, 2^31)", kcalloc_overflow2, GFP_KERNEL, "kmalloc");
	expect_failure("kmalloc_array(SIZE_MAX / 16, 17)", array_overflow, GFP_KERNEL, "kmalloc");
	expect_failure("kmalloc(SIZE_MAX)", kmalloc_max, GFP_KERNEL, "kmalloc");
	expect_failure("kmalloc(PTRDIFF_MAX + 1)", kmalloc_above_ptrdiff, GFP_KERNEL, "kmalloc");
	expect_failure("kzalloc(PTRDIFF_MAX + 4096)", kzalloc_above_ptrdiff, GFP_KERNEL, "kmalloc");
}

/* ------------------------------------------------------------------ */
/* misuse that aborts                                                   */
/* ------------------------------------------------------------------ */

static int do_kfree(void *arg)
{
	kfree(arg);
	return 0;
}

static int do_free(void *arg)
{
	free(arg);
	return 0;
}

/* kfree(p) (free(p) when `libc`) in a child must abort with one line
 * naming "kalloc" and p. */
static void expect_abort_by(const char *what, const void *p, bool libc)
{
	struct child_result r;
	char addr[32];
	addr_text(p, addr);
	run_child(libc ? do_free : do_kfree, (void *)p, 10000, &r);
	CHECKF(child_signal(&r) == SIGABRT, "kfree(%s %s): status %#x (hung %d), want SIGABRT", what, addr,
	       r.status, r.hung);
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "kalloc") && contains(r.err, addr),
	       "kfree(%s): report [%.400s] should be one line with \"kalloc\" and %s", what, r.err, addr);
}

static void expect_kfree_abort(const char *what, const void *p)
{
	expect_abort_by(what, p, false);
}

static void bad_frees(void)
{
	int on_stack[4] = { 0 };
	expect_kfree_abort("a stack address", &on_stack[1]);
	expect_kfree_abort("a wild pointer", (void *)0x123456789000ull);
	expect_kfree_abort("an unaligned wild pointer", (void *)0x7f1234567891ull);
	expect_kfree_abort("a non-canonical pointer", (void *)0xdead000000001000ull);

	char *slab = kmalloc(64, GFP_KERNEL);
	char *block = kmalloc(100000, GFP_KERNEL);
	char *huge = kmalloc(6UL << 20, GFP_KERNEL);
	CHECK(slab && block && huge);
	if (!slab || !block || !huge)
		return;
	expect_kfree_abort("the inside of a slab object", slab + 8);
	expect_kfree_abort("the inside of a slab object (odd)", slab + 1);
	expect_kfree_abort("the inside of a page block (first page)", block + 16);
	expect_kfree_abort("the inside of a page block (later page)", block + 3 * PAGE_SIZE);
	expect_kfree_abort("the inside of a huge block", huge + 2 * PAGE_SIZE);
	expect_kfree_abort("the end of a huge block", huge + (6UL << 20));

	/* A freed page block (its pages back in the buddy allocator). */
	char *gone = kmalloc(200000, GFP_KERNEL);
	CHECK(gone != NULL);
	kfree(gone);
	expect_kfree_abort("a freed page block", gone);

	/* An object on a later page of a slab that went back to the page
	 * allocator (all its objects freed, then malloc_trim): its page must
	 * no longer say "slab", and freeing it again is reported. */
	{
		enum { N = 64 };
		char *o[N];
		for (int i = 0; i < N; i++)
			o[i] = kmalloc(4096, GFP_KERNEL);
		const struct kmem_cache *c = &kmalloc_caches[kmalloc_index(4096)];
		CHECKF(c->order >= 1, "kmalloc-4k slabs are one page: the case needs a later page");
		char *stale = NULL;
		for (int i = 0; i < N && !stale; i++)
			if (o[i] && ((uintptr_t)o[i] & c->slab_mask) >= PAGE_SIZE)
				stale = o[i];
		for (int i = 0; i < N; i++)
			kfree(o[i]);
		kalloc_trim();
		CHECK(stale != NULL);
		if (stale) {
			struct kchunk *ch = kchunk_of(stale);
			struct page *pg = ch ? kchunk_page(ch, stale) : NULL;
			CHECKF(pg && kpage_kind(pg) != KPG_KSLAB && kpage_kind(pg) != KPG_SLAB,
			       "a later page of a freed slab still says slab (kind %u)", pg ? kpage_kind(pg) : 99u);
			expect_kfree_abort("an object of a slab given back to the page allocator", stale);
			/* free's fast path reads the page's info word alone */
			expect_abort_by("an object of a slab given back (free)", stale, true);
		}
	}

	/* The parent still owns its blocks: they work. */
	memset(slab, 1, 64);
	memset(block, 2, 100000);
	memset(huge, 3, 6UL << 20);
	kfree(slab);
	kfree(block);
	kfree(huge);
}

struct wrong {
	struct kmem_cache *to;
	void *obj;
};

static int free_wrong(void *arg)
{
	struct wrong *w = arg;
	kmem_cache_free(w->to, w->obj);
	return 0;
}

static void wrong_cache(void)
{
	struct kmem_cache *a = kmem_cache_create("unit_bad_owner", 128, 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("unit_bad_other", 128, 0, 0, NULL);
	CHECK(a && b);
	if (!a || !b)
		return;
	void *obj = kmem_cache_alloc(a, GFP_KERNEL);
	CHECK(obj != NULL);
	struct wrong w = { b, obj };
	struct child_result r;
	run_child(free_wrong, &w, 10000, &r);
	CHECKF(child_signal(&r) == SIGABRT, "kmem_cache_free to the wrong cache: status %#x", r.status);
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "unit_bad_owner") &&
	               contains(r.err, "unit_bad_other"),
	       "wrong cache report [%.400s]", r.err);
	/* a pointer inside an object of the right cache */
	w.to = a;
	w.obj = (char *)obj + 8;
	run_child(free_wrong, &w, 10000, &r);
	char addr[32];
	CHECKF(child_signal(&r) == SIGABRT, "kmem_cache_free of an interior pointer: status %#x", r.status);
	CHECKF(count_lines(r.err) == 1 && contains(r.err, addr_text(w.obj, addr)), "interior report [%.400s]",
	       r.err);
	kmem_cache_free(a, obj);
	CHECK(kmem_cache_destroy(a) == 0);
	CHECK(kmem_cache_destroy(b) == 0);
}

static int create_zero_panic(void *arg)
{
	(void)arg;
	struct kmem_cache *c = kmem_cache_create("unit_zero_panic", 0, 0, SLAB_PANIC, NULL);
	return c == NULL ? 3 : 4;   /* not reached if SLAB_PANIC aborts */
}

static void zero_size_cache(void)
{
	struct capture cap;
	char err[4096];
	capture_begin(&cap);
	struct kmem_cache *c = kmem_cache_create("unit_zero_size", 0, 0, 0, NULL);
	capture_end(&cap, err, sizeof err);
	CHECK(c == NULL);
	CHECKF(count_lines(err) == 1 && contains(err, "unit_zero_size"), "zero-size report [%.400s]", err);

	struct child_result r;
	run_child(create_zero_panic, NULL, 10000, &r);
	CHECKF(child_signal(&r) == SIGABRT, "SLAB_PANIC with size 0: status %#x (exit %d), want SIGABRT",
	       r.status, child_exit(&r));
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "unit_zero_panic"), "SLAB_PANIC report [%.400s]",
	       r.err);
}

/* ------------------------------------------------------------------ */
/* __GFP_NOFAIL                                                         */
/* ------------------------------------------------------------------ */

static int nofail_kmalloc_ptrdiff(void *a) { (void)a; return kmalloc((size_t)PTRDIFF_MAX, GFP_KERNEL | __GFP_NOFAIL) ? 1 : 2; }
static int nofail_kmalloc_max(void *a) { (void)a; return kmalloc(SIZE_MAX, GFP_KERNEL | __GFP_NOFAIL) ? 1 : 2; }
static int nofail_kcalloc(void *a) { (void)a; return kcalloc(SIZE_MAX / 2, 3, GFP_KERNEL | __GFP_NOFAIL) ? 1 : 2; }
static int nofail_order(void *a) { (void)a; return alloc_pages(GFP_KERNEL | __GFP_NOFAIL, MAX_ORDER + 1) ? 1 : 2; }
static int nofail_gfp_order(void *a) { (void)a; return __get_free_pages(GFP_KERNEL | __GFP_NOFAIL, 20) ? 1 : 2; }
static int nofail_exact(void *a) { (void)a; return alloc_pages_exact(8UL << 20, GFP_KERNEL | __GFP_NOFAIL) ? 1 : 2; }
static int nofail_krealloc(void *a)
{
	(void)a;
	void *p = kmalloc(10, GFP_KERNEL);
	return krealloc(p, SIZE_MAX - 10, GFP_KERNEL | __GFP_NOFAIL) ? 1 : 2;
}

static void expect_nofail_abort(const char *what, int (*fn)(void *))
{
	struct child_result r;
	run_child(fn, NULL, 20000, &r);
	CHECKF(child_signal(&r) == SIGABRT,
	       "%s with __GFP_NOFAIL: status %#x (exit %d: 2 means it returned NULL), want SIGABRT", what, r.status,
	       child_exit(&r));
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "kalloc"), "%s with __GFP_NOFAIL: report [%.400s]",
	       what, r.err);
}

static void nofail(void)
{
	/* possible requests succeed */
	void *p = kmalloc(100, GFP_KERNEL | __GFP_NOFAIL);
	CHECK(p != NULL);
	kfree(p);
	p = kmalloc(5UL << 20, GFP_KERNEL | __GFP_NOFAIL);
	CHECK(p != NULL);
	kfree(p);
	struct page *pg = alloc_pages(GFP_KERNEL | __GFP_NOFAIL, MAX_ORDER);
	CHECK(pg != NULL);
	__free_pages(pg, MAX_ORDER);
	/* impossible requests abort */
	expect_nofail_abort("kmalloc(PTRDIFF_MAX)", nofail_kmalloc_ptrdiff);
	expect_nofail_abort("kmalloc(SIZE_MAX)", nofail_kmalloc_max);
	expect_nofail_abort("kcalloc overflow", nofail_kcalloc);
	expect_nofail_abort("alloc_pages(order 11)", nofail_order);
	expect_nofail_abort("__get_free_pages(order 20)", nofail_gfp_order);
	expect_nofail_abort("alloc_pages_exact(8 MiB)", nofail_exact);
	expect_nofail_abort("krealloc(SIZE_MAX - 10)", nofail_krealloc);
}

int main(void)
{
	failures_that_return();
	bad_frees();
	wrong_cache();
	zero_size_cache();
	nofail();
	return check_done();
}

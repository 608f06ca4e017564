/* SPDX-License-Identifier: MIT */
/*
 * slab_destroy: the rules of kmem_cache_destroy and of freeing to a cache.
 *   - destroying a cache that never allocated, or whose objects all came
 *     back, returns 0; kmem_cache_destroy(NULL) returns 0;
 *   - with live objects it returns -EBUSY, prints one line naming the cache
 *     and the count, and leaves the cache working: allocations and frees go
 *     on, and once the last object is back, destroy returns 0;
 *   - objects freed by kfree count as returned;
 *   - kmem_cache_free to the wrong cache (another cache of the same size, a
 *     cache of another size, a kmalloc object) aborts with a one-line
 *     report naming both caches (in a child).
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <signal.h>

static void destroy_empty(void)
{
	CHECK(kmem_cache_destroy(NULL) == 0);
	struct kmem_cache *c = kmem_cache_create("unit_never_used", 40, 0, 0, NULL);
	CHECK(c != NULL);
	CHECK(c && kmem_cache_destroy(c) == 0);

	c = kmem_cache_create("unit_all_back", 40, 0, 0, NULL);
	CHECK(c != NULL);
	if (!c)
		return;
	void *p[300];
	for (int i = 0; i < 300; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 300; i++)
		kmem_cache_free(c, p[i]);
	CHECK(kmem_cache_destroy(c) == 0);

	/* objects returned with kfree count too */
	c = kmem_cache_create("unit_kfreed", 200, 0, 0, NULL);
	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 100; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 100; i++)
		kfree(p[i]);
	CHECK(kmem_cache_destroy(c) == 0);
}

static void destroy_busy(void)
{
	struct kmem_cache *c = kmem_cache_create("unit_busy_cache", 64, 0, 0, NULL);
	CHECK(c != NULL);
	if (!c)
		return;
	void *p[3];
	for (int i = 0; i < 3; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(p[i] != NULL);
	}
	kmem_cache_free(c, p[0]);
	pattern_fill(p[1], 64, 1);
	pattern_fill(p[2], 64, 2);

	struct capture cap;
	char err[2048];
	capture_begin(&cap);
	int rc = kmem_cache_destroy(c);
	capture_end(&cap, err, sizeof err);
	CHECKF(rc == -EBUSY, "destroy with 2 live objects returned %d, want -EBUSY", rc);
	CHECKF(count_lines(err) == 1 && contains(err, "unit_busy_cache") && contains(err, "2") &&
	               contains(err, "kalloc"),
	       "report [%.400s]", err);

	/* still usable */
	void *more[500];
	for (int i = 0; i < 500; i++) {
		more[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(more[i] != NULL);
		if (more[i])
			memset(more[i], 0x11, 64);
	}
	/* the live objects were left alone */
	CHECK(pattern_check(p[1], 64, 1) == 64);
	CHECK(pattern_check(p[2], 64, 2) == 64);
	for (int i = 0; i < 500; i++)
		kmem_cache_free(c, more[i]);

	/* still busy with one left */
	kmem_cache_free(c, p[1]);
	capture_begin(&cap);
	rc = kmem_cache_destroy(c);
	capture_end(&cap, err, sizeof err);
	CHECKF(rc == -EBUSY, "destroy with 1 live object returned %d", rc);
	CHECKF(contains(err, "unit_busy_cache"), "report [%.400s]", err);

	kmem_cache_free(c, p[2]);
	capture_begin(&cap);
	rc = kmem_cache_destroy(c);
	capture_end(&cap, err, sizeof err);
	CHECKF(rc == 0, "destroy after the last free returned %d", rc);
	CHECKF(err[0] == '\0', "destroy of an empty cache printed [%.400s]", err);
}

struct wrong {
	struct kmem_cache *from, *to;
	void *obj;
};

static int free_wrong(void *arg)
{
	struct wrong *w = arg;
	kmem_cache_free(w->to, w->obj);
	return 0;   /* not reached if the allocator catches it */
}

static void expect_wrong_cache(struct kmem_cache *from, void *obj, struct kmem_cache *to, const char *from_name)
{
	struct wrong w = { from, to, obj };
	struct child_result r;
	run_child(free_wrong, &w, 10000, &r);
	char addr[32];
	addr_text(obj, addr);
	CHECKF(child_signal(&r) == SIGABRT, "free of a %s object to cache %s: status %#x (hung %d), want SIGABRT",
	       from_name, kmem_cache_name(to), r.status, r.hung);
	CHECKF(count_lines(r.err) == 1 && contains(r.err, "kalloc") && contains(r.err, from_name) &&
	               contains(r.err, kmem_cache_name(to)) && contains(r.err, addr),
	       "report [%.400s] should name %s, %s and %s", r.err, from_name, kmem_cache_name(to), addr);
}

static void wrong_cache(void)
{
	struct kmem_cache *a = kmem_cache_create("unit_cache_alpha", 64, 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("unit_cache_beta", 64, 0, 0, NULL);
	struct kmem_cache *big = kmem_cache_create("unit_cache_gamma", 1000, 0, 0, NULL);
	CHECK(a && b && big);
	if (!a || !b || !big)
		return;
	void *pa = kmem_cache_alloc(a, GFP_KERNEL);
	void *pbig = kmem_cache_alloc(big, GFP_KERNEL);
	void *pk = kmalloc(64, GFP_KERNEL);
	CHECK(pa && pbig && pk);
	expect_wrong_cache(a, pa, b, "unit_cache_alpha");
	expect_wrong_cache(big, pbig, a, "unit_cache_gamma");
	expect_wrong_cache(NULL, pk, b, "kmalloc-64");
	/* the parent's objects are untouched by what the children did */
	kmem_cache_free(a, pa);
	kmem_cache_free(big, pbig);
	kfree(pk);
	CHECK(kmem_cache_destroy(a) == 0);
	CHECK(kmem_cache_destroy(b) == 0);
	CHECK(kmem_cache_destroy(big) == 0);
}

int main(void)
{
	destroy_empty();
	destroy_busy();
	wrong_cache();
	return check_done();
}

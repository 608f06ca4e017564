/* SPDX-License-Identifier: MIT */
/*
 * The debug flags through the kernel-style API (linked with -lkalloc).
 *
 * Modes (argv[1]):
 *   flags    no KALLOC_DEBUG: a cache made with SLAB_RED_ZONE | SLAB_POISON |
 *            SLAB_STORE_USER catches an overflow by 1 and by 8 bytes, a
 *            double free at once and after other frees, a write after free
 *            on reuse, with both callers in the report; kalloc_validate
 *            finds a red zone smashed in a live object and a write into a
 *            free one; a cache with SLAB_CONSISTENCY_CHECKS alone catches a
 *            double free after 200 other allocations and frees; a plain cache (no flags) catches none of the overflow;
 *            kmem_cache_destroy of a debug cache empties its quarantine
 *   kmalloc  KALLOC_DEBUG=FZPU: kmalloc'd blocks of 24 bytes overflowed by
 *            1, 8 and 16 bytes are caught at kfree (the red zone starts at
 *            the size asked for); kalloc_validate finds an overflow of a
 *            live kmalloc'd block before it is freed
 */
#include "ktest.h"

#include <kalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static struct child_result r;
static struct kmem_cache *dc, *plain, *fc;

enum { K_OVERFLOW, K_DOUBLE, K_DOUBLE_LATER, K_UAF, K_VALIDATE_LIVE, K_VALIDATE_FREE, K_PLAIN_OVERFLOW,
       K_KMALLOC_OVERFLOW, K_KMALLOC_VALIDATE, K_F_DOUBLE_LATER };

struct job {
	int kind;
	size_t by;
};

__attribute__((noinline)) void *kdebug_site_alloc(void)
{
	void *p = kmem_cache_alloc(dc, GFP_KERNEL);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void kdebug_site_free(void *p)
{
	kmem_cache_free(dc, opaque_ptr(p));
	__asm__ volatile("" ::: "memory");
}

static int job_run(void *arg)
{
	struct job *j = arg;
	char *p;
	switch (j->kind) {
	case K_OVERFLOW:
		p = kdebug_site_alloc();
		memset(opaque_ptr(p), 0, 40 + j->by);
		kdebug_site_free(p);
		break;
	case K_DOUBLE:
		p = kdebug_site_alloc();
		kdebug_site_free(p);
		kdebug_site_free(p);
		break;
	case K_DOUBLE_LATER: {
		p = kdebug_site_alloc();
		kdebug_site_free(p);
		for (int i = 0; i < 100; i++)
			kdebug_site_free(kdebug_site_alloc());
		kdebug_site_free(p);
		break;
	}
	case K_UAF: {
		p = kdebug_site_alloc();
		kdebug_site_free(p);
		((volatile char *)p)[j->by] = 1;
		for (int i = 0; i < 600; i++)
			kdebug_site_free(kdebug_site_alloc());
		break;
	}
	case K_VALIDATE_LIVE:
		p = kdebug_site_alloc();
		((volatile char *)p)[40 + j->by - 1] = 7;
		opaque_ptr(p);
		kalloc_validate();
		break;
	case K_VALIDATE_FREE:
		p = kdebug_site_alloc();
		kdebug_site_free(p);
		((volatile char *)p)[j->by] = 7;
		kalloc_validate();
		break;
	case K_PLAIN_OVERFLOW:
		p = kmem_cache_alloc(plain, GFP_KERNEL);
		memset(opaque_ptr(p), 0, 40 + j->by);
		kmem_cache_free(plain, p);
		break;
	case K_F_DOUBLE_LATER: {
		void *o = kmem_cache_alloc(fc, GFP_KERNEL), *more[100];
		kmem_cache_free(fc, o);
		for (int i = 0; i < 100; i++)
			more[i] = kmem_cache_alloc(fc, GFP_KERNEL);
		for (int i = 0; i < 100; i++)
			kmem_cache_free(fc, more[i]);
		kmem_cache_free(fc, o);
		break;
	}
	case K_KMALLOC_OVERFLOW:
		p = kmalloc(opaque_size(24), GFP_KERNEL);
		memset(opaque_ptr(p), 0, 24 + j->by);
		kfree(opaque_ptr(p));
		break;
	case K_KMALLOC_VALIDATE:
		p = kmalloc(opaque_size(24), GFP_KERNEL);
		((volatile char *)p)[24 + j->by - 1] = 7;
		opaque_ptr(p);
		kalloc_validate();
		break;
	}
	return 0;
}

static void expect(const char *what, struct job j, const char *text, int callers)
{
	run_child(job_run, &j, 20000, &r);
	char how[128];
	child_describe(&r, how, sizeof how);
	CHECKF(child_aborted(&r), "%s: child %s, want SIGABRT; stderr: %s", what, how, r.err);
	CHECKF(contains(r.err, "kalloc: BUG "), "%s: no report; stderr: %s", what, r.err);
	CHECKF(contains(r.err, text), "%s: report lacks \"%s\"; stderr: %s", what, text, r.err);
	if (callers) {
		CHECKF(contains(r.err, "last allocated by 0x") && contains(r.err, "kdebug_site_alloc+0x"),
		       "%s: allocation caller missing; stderr: %s", what, r.err);
		if (callers > 1)
			CHECKF(contains(r.err, "last freed by 0x") && contains(r.err, "kdebug_site_free+0x"),
			       "%s: free caller missing; stderr: %s", what, r.err);
	}
}

static void mode_flags(void)
{
	dc = kmem_cache_create("debug-test", 40, 0, SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER, NULL);
	plain = kmem_cache_create("plain-test", 40, 0, 0, NULL);
	fc = kmem_cache_create("fcheck-test", 40, 0, SLAB_CONSISTENCY_CHECKS, NULL);
	CHECK(dc && plain && fc);
	if (!dc || !plain || !fc)
		return;
	/* F alone: the object's state catches a double free however many
	 * allocations and frees came between (no callers without U). */
	expect("SLAB_CONSISTENCY_CHECKS double free after 200 others", (struct job){ K_F_DOUBLE_LATER, 0 },
	       "BUG fcheck-test: double free", 0);
	CHECKF(!contains(r.err, "last allocated"), "callers printed without SLAB_STORE_USER: %s", r.err);
	expect("cache overflow by 1", (struct job){ K_OVERFLOW, 1 }, "BUG debug-test: buffer overflow", 1);
	expect("cache overflow by 8", (struct job){ K_OVERFLOW, 8 }, "damage at offset 40 ", 1);
	expect("cache double free", (struct job){ K_DOUBLE, 0 }, "BUG debug-test: double free", 2);
	expect("cache double free after 100 others", (struct job){ K_DOUBLE_LATER, 0 }, "double free", 2);
	expect("cache write after free", (struct job){ K_UAF, 13 }, "damage at offset 13 (the object)", 2);
	expect("kalloc_validate, live object", (struct job){ K_VALIDATE_LIVE, 4 },
	       "kalloc_validate: red zone damaged", 1);
	expect("kalloc_validate, free object", (struct job){ K_VALIDATE_FREE, 5 },
	       "kalloc_validate: free object damaged", 2);

	/* A cache without the flags: an overflow into the slot's slack is
	 * not seen (the slot of a 40-byte object is 48 bytes). */
	struct job j = { K_PLAIN_OVERFLOW, 8 };
	run_child(job_run, &j, 20000, &r);
	CHECKF(child_exit(&r) == 0 && !contains(r.err, "BUG"), "plain cache overflow reported: %s", r.err);

	/* The parent: objects used normally, validated, cache destroyed
	 * with objects in its quarantine. */
	void *objs[50];
	for (int i = 0; i < 50; i++) {
		objs[i] = kmem_cache_alloc(dc, GFP_KERNEL);
		memset(objs[i], i, 40);
	}
	for (int i = 0; i < 50; i++)
		kmem_cache_free(dc, objs[i]);
	CHECK(kalloc_validate() == 0);
	kmem_cache_destroy(dc);
	kmem_cache_destroy(plain);
	kmem_cache_destroy(fc);
}

static void mode_kmalloc(void)
{
	static const size_t bys[] = { 1, 8, 16 };
	for (int b = 0; b < 3; b++) {
		char what[64];
		snprintf(what, sizeof what, "kmalloc(24) overflow by %zu", bys[b]);
		expect(what, (struct job){ K_KMALLOC_OVERFLOW, bys[b] }, "damage at offset 24 ", 0);
	}
	expect("kalloc_validate, live kmalloc block", (struct job){ K_KMALLOC_VALIDATE, 1 },
	       "kalloc_validate: red zone damaged", 0);
	void *p = kmalloc(24, GFP_KERNEL);
	memset(p, 1, 24);
	CHECK(ksize(p) == 24);
	kfree(p);
	CHECK(kalloc_validate() == 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "flags";
	if (strcmp(mode, "kmalloc") == 0)
		mode_kmalloc();
	else
		mode_flags();
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * malloc(0) and its kin return a unique pointer into an inaccessible region
 * (KALLOC_HARDEN, on by default): any read or write through it faults.
 *
 * Cases:
 *   - 200,000 live malloc(0) pointers (and calloc(0, n), realloc(NULL, 0),
 *     memalign(a, 0), aligned_alloc(a, 0), posix_memalign(a, 0)) are all
 *     different, aligned as asked, and malloc_usable_size says 0; after
 *     half of them are freed, the next 100,000 are still unique among the
 *     live ones;
 *   - a read and a write through one kill a child with SIGSEGV; under
 *     KALLOC_DEBUG=F (a fresh process) the write is reported as
 *     "zero-size access at ADDR (malloc(0) block)" and ends in SIGABRT, and
 *     a fault elsewhere still reaches the program's own SIGSEGV handler;
 *   - free, realloc(p, n), realloc(p, 0) of one work; a double free is
 *     reported, naming the address, and aborts; so is malloc_usable_size of
 *     a freed one;
 *   - when the region is full (1,048,576 live slots, KZERO_SLOTS), the next
 *     malloc(0) is a 16-byte block that can be written (the old behaviour),
 *     and after a free the region hands out slots again;
 *   - KALLOC_HARDEN=0 (a fresh process) restores the old behaviour: a
 *     16-byte block that can be written and read;
 *   - under an RLIMIT_AS too tight for the region (a fresh process whose
 *     first malloc(0) comes after the limit), malloc(0) still returns a
 *     unique block, and large allocations still fail with ENOMEM.
 * Under glibc (no KALLOC_EXPECT) only the uniqueness is required.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIVE 200000

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* 1 when the n pointers are all different (sorts a copy). */
static int all_unique(void **p, size_t n)
{
	uintptr_t *s = malloc(n * sizeof *s);
	if (!s)
		return 0;
	for (size_t i = 0; i < n; i++)
		s[i] = (uintptr_t)p[i];
	qsort(s, n, sizeof *s, cmp_ptr);
	int ok = 1;
	for (size_t i = 1; i < n; i++)
		if (s[i] == s[i - 1])
			ok = 0;
	free(s);
	return ok;
}

static void uniqueness(void)
{
	void **p = malloc(LIVE * sizeof *p);
	CHECK(p != NULL);
	if (!p)
		return;
	size_t bad_usable = 0, null = 0;
	for (size_t i = 0; i < LIVE; i++) {
		p[i] = malloc(opaque_size(0));
		null += p[i] == NULL;
		if (p[i] && expect_kalloc() && malloc_usable_size(p[i]) != 0)
			bad_usable++;
	}
	CHECKF(null == 0, "%zu of %d malloc(0) returned NULL", null, LIVE);
	CHECKF(all_unique(p, LIVE), "two live malloc(0) pointers are equal");
	CHECKF(bad_usable == 0, "%zu malloc(0) blocks have a usable size other than 0", bad_usable);
	for (size_t i = 0; i < LIVE; i += 2)
		free(p[i]);
	for (size_t i = 0; i < LIVE; i += 2)
		p[i] = i % 4 ? calloc(opaque_size(0), opaque_size(8)) : realloc(NULL, opaque_size(0));
	CHECKF(all_unique(p, LIVE), "after frees, a new zero-size pointer equals a live one");
	for (size_t i = 0; i < LIVE; i++)
		free(p[i]);
	free(p);

	/* aligned ones */
	for (size_t align = 32; align <= 4096; align *= 2) {
		void *a = memalign(opaque_size(align), opaque_size(0));
		void *b = aligned_alloc(opaque_size(align), opaque_size(0));
		void *c = NULL;
		CHECK(posix_memalign(&c, opaque_size(align), opaque_size(0)) == 0);
		CHECKF(a && b && c && a != b && b != c && a != c, "align %zu: %p %p %p", align, a, b, c);
		CHECKF(((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % align == 0, "align %zu: %p %p %p", align, a, b,
		       c);
		if (expect_kalloc())
			CHECKF(a && malloc_usable_size(a) == 0, "memalign(%zu, 0): usable size %zu", align,
			       a ? malloc_usable_size(a) : 0);
		free(a);
		free(b);
		free(c);
	}
}

/* The region's 16 MiB hold 1,048,576 slots; one more live malloc(0) gets a
 * writable 16-byte block. */
#define REGION_SLOTS (16UL << 20) / 16

static void region_full(void)
{
	size_t n = REGION_SLOTS + 8;
	void **p = malloc(n * sizeof *p);
	CHECK(p != NULL);
	if (!p)
		return;
	size_t writable = 0;
	for (size_t i = 0; i < n; i++)
		p[i] = malloc(opaque_size(0));
	/* the last ones, past the region, are ordinary blocks */
	for (size_t i = REGION_SLOTS; i < n; i++)
		if (p[i] && malloc_usable_size(p[i]) >= 16) {
			memset(p[i], 0x5a, 16);
			writable++;
		}
	CHECKF(writable == n - REGION_SLOTS, "region full: %zu of %zu malloc(0) blocks past it are writable",
	       writable, (size_t)(n - REGION_SLOTS));
	CHECKF(malloc_usable_size(p[REGION_SLOTS - 1]) == 0, "the last slot of the region has usable size %zu",
	       malloc_usable_size(p[REGION_SLOTS - 1]));
	free(p[100]);
	void *again = malloc(opaque_size(0));
	CHECKF(again && malloc_usable_size(again) == 0, "after a free, malloc(0) did not take the freed slot");
	free(again);
	for (size_t i = 0; i < n; i++)
		if (i != 100)
			free(p[i]);
	free(p);
}

/* ---- children ---------------------------------------------------------- */

enum op { READ, WRITE, DOUBLE_FREE, USABLE_FREED, REALLOC_OK };

static int child_op(void *arg)
{
	enum op op = (enum op)(uintptr_t)arg;
	volatile char *z = opaque_ptr(malloc(opaque_size(0)));
	switch (op) {
	case READ:
		return z[0] == 0x7f ? 2 : 1;   /* reached only if the read did not fault */
	case WRITE:
		z[0] = 1;
		return 1;
	case DOUBLE_FREE:
		free((void *)z);
		free(opaque_ptr((void *)z));
		return 1;
	case USABLE_FREED:
		free((void *)z);
		return (int)malloc_usable_size(opaque_ptr((void *)z)) + 1;
	case REALLOC_OK: {
		char *q = realloc((void *)z, opaque_size(100));
		if (!q || malloc_usable_size(q) < 100)
			return 3;
		memset(q, 0x5a, 100);
		void *r = realloc(q, opaque_size(0));   /* frees */
		if (r)
			return 4;
		void *y = realloc(NULL, opaque_size(0));
		if (!y)
			return 5;
		free(y);
		return 0;
	}
	}
	return 9;
}

/* A fresh process (exec of this program) with one variable set, running
 * mode argv[1]. */
struct fresh {
	const char *var, *val, *mode;
};
static const char *self;

static int exec_fresh(void *arg)
{
	const struct fresh *f = arg;
	setenv(f->var, f->val, 1);
	execl(self, self, f->mode, (char *)NULL);
	return 99;
}

static void fresh(const char *var, const char *val, const char *mode, struct child_result *r)
{
	struct fresh f = { var, val, mode };
	run_child(exec_fresh, &f, 20000, r);
}

/* mode "debug-write": KALLOC_DEBUG=F; the write must be reported. */
static int mode_debug_write(void)
{
	volatile char *z = opaque_ptr(malloc(opaque_size(0)));
	fprintf(stderr, "[test] block %p\n", (void *)z);
	z[5] = 1;
	return 1;
}

static void own_handler(int sig)
{
	(void)sig;
	_exit(7);
}

/* mode "debug-chain": the program's handler, installed first, still gets
 * a fault outside the region. */
static int mode_debug_chain(void)
{
	set_handler(SIGSEGV, own_handler, 0);
	free(malloc(opaque_size(0)));   /* reserves the region: kalloc's handler */
	volatile int *wild = opaque_ptr((void *)(uintptr_t)64);
	return *wild;
}

/* mode "ops": free, realloc (to 0, small, a page block, a huge area) and
 * malloc_usable_size of malloc(0) blocks, run under KALLOC_DEBUG=F and
 * KALLOC_HARDEN=full, whose block checks must leave such blocks alone. */
static int mode_ops(void)
{
	free(malloc(opaque_size(0)));
	const size_t to[] = { 0, 10, 100000, 10UL << 20 };
	for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
		char *z = malloc(opaque_size(0));
		if (!z || malloc_usable_size(z) != 0)
			return 2;
		char *n = realloc(z, opaque_size(to[i]));
		if (to[i] && !n)
			return 3;
		if (n && to[i])
			memset(n, 1, to[i]);
		free(n);
	}
	return 0;
}

/* mode "off": KALLOC_HARDEN=0, malloc(0) is an ordinary 16-byte block. */
static int mode_off(void)
{
	volatile char *z = opaque_ptr(malloc(opaque_size(0)));
	if (!z)
		return 2;
	z[0] = 42;
	z[15] = 43;
	int ok = z[0] == 42 && z[15] == 43 && malloc_usable_size((void *)z) >= 16;
	free((void *)z);
	return ok ? 0 : 3;
}

/* mode "rlimit": the address space is capped below the region's size
 * before the first malloc(0); it still returns a block, and a large
 * request fails with ENOMEM. */
static int mode_rlimit(void)
{
	free(malloc(opaque_size(64)));   /* kalloc initialised, region not reserved */
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%lu", &pages) != 1)
		return 2;
	fclose(f);
	size_t vm = pages * (size_t)sysconf(_SC_PAGESIZE);
	struct rlimit rl = { vm + (4UL << 20), vm + (4UL << 20) };
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 3;
	void *a = malloc(opaque_size(0)), *b = malloc(opaque_size(0));
	if (!a || !b || a == b)
		return 4;
	errno = 0;
	void *big = malloc(opaque_size(64UL << 20));
	if (big || errno != ENOMEM)
		return 5;
	free(a);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1) {
		if (!strcmp(argv[1], "debug-write"))
			return mode_debug_write();
		if (!strcmp(argv[1], "debug-chain"))
			return mode_debug_chain();
		if (!strcmp(argv[1], "off"))
			return mode_off();
		if (!strcmp(argv[1], "ops"))
			return mode_ops();
		if (!strcmp(argv[1], "rlimit"))
			return mode_rlimit();
		return 98;
	}
	check_allocator();
	uniqueness();

	static struct child_result r;
	char how[128];
	run_child(child_op, (void *)(uintptr_t)REALLOC_OK, 10000, &r);
	CHECKF(child_exit(&r) == 0, "free/realloc of a malloc(0) block: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	run_child(child_op, (void *)(uintptr_t)DOUBLE_FREE, 10000, &r);
	CHECKF(child_aborted(&r), "double free of a malloc(0) block: child %s, want SIGABRT",
	       child_describe(&r, how, sizeof how));
	if (!expect_kalloc())
		return check_done();

	CHECKF(contains(r.err, "kalloc") && contains(r.err, "malloc(0)") && contains(r.err, "double free"),
	       "double free of a malloc(0) block: stderr: %s", r.err);
	region_full();
	run_child(child_op, (void *)(uintptr_t)USABLE_FREED, 10000, &r);
	CHECKF(child_aborted(&r) && contains(r.err, "malloc(0)"),
	       "malloc_usable_size of a freed malloc(0) block: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	run_child(child_op, (void *)(uintptr_t)READ, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "read through malloc(0): child %s, want SIGSEGV",
	       child_describe(&r, how, sizeof how));
	run_child(child_op, (void *)(uintptr_t)WRITE, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "write through malloc(0): child %s, want SIGSEGV",
	       child_describe(&r, how, sizeof how));

	fresh("KALLOC_DEBUG", "F", "debug-write", &r);
	CHECKF(child_aborted(&r) && contains(r.err, "kalloc: zero-size access at 0x") &&
	           contains(r.err, "(malloc(0) block)"),
	       "KALLOC_DEBUG=F, write through malloc(0): child %s; stderr: %s", child_describe(&r, how, sizeof how),
	       r.err);
	{
		/* the report names the address written (the block + 5) */
		const char *blk = strstr(r.err, "[test] block 0x");
		unsigned long b = blk ? strtoul(blk + 13, NULL, 16) : 0;
		char want[32];
		CHECKF(b && contains(r.err, addr_text((void *)(b + 5), want)), "zero-size report address: %s",
		       r.err);
	}
	fresh("KALLOC_DEBUG", "F", "debug-chain", &r);
	CHECKF(child_exit(&r) == 7, "KALLOC_DEBUG=F, fault elsewhere: child %s, want the program's handler "
	                            "(exit 7); stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	fresh("KALLOC_DEBUG", "F", "ops", &r);
	CHECKF(child_exit(&r) == 0, "KALLOC_DEBUG=F, free and realloc of malloc(0) blocks: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	fresh("KALLOC_HARDEN", "full", "ops", &r);
	CHECKF(child_exit(&r) == 0, "KALLOC_HARDEN=full, free and realloc of malloc(0) blocks: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	fresh("KALLOC_HARDEN", "0", "off", &r);
	CHECKF(child_exit(&r) == 0, "KALLOC_HARDEN=0: malloc(0) block not writable: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	fresh("KALLOC_HARDEN", "1", "rlimit", &r);
	CHECKF(child_exit(&r) == 0, "RLIMIT_AS below the region: child %s; stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	return check_done();
}

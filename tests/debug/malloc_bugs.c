/* SPDX-License-Identifier: MIT */
/*
 * KALLOC_DEBUG under the preload library: planted bugs in malloc'd blocks
 * are caught and reported (docs/debugging.md).  Each bug runs in a forked
 * child, which must die of SIGABRT with a report naming the bug, the block
 * and the damage; the cases that must not be caught must exit normally.
 *
 * Modes (argv[1]; meson.build sets KALLOC_DEBUG to match):
 *   fzpu    KALLOC_DEBUG=FZPU: double free at once and after other
 *           allocations and frees; overflow by 1, 8 and 16 bytes of blocks
 *           of 24, 40 and 100 bytes; write after free at the start and in
 *           the middle, caught when the quarantine hands the object back;
 *           a read of a freed block sees 0x6b; both callers in the report,
 *           resolved to this program's functions (linked -rdynamic);
 *           realloc in place and malloc_usable_size keep the red zone
 *           where the program may write (no false report); memalign'd
 *           blocks keep their alignment in debug classes (a regression:
 *           the larger debug slots once broke it)
 *   select  KALLOC_DEBUG=FZPU,kmalloc-64: an overflow of a 50-byte block
 *           is caught, one of a 200-byte block (kmalloc-256) is not
 *   trace   KALLOC_DEBUG=T,kmalloc-64: one stderr line per malloc and free
 *           of kmalloc-64
 */
#include "ktest.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* kalloc.h's, found in the preload library at run time. */
__attribute__((weak)) int kalloc_validate(void);

static struct child_result r;

/* The allocation and free sites the report must name (exported by
 * -rdynamic, so dladdr finds them). */
__attribute__((noinline)) void *debug_site_alloc(size_t n)
{
	void *p = malloc(opaque_size(n));
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void debug_site_free(void *p)
{
	free(opaque_ptr(p));
	__asm__ volatile("" ::: "memory");
}

/* Allocations and frees of n bytes, enough to push a freed object through
 * the quarantine (256 objects) and back out. */
static void churn(size_t n, int rounds)
{
	static void *keep[64];
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 64; i++)
			keep[i] = malloc(opaque_size(n));
		for (int i = 0; i < 64; i++)
			free(opaque_ptr(keep[i]));
	}
}

struct job {
	int kind;
	size_t size, by;
	void *addr;
};

enum { J_DOUBLE_AT_ONCE, J_DOUBLE_LATER, J_OVERFLOW, J_UAF, J_SELECT_OTHER };

static int job_run(void *arg)
{
	struct job *j = arg;
	char *p = debug_site_alloc(j->size);
	j->addr = p;
	switch (j->kind) {
	case J_DOUBLE_AT_ONCE:
		debug_site_free(p);
		debug_site_free(p);
		break;
	case J_DOUBLE_LATER:
		debug_site_free(p);
		churn(j->size, 2);
		debug_site_free(p);
		break;
	case J_OVERFLOW:
	case J_SELECT_OTHER:
		memset(opaque_ptr(p), 0x41, j->size);
		memset((char *)opaque_ptr(p) + j->size, 0x42, j->by);   /* by bytes past the end */
		debug_site_free(p);
		break;
	case J_UAF:
		debug_site_free(p);
		((volatile char *)p)[j->by] = 0x17;   /* j->by: offset written */
		churn(j->size, 8);
		break;
	}
	return 0;
}

/* The child reports before it aborts: the address is known to the child
 * only, so the parent allocates the same way first to learn nothing; the
 * report is checked for its text instead, and for "object 0x". */
static void expect_report(const char *what, struct job *j, const char *text, const char *text2)
{
	run_child(job_run, j, 20000, &r);
	char how[128];
	child_describe(&r, how, sizeof how);
	CHECKF(child_aborted(&r), "%s (%zu bytes): child %s, want SIGABRT; stderr: %s", what, j->size, how, r.err);
	CHECKF(contains(r.err, "kalloc: BUG kmalloc-"), "%s: no report; stderr: %s", what, r.err);
	CHECKF(contains(r.err, text), "%s: report lacks \"%s\"; stderr: %s", what, text, r.err);
	if (text2)
		CHECKF(contains(r.err, text2), "%s: report lacks \"%s\"; stderr: %s", what, text2, r.err);
	CHECKF(contains(r.err, "object 0x"), "%s: report lacks the address; stderr: %s", what, r.err);
}

/* The report names both callers, in this program's two functions. */
static void check_callers(const char *what)
{
	const char *a = strstr(r.err, "last allocated by 0x");
	const char *f = strstr(r.err, "last freed by 0x");
	CHECKF(a && f, "%s: report lacks a caller; stderr: %s", what, r.err);
	if (!a || !f)
		return;
	unsigned long aa = strtoul(a + strlen("last allocated by "), NULL, 16);
	unsigned long fa = strtoul(f + strlen("last freed by "), NULL, 16);
	CHECKF(aa && fa && aa != fa, "%s: callers %lx and %lx; stderr: %s", what, aa, fa, r.err);
	const char *aend = strchr(a, '\n'), *fend = strchr(f, '\n');
	char aline[512] = "", fline[512] = "";
	if (aend)
		memcpy(aline, a, MIN((size_t)(aend - a), sizeof aline - 1));
	if (fend)
		memcpy(fline, f, MIN((size_t)(fend - f), sizeof fline - 1));
	CHECKF(contains(aline, "debug_site_alloc+0x"), "%s: allocation caller not resolved to debug_site_alloc: %s",
	       what, aline);
	CHECKF(contains(fline, "debug_site_free+0x") || contains(fline, "job_run+0x"),
	       "%s: free caller not resolved to this program: %s", what, fline);
}

static void mode_fzpu(void)
{
	struct job j = { J_DOUBLE_AT_ONCE, 32, 0, NULL };
	expect_report("double free at once", &j, "double free", NULL);
	check_callers("double free at once");

	j = (struct job){ J_DOUBLE_LATER, 48, 0, NULL };
	expect_report("double free after 128 other allocations and frees", &j, "double free", NULL);
	check_callers("double free later");

	static const size_t sizes[] = { 24, 40, 100 };
	static const size_t bys[] = { 1, 8, 16 };
	for (size_t s = 0; s < 3; s++)
		for (size_t b = 0; b < 3; b++) {
			char what[64], off[64];
			snprintf(what, sizeof what, "overflow by %zu of a %zu-byte block", bys[b], sizes[s]);
			snprintf(off, sizeof off, "damage at offset %zu ", sizes[s]);
			j = (struct job){ J_OVERFLOW, sizes[s], bys[b], NULL };
			expect_report(what, &j, "buffer overflow", off);
			check_callers(what);
		}

	static const size_t uaf_at[] = { 0, 20 };
	for (size_t k = 0; k < 2; k++) {
		char what[64], off[64];
		snprintf(what, sizeof what, "write after free at offset %zu", uaf_at[k]);
		snprintf(off, sizeof off, "damage at offset %zu (the object): 0x17, expected 0x6b", uaf_at[k]);
		j = (struct job){ J_UAF, 40, uaf_at[k], NULL };
		expect_report(what, &j, "write after free", off);
		check_callers(what);
	}

	/* A read of a freed block sees the poison (no report: reading is
	 * not caught, the value read is what shows the bug). */
	unsigned char *p = malloc(opaque_size(64));
	memset(p, 0x11, 64);
	free(opaque_ptr(p));
	int poisoned = 0;
	for (int i = 0; i < 63; i++)
		poisoned += ((volatile unsigned char *)p)[i] == 0x6b;
	CHECKF(poisoned == 63, "freed block reads %d bytes of 0x6b of 63", poisoned);
	CHECKF(((volatile unsigned char *)p)[63] == 0xa5, "last byte of a freed block reads 0x%x, want 0xa5",
	       ((volatile unsigned char *)p)[63]);

	/* No false reports: the usable size is the size asked for, realloc
	 * in place moves the red zone, calloc and realloc keep contents. */
	char *q = malloc(opaque_size(20));
	CHECK(malloc_usable_size(q) == 20);
	memset(q, 0x33, malloc_usable_size(q));
	q = realloc(q, opaque_size(18));
	CHECK(q && malloc_usable_size(q) == 18);
	memset(q, 0x34, 18);
	q = realloc(q, opaque_size(30));
	CHECK(q && q[0] == 0x34 && q[17] == 0x34);
	memset(q, 0x35, 30);
	free(q);
	int *z = calloc(opaque_size(10), sizeof(int));
	for (int i = 0; i < 10; i++)
		CHECK(z[i] == 0);
	free(z);
	CHECK(kalloc_validate && kalloc_validate() == 0);

	/* Regression: a debug class keeps the alignment its plain stride
	 * gives (memalign picks a class by it), though its slots are larger. */
	static const size_t al[][2] = { { 64, 5000 }, { 128, 5000 }, { 256, 5000 }, { 128, 384 }, { 256, 768 },
		                        { 512, 1536 }, { 4096, 100 } };
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		void *m = memalign(opaque_size(al[i][0]), opaque_size(al[i][1]));
		CHECKF(m && ((uintptr_t)m & (al[i][0] - 1)) == 0, "memalign(%zu, %zu) = %p", al[i][0], al[i][1], m);
		if (m)
			memset(m, 1, al[i][1]);
		free(m);
	}
}

static void mode_select(void)
{
	struct job j = { J_OVERFLOW, 50, 8, NULL };
	expect_report("overflow by 8 of a 50-byte block (kmalloc-64 selected)", &j, "BUG kmalloc-64: buffer overflow",
	              "damage at offset 50 ");
	j = (struct job){ J_SELECT_OTHER, 200, 8, NULL };
	run_child(job_run, &j, 20000, &r);
	char how[128];
	child_describe(&r, how, sizeof how);
	CHECKF(child_exit(&r) == 0, "overflow of a 200-byte block (kmalloc-256, not selected): child %s, want exit 0; "
	                            "stderr: %s", how, r.err);
	CHECKF(!contains(r.err, "BUG"), "kmalloc-256 reported though not selected: %s", r.err);
}

static int trace_child(void *arg)
{
	(void)arg;
	void *p = malloc(opaque_size(50));
	void *q = malloc(opaque_size(200));   /* kmalloc-256: not traced */
	free(opaque_ptr(p));
	free(opaque_ptr(q));
	return 0;
}

static void mode_trace(void)
{
	run_child(trace_child, NULL, 20000, &r);
	char how[128];
	child_describe(&r, how, sizeof how);
	CHECKF(child_exit(&r) == 0, "trace: child %s; stderr: %s", how, r.err);
	CHECKF(contains(r.err, "kalloc: trace kmalloc-64 alloc 0x"), "trace: no alloc line; stderr: %s", r.err);
	CHECKF(contains(r.err, "kalloc: trace kmalloc-64 free 0x"), "trace: no free line; stderr: %s", r.err);
	CHECKF(!contains(r.err, "kmalloc-256"), "trace: kmalloc-256 traced; stderr: %s", r.err);
	CHECKF(count_lines(r.err) >= 2, "trace: %d lines, want 2; stderr: %s", count_lines(r.err), r.err);
}

int main(int argc, char **argv)
{
	check_allocator();
	const char *mode = argc > 1 ? argv[1] : "fzpu";
	if (strcmp(mode, "select") == 0)
		mode_select();
	else if (strcmp(mode, "trace") == 0)
		mode_trace();
	else
		mode_fzpu();
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * The default hardening (KALLOC_HARDEN=1, the default) against planted bugs,
 * each in a child that runs this program again (execv) with KALLOC_HARDEN
 * set, so that the setting is read afresh:
 *
 *  - a double free after 1, 10 and 1,000 other blocks of the same size were
 *    allocated and freed (they lie above it in the per-CPU stack, or pushed
 *    it to its slab), in the classes of 16, 64, 512, 4096 and 20,480 bytes
 *    and a 64 KiB page-class block; the second free from the same thread, and
 *    from another thread while the first thread, which freed the block,
 *    still runs (its per-thread stack holds the block in KALLOC_RSEQ=0
 *    mode);
 *  - a double free of a block that a trim sent back to its slab;
 *  - a free pointer overwritten after free (the block's first word, in its
 *    slab's free list), then allocations until it is followed: reported as
 *    "corrupted free list", not a crash;
 *  - a page block (33 KiB to 4 MiB) written 1 or 8 bytes past its end, then
 *    freed (plain, memalign'd, realloc'd in place to a larger size first):
 *    its canary reports it; kalloc_validate finds one in a block still held;
 *  - malloc_usable_size, then every usable byte written, and realloc in
 *    place: no report.
 *
 * Each bug must end in SIGABRT with the report's text under KALLOC_HARDEN=1,
 * and under KALLOC_HARDEN=0 the report must be absent (what catches it is
 * the hardening).  Run by `meson test --suite api` under the preload library
 * (KALLOC_EXPECT=1) and by ./test.sh in both front-cache modes.
 */
#include "ktest.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char self[4096];

/* What only the free tag's check reports. */
#define FREE_ALREADY "the object is free already"


/* ---- the cases, run in the re-executed child ------------------------- */

struct df_thread {
	void *p;
	void **q;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int freed, done;
};

/* The first thread's part: free p, then the n others, then wait until the
 * second free has been made (so the thread's stack stays). */
static void *df_first(void *arg)
{
	struct df_thread *t = arg;
	free(t->p);
	for (size_t i = 0; i < t->n; i++)
		free(t->q[i]);
	pthread_mutex_lock(&t->lock);
	t->freed = 1;
	pthread_cond_broadcast(&t->cond);
	while (!t->done)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* p and n others of `size` bytes; p freed, then the others freed, then n
 * allocations each freed at once (the stack stays above p: p does not come
 * back), then p freed again: by this thread, or (other_thread) by this
 * thread while another one made the first frees and still runs.  The child
 * stays on one CPU, so that its per-CPU stack is one. */
static int case_double_free(size_t size, size_t n, int other_thread, int trim)
{
	void *p = malloc(size);
	void **q = malloc((n + 1) * sizeof *q);
	if (!p || !q)
		return 3;
	memset(p, 0x5a, size);
	for (size_t i = 0; i < n; i++) {
		q[i] = malloc(size);
		if (!q[i])
			return 3;
		memset(q[i], 0x33, size);
	}
	fprintf(stderr, "[test] block %p\n", p);
	if (other_thread) {
		struct df_thread t = { .p = p, .q = q, .n = n };
		pthread_mutex_init(&t.lock, NULL);
		pthread_cond_init(&t.cond, NULL);
		pthread_t th;
		if (pthread_create(&th, NULL, df_first, &t) != 0)
			return 3;
		pthread_mutex_lock(&t.lock);
		while (!t.freed)
			pthread_cond_wait(&t.cond, &t.lock);
		pthread_mutex_unlock(&t.lock);
		free(opaque_ptr(p));   /* the double free */
		pthread_mutex_lock(&t.lock);
		t.done = 1;
		pthread_cond_broadcast(&t.cond);
		pthread_mutex_unlock(&t.lock);
		pthread_join(th, NULL);
		return 0;
	}
	free(p);
	for (size_t i = 0; i < n; i++)
		if (!trim || i % 2 == 0)   /* trim: the odd ones keep the slabs */
			free(q[i]);
	for (size_t i = 0; i < n; i++) {
		void *r = malloc(size);
		if (r == p) {
			fprintf(stderr, "[test] the block came back before the double free\n");
			return 3;
		}
		memset(r, 0x44, size);
		free(r);
	}
	if (trim)
		malloc_trim(0);   /* the front caches back to the slabs */
	free(opaque_ptr(p));   /* the double free */
	return 0;
}

/* Blocks of 64 bytes, every other one freed, the front caches sent back to
 * the slabs (malloc_trim; the live ones keep the slabs), the first word of
 * one freed block overwritten, then allocations until its free pointer is
 * followed. */
static int case_corrupt_fp(void)
{
	enum { N = 512 };
	static void *b[N];
	for (int i = 0; i < N; i++)
		if (!(b[i] = malloc(opaque_size(64))))
			return 3;
	for (int i = 0; i < N; i += 2)
		free(b[i]);
	malloc_trim(0);
	void *victim = b[N / 2];
	fprintf(stderr, "[test] block %p\n", victim);
	*(volatile uint64_t *)victim = 0x4141414141414141ull;   /* the write after free */
	for (int i = 0; i < 4 * N; i++) {
		void *p = malloc(opaque_size(64));
		if (!p)
			return 3;
		memset(p, 0x22, 64);
	}
	return 0;
}

/* A page block of `size` bytes written `over` bytes past its end, then
 * freed; how 1: with realloc first (in place, to size + 500 bytes, which
 * the block holds): the canary moves, and the overflow is past the new end;
 * how 2: a memalign'd (4096) block. */
static int case_overflow(size_t size, size_t over, int how)
{
	unsigned char *p = how == 2 ? memalign(4096, opaque_size(size)) : malloc(opaque_size(size));
	if (!p)
		return 3;
	memset(p, 0x61, size);
	if (how == 1) {
		unsigned char *q = realloc(p, opaque_size(size + 500));
		if (q != p) {
			fprintf(stderr, "[test] realloc moved the block\n");
			return 3;
		}
		size += 500;
		memset(p, 0x62, size);   /* up to the new end: no report */
	}
	fprintf(stderr, "[test] block %p\n", (void *)p);
	/* The overflow: each byte changed (a random canary holds any value,
	 * and a write of the very value it holds, one time in 256 for a fixed
	 * byte, would not be an overflow it can see). */
	for (size_t i = 0; i < over; i++)
		p[size + i] ^= 0x5a;
	free(opaque_ptr(p));
	return 0;
}

/* kalloc's check of every canary now (weak: absent under glibc). */
int kalloc_validate(void) __attribute__((weak));

/* An overflow found by kalloc_validate, with the block still held. */
static int case_validate(void)
{
	unsigned char *p = malloc(opaque_size(50000));
	if (!p || !kalloc_validate)
		return 3;
	fprintf(stderr, "[test] block %p\n", (void *)p);
	p[50000] ^= 0x5a;   /* changed, whatever the canary holds there */
	kalloc_validate();
	return 0;
}

/* malloc_usable_size promises every byte of the block. */
static int case_usable(void)
{
	for (size_t n = 1; n <= 9000; n += n < 64 ? 1 : 37) {
		unsigned char *p = malloc(opaque_size(n));
		if (!p)
			return 3;
		size_t u = malloc_usable_size(p);
		if (u < n)
			return 4;
		memset(p, 0xa5, u);
		free(p);
	}
	/* page blocks (canaries) and aligned ones, realloc'd in place */
	for (size_t n = 32769; n <= 700000; n += n / 3 + 4097) {
		unsigned char *p = n % 2 ? malloc(opaque_size(n)) : memalign(8192, opaque_size(n));
		if (!p)
			return 3;
		memset(p, 0x5a, malloc_usable_size(p));
		p = realloc(p, opaque_size(n - 100));
		memset(p, 0x5b, n - 100);
		free(p);
	}
	for (size_t n = 1; n <= 2000; n += 13) {
		unsigned char *p = calloc(1, opaque_size(n));
		if (!p)
			return 3;
		memset(p, 0xff, malloc_usable_size(p));
		p = realloc(p, opaque_size(n / 2 + 1));
		memset(p, 0x11, malloc_usable_size(p));
		free(p);
	}
	return 0;
}

static int run_case(int argc, char **argv)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	sched_setaffinity(0, sizeof one, &one);
	if (argc >= 3 && !strcmp(argv[2], "double_free") && argc == 7)
		return case_double_free(strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), atoi(argv[5]),
		                        atoi(argv[6]));
	if (argc >= 3 && !strcmp(argv[2], "overflow") && argc == 6)
		return case_overflow(strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), atoi(argv[5]));
	if (argc >= 3 && !strcmp(argv[2], "validate"))
		return case_validate();
	if (argc >= 3 && !strcmp(argv[2], "corrupt_fp"))
		return case_corrupt_fp();
	if (argc >= 3 && !strcmp(argv[2], "usable"))
		return case_usable();
	fprintf(stderr, "[test] unknown case\n");
	return 2;
}

/* ---- the parent -------------------------------------------------------- */

struct job {
	const char *harden;   /* KALLOC_HARDEN for the child */
	char *argv[8];
};

static int exec_case(void *arg)
{
	struct job *j = arg;
	setenv("KALLOC_HARDEN", j->harden, 1);
	execv(self, j->argv);
	fprintf(stderr, "[test] execv %s failed\n", self);
	return 2;
}

/* The child's "[test] block 0x..." line: the address the report must name. */
static void *block_of(const struct child_result *r)
{
	const char *s = strstr(r->err, "[test] block ");
	void *p = NULL;
	if (!s || sscanf(s + 13, "%p", &p) != 1)
		return NULL;
	return p;
}

/* Runs one planted bug with the hardening on and off: on, SIGABRT and a
 * report with `text` naming the block; off, no report with `off_text`
 * (what the hardening alone says). */
static void planted(const char *what, const char *text, const char *off_text, char *a1, char *a2, char *a3,
                    char *a4, char *a5)
{
	static struct child_result r;
	char how[128];
	for (int on = 1; on >= 0; on--) {
		struct job j = { on ? "1" : "0", { self, "case", a1, a2, a3, a4, a5, NULL } };
		run_child(exec_case, &j, 20000, &r);
		child_describe(&r, how, sizeof how);
		CHECKF(!r.hung, "%s (KALLOC_HARDEN=%d): child hung", what, on);
		if (!expect_kalloc()) {
			/* another allocator: what it does, for the record (a
			 * case may not even be set up: glibc hands a block back
			 * in its own order) */
			printf("%s: %s\n", what, how);
			return;
		}
		CHECKF(r.hung || !WIFEXITED(r.status) || WEXITSTATUS(r.status) < 2,
		       "%s (KALLOC_HARDEN=%d): case could not run: %s; stderr: %s", what, on, how, r.err);
		void *blk = block_of(&r);
		if (on) {
			CHECKF(child_aborted(&r) && contains(r.err, text) && blk && report_names(&r, blk),
			       "%s: child %s, want SIGABRT and a report with \"%s\" naming %p; stderr: %s", what, how,
			       text, blk, r.err);
		} else {
			CHECKF(!contains(r.err, off_text), "%s with KALLOC_HARDEN=0: reported anyway (%s); stderr: %s",
			       what, how, r.err);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "case"))
		return run_case(argc, argv);
	check_allocator();
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	if (n <= 0)
		return check_done();
	self[n] = '\0';

	/* 20000: kmalloc-20k, whose slabs free's fast path does not take
	 * (kfree_any stores and checks its tag) */
	static char *sizes[] = { "16", "64", "512", "4096", "20000", "65536" };
	static char *others[] = { "1", "10", "1000" };
	for (unsigned s = 0; s < sizeof sizes / sizeof *sizes; s++)
		for (unsigned o = 0; o < sizeof others / sizeof *others; o++)
			for (int th = 0; th <= 1; th++) {
				char what[128];
				snprintf(what, sizeof what, "double free of a %s-byte block after %s others%s", sizes[s],
				         others[o], th ? ", from another thread" : "");
				/* a page-class block is caught by its page's kind, with
				 * the hardening off too: only the "on" text differs */
				const char *text = strcmp(sizes[s], "65536") ? "double free of object" : "double free";
				if (!strcmp(sizes[s], "65536")) {
					static struct child_result r;
					struct job j = { "1", { self, "case", "double_free", sizes[s], others[o],
					                        th ? "1" : "0", "0", NULL } };
					run_child(exec_case, &j, 20000, &r);
					void *blk = block_of(&r);
					if (expect_kalloc())
						CHECKF(child_aborted(&r) && contains(r.err, text) && blk &&
						           report_names(&r, blk),
						       "%s: want SIGABRT and a report; stderr: %s", what, r.err);
					continue;
				}
				planted(what, text, FREE_ALREADY, "double_free", sizes[s], others[o], th ? "1" : "0", "0");
			}
	planted("double free of a 64-byte block sent back to its slab by malloc_trim", "its slab's", FREE_ALREADY,
	        "double_free", "64", "100", "0", "1");
	planted("double free of a 512-byte block after 1000 others, sent back by malloc_trim", "its slab's",
	        FREE_ALREADY, "double_free", "512", "1000", "0", "1");
	static char *ov_sizes[] = { "40000", "65537", "300001" };
	static char *ov_by[] = { "1", "8" };
	for (unsigned s = 0; s < 3; s++)
		for (unsigned b = 0; b < 2; b++)
			for (int how = 0; how <= 2; how++) {
				char what[128];
				snprintf(what, sizeof what, "overflow by %s bytes of a %s-byte block%s", ov_by[b],
				         ov_sizes[s], how == 1 ? " realloc'd in place" : how == 2 ? " (memalign)" : "");
				planted(what, "overflow past the end of block", "overflow past the end", "overflow",
				        ov_sizes[s], ov_by[b], how == 1 ? "1" : how == 2 ? "2" : "0", NULL);
			}
	planted("overflow by 1 byte of a 50000-byte block, found by kalloc_validate", "kalloc_validate(): overflow",
	        "overflow past the end", "validate", NULL, NULL, NULL, NULL);
	planted("free pointer overwritten after free", "corrupted free list", "corrupted free list", "corrupt_fp",
	        NULL, NULL, NULL, NULL);

	static struct child_result r;
	struct job j = { "1", { self, "case", "usable", NULL } };
	run_child(exec_case, &j, 20000, &r);
	char how[128];
	CHECKF(!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && !contains(r.err, "kalloc"),
	       "writing every usable byte: child %s, stderr: %s", child_describe(&r, how, sizeof how), r.err);
	return check_done();
}

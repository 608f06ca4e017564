/* SPDX-License-Identifier: MIT */
/*
 * Out of memory under an address-space limit (setrlimit(RLIMIT_AS, 1 GiB),
 * what `ulimit -v 1048576` does).  Each case runs in its own child:
 *  1. 1 MiB blocks until malloc fails: it returns NULL with errno ENOMEM (no
 *     crash, no abort); every block held is intact; after freeing half of
 *     them 1 MiB and 64-byte mallocs work again; after freeing all of them,
 *     a 256 MiB block can be allocated and written (the freed memory is
 *     really available again, not held as address space).
 *  2. 64-byte blocks (a linked list through the blocks) until malloc fails,
 *     capped at 40 million blocks (2.5 GiB, impossible within 1 GiB unless
 *     blocks overlap): NULL with ENOMEM, list intact; after freeing, small
 *     and 1 MiB mallocs work.
 *  3. single 2 GiB requests through every allocation function: NULL and
 *     ENOMEM (posix_memalign returns ENOMEM, leaves *memptr alone and errno
 *     ENOMEM, as glibc does), a failed realloc leaves the old block intact,
 *     and malloc works after.
 *  4. four threads take 1 MiB blocks until malloc fails, then, still holding
 *     them, call every allocation function for 1 MiB: each call that fails
 *     leaves errno == ENOMEM (posix_memalign also returns ENOMEM), and each
 *     function fails at least once.  (kalloc's posix_memalign used to put
 *     back the caller's errno, so a program checking errno saw "Success".)
 */
#include "ktest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <malloc.h>

#define LIMIT ((rlim_t)1 << 30)

static int failures_in_child;

#define CCHECK(cond, ...)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			failures_in_child++;                                         \
			fprintf(stderr, "%s:%d: child CHECK failed: %s: ", __FILE__, \
			        __LINE__, #cond);                                    \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
		}                                                                    \
	} while (0)

static void limit_address_space(void)
{
	struct rlimit rl = { LIMIT, LIMIT };
	if (setrlimit(RLIMIT_AS, &rl) != 0) {
		perror("setrlimit");
		_exit(2);
	}
}

static void finish(void)
{
	_exit(failures_in_child ? 1 : 0);
}

/* ---- 1. 1 MiB blocks ---------------------------------------------------- */

enum { MAXBIG = 2048 };
static unsigned char *big[MAXBIG];

static int big_ok(int i)
{
	const size_t n = 1u << 20;
	/* Full check of the ends, one byte per page in between. */
	if (pattern_check(big[i], 4096, (uint64_t)i) != 4096)
		return 0;
	for (size_t off = 4096; off < n - 4096; off += 4096)
		if (big[i][off] != pattern_byte((uint64_t)i, off))
			return 0;
	return pattern_check(big[i] + n - 4096, 4096, (uint64_t)i ^ 0xabc) == 4096;
}

static void big_fill(int i)
{
	const size_t n = 1u << 20;
	memset(big[i], 0xee, n);
	pattern_fill(big[i], 4096, (uint64_t)i);
	for (size_t off = 4096; off < n - 4096; off += 4096)
		big[i][off] = pattern_byte((uint64_t)i, off);
	pattern_fill(big[i] + n - 4096, 4096, (uint64_t)i ^ 0xabc);
}

static int case_big_blocks(void *arg)
{
	(void)arg;
	limit_address_space();
	int n = 0, err = 0;
	for (; n < MAXBIG; n++) {
		errno = 0;
		big[n] = malloc(opaque_size(1u << 20));
		if (!big[n]) {
			err = errno;
			break;
		}
		big_fill(n);
	}
	CCHECK(n < MAXBIG, "%d MiB allocated under a 1 GiB address-space limit", n);
	CCHECK(n >= 256, "only %d MiB could be allocated under a 1 GiB limit", n);
	CCHECK(err == ENOMEM, "malloc failed with errno %d, want ENOMEM", err);
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += !big_ok(i);
	CCHECK(bad == 0, "%d of %d blocks corrupted at out-of-memory", bad, n);

	/* Still failing cleanly when asked again, including other sizes. */
	errno = 0;
	void *p = malloc(opaque_size(8u << 20));
	CCHECK(p == NULL ? errno == ENOMEM : 1, "malloc(8 MiB) at OOM: errno %d", errno);
	free(p);

	for (int i = 0; i < n; i += 2) {
		free(big[i]);
		big[i] = NULL;
	}
	p = malloc(opaque_size(1u << 20));
	CCHECK(p != NULL, "malloc(1 MiB) fails after freeing half of the blocks");
	if (p)
		memset(p, 1, 1u << 20);
	free(p);
	p = malloc(opaque_size(64));
	CCHECK(p != NULL, "malloc(64) fails after freeing half of the blocks");
	free(p);
	bad = 0;
	for (int i = 1; i < n; i += 2)
		bad += !big_ok(i);
	CCHECK(bad == 0, "%d blocks corrupted after freeing the others", bad);
	for (int i = 1; i < n; i += 2)
		free(big[i]);

	/* All freed: the memory is available again, for another size too. */
	errno = 0;
	unsigned char *huge = malloc(opaque_size(256u << 20));
	CCHECK(huge != NULL, "malloc(256 MiB) fails (errno %d) after all 1 MiB blocks were freed",
	       errno);
	if (huge) {
		memset(huge, 2, 256u << 20);
		free(huge);
	}
	p = malloc(opaque_size(1u << 20));
	CCHECK(p != NULL, "malloc(1 MiB) fails after freeing everything");
	free(p);
	finish();
	return 0;
}

/* ---- 2. 64-byte blocks --------------------------------------------------- */

struct node {
	struct node *next;
	uint64_t index;
	unsigned char fill[48];
};

static int case_small_blocks(void *arg)
{
	(void)arg;
	limit_address_space();
	const uint64_t cap = 40u * 1000 * 1000;
	struct node *head = NULL;
	uint64_t n = 0;
	int err = 0;
	for (; n < cap; n++) {
		errno = 0;
		struct node *b = malloc(opaque_size(sizeof *b));
		if (!b) {
			err = errno;
			break;
		}
		b->next = head;
		b->index = n;
		memset(b->fill, (int)(n & 0xff), sizeof b->fill);
		head = b;
	}
	CCHECK(n < cap, "%llu 64-byte blocks under a 1 GiB limit: blocks must overlap",
	       (unsigned long long)n);
	CCHECK(n >= 4u * 1000 * 1000, "only %llu 64-byte blocks under a 1 GiB limit",
	       (unsigned long long)n);
	CCHECK(err == ENOMEM, "malloc(64) failed with errno %d, want ENOMEM", err);

	/* Walk the list: indices descend one by one, fill bytes intact. */
	uint64_t expect = n, bad = 0;
	unsigned char want[48];
	for (struct node *b = head; b; b = b->next) {
		expect--;
		memset(want, (int)(b->index & 0xff), sizeof want);
		if (b->index != expect || memcmp(b->fill, want, sizeof want) != 0) {
			bad++;
			break;
		}
	}
	CCHECK(bad == 0 && expect == 0, "list of 64-byte blocks corrupted at index %llu",
	       (unsigned long long)expect);

	/* Free half, allocate again, free all. */
	uint64_t freed = 0;
	while (head && freed < n / 2) {
		struct node *next = head->next;
		free(head);
		head = next;
		freed++;
	}
	void *p = malloc(opaque_size(64));
	CCHECK(p != NULL, "malloc(64) fails after freeing half of the blocks");
	free(p);
	while (head) {
		struct node *next = head->next;
		free(head);
		head = next;
	}
	p = malloc(opaque_size(64));
	CCHECK(p != NULL, "malloc(64) fails after freeing all blocks");
	free(p);
	p = malloc(opaque_size(1u << 20));
	CCHECK(p != NULL, "malloc(1 MiB) fails after freeing all 64-byte blocks");
	if (p)
		memset(p, 3, 1u << 20);
	free(p);
	finish();
	return 0;
}

/* ---- 3. one 2 GiB request ------------------------------------------------ */

static int case_two_gib(void *arg)
{
	(void)arg;
	limit_address_space();
	const size_t two = (size_t)2 << 30;
	unsigned char *old = malloc(opaque_size(100000));
	CCHECK(old != NULL, "malloc(100000) failed");
	if (!old)
		finish();
	pattern_fill(old, 100000, 42);

#define EXPECT_FAIL(call, what)                                                        \
	do {                                                                           \
		errno = 0;                                                             \
		void *r_ = (call);                                                     \
		int e_ = errno;                                                        \
		CCHECK(r_ == NULL, "%s under a 1 GiB limit returned %p", what, r_);    \
		CCHECK(e_ == ENOMEM, "%s under a 1 GiB limit: errno %d", what, e_);    \
		free(r_);                                                              \
	} while (0)

	EXPECT_FAIL(malloc(opaque_size(two)), "malloc(2 GiB)");
	EXPECT_FAIL(calloc(1, opaque_size(two)), "calloc(1, 2 GiB)");
	EXPECT_FAIL(calloc(opaque_size(two / 16), 16), "calloc(2 GiB / 16, 16)");
	EXPECT_FAIL(memalign(4096, opaque_size(two)), "memalign(4096, 2 GiB)");
	EXPECT_FAIL(memalign(2u << 20, opaque_size(two)), "memalign(2 MiB, 2 GiB)");
	EXPECT_FAIL(aligned_alloc(64, opaque_size(two)), "aligned_alloc(64, 2 GiB)");
	EXPECT_FAIL(valloc(opaque_size(two)), "valloc(2 GiB)");
	EXPECT_FAIL(pvalloc(opaque_size(two)), "pvalloc(2 GiB)");
	EXPECT_FAIL(realloc(NULL, opaque_size(two)), "realloc(NULL, 2 GiB)");
	EXPECT_FAIL(malloc(opaque_size(LIMIT)), "malloc(1 GiB)");

	void *sentinel = (void *)0x99, *p = sentinel;
	errno = 0;
	int rc = posix_memalign(&p, 64, opaque_size(two));
	CCHECK(rc == ENOMEM, "posix_memalign(64, 2 GiB) returned %d", rc);
	CCHECK(errno == ENOMEM, "posix_memalign(64, 2 GiB): errno %d", errno);
	CCHECK(p == sentinel, "posix_memalign(64, 2 GiB) changed *memptr");

	errno = 0;
	unsigned char *q = realloc(old, opaque_size(two));
	CCHECK(q == NULL, "realloc(p, 2 GiB) returned %p", (void *)q);
	CCHECK(errno == ENOMEM, "realloc(p, 2 GiB): errno %d", errno);
	if (q)
		old = q;
	CCHECK(pattern_check(old, 100000, 42) == 100000, "failed realloc changed the block");

	/* Normal service continues. */
	q = realloc(old, opaque_size(200000));
	CCHECK(q != NULL, "realloc(p, 200000) failed after the failures");
	if (q) {
		CCHECK(pattern_check(q, 100000, 42) == 100000, "realloc lost data");
		old = q;
	}
	free(old);
	void *m = malloc(opaque_size(256u << 20));
	CCHECK(m != NULL, "malloc(256 MiB) failed under a 1 GiB limit");
	if (m)
		memset(m, 4, 256u << 20);
	free(m);
	finish();
	return 0;
}

/* ---- 4. every function's failure, in threads ----------------------------- */

enum { FN_POSIX_MEMALIGN, FN_MALLOC, FN_CALLOC, FN_REALLOC, FN_REALLOCARRAY, FN_MEMALIGN, FN_ALIGNED_ALLOC,
       FN_VALLOC, FN_PVALLOC, NFN, THREADS = 4, HOLD = 1024 };
static const char *const fn_names[NFN] = { "posix_memalign", "malloc", "calloc", "realloc", "reallocarray",
	                                   "memalign", "aligned_alloc", "valloc", "pvalloc" };
static atomic_int failed[NFN], bad_errno[NFN], filled;
static pthread_barrier_t full;

/* One call for 1 MiB; returns the block or NULL with *err the errno. */
static void *call(int fn, int *err)
{
	const size_t n = opaque_size(1u << 20);
	void *p = NULL;
	errno = 0;
	switch (fn) {
	case FN_POSIX_MEMALIGN: {
		int rc = posix_memalign(&p, 64, n);
		if (rc) {
			*err = errno == ENOMEM && rc == ENOMEM ? ENOMEM : (errno ? errno : -rc);
			return NULL;
		}
		break;
	}
	case FN_MALLOC: p = malloc(n); break;
	case FN_CALLOC: p = calloc(1, n); break;
	case FN_REALLOC: p = realloc(NULL, n); break;
	case FN_REALLOCARRAY: p = reallocarray(NULL, 1024, n / 1024); break;
	case FN_MEMALIGN: p = memalign(4096, n); break;
	case FN_ALIGNED_ALLOC: p = aligned_alloc(4096, n); break;
	case FN_VALLOC: p = valloc(n); break;
	case FN_PVALLOC: p = pvalloc(n); break;
	}
	*err = errno;
	return p;
}

static void *exhaust(void *arg)
{
	(void)arg;
	void **held = calloc(HOLD, sizeof *held);
	int n = 0;
	while (held && n < HOLD && (held[n] = malloc(opaque_size(1u << 20))) != NULL) {
		memset(held[n], 1, 4096);
		n++;
	}
	atomic_fetch_add(&filled, n);
	pthread_barrier_wait(&full);
	for (int round = 0; round < 3; round++)
		for (int fn = 0; fn < NFN; fn++) {
			int err = 0;
			void *p = call(fn, &err);
			if (p) {
				free(p);
				continue;
			}
			atomic_fetch_add(&failed[fn], 1);
			if (err != ENOMEM)
				atomic_fetch_add(&bad_errno[fn], 1);
		}
	pthread_barrier_wait(&full);
	for (int i = 0; i < n; i++)
		free(held[i]);
	free(held);
	return NULL;
}

static int case_errno_in_threads(void *arg)
{
	(void)arg;
	limit_address_space();
	pthread_t t[THREADS];
	pthread_barrier_init(&full, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		CCHECK(pthread_create(&t[i], NULL, exhaust, NULL) == 0, "pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CCHECK(atomic_load(&filled) > 100, "only %d MiB before the first failure", atomic_load(&filled));
	for (int fn = 0; fn < NFN; fn++) {
		CCHECK(atomic_load(&failed[fn]) > 0, "%s never failed with memory exhausted", fn_names[fn]);
		CCHECK(atomic_load(&bad_errno[fn]) == 0, "%s failed %d times with errno other than ENOMEM",
		       fn_names[fn], atomic_load(&bad_errno[fn]));
	}
	void *p = malloc(opaque_size(1u << 20));
	CCHECK(p != NULL, "malloc(1 MiB) fails after the threads freed everything");
	free(p);
	finish();
	return 0;
}

int main(void)
{
	check_allocator();
	static struct child_result r;
	struct {
		int (*fn)(void *);
		const char *name;
	} cases[] = {
		{ case_big_blocks, "1 MiB blocks until ENOMEM" },
		{ case_small_blocks, "64-byte blocks until ENOMEM" },
		{ case_two_gib, "2 GiB requests" },
		{ case_errno_in_threads, "every function's failure in threads" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run_child(cases[i].fn, NULL, 60000, &r);
		char how[128];
		child_describe(&r, how, sizeof how);
		CHECKF(!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		       "%s: child %s; stderr:\n%s", cases[i].name, how, r.err);
	}
	return check_done();
}

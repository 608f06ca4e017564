/* SPDX-License-Identifier: MIT */
/*
 * Every allocation function given a size above PTRDIFF_MAX returns NULL (or
 * ENOMEM from posix_memalign) with errno ENOMEM, as glibc does since 2.30:
 * malloc, calloc, realloc, reallocarray, memalign, aligned_alloc,
 * posix_memalign, valloc, pvalloc.  PTRDIFF_MAX itself cannot be mapped and
 * fails the same way.  posix_memalign leaves *memptr untouched.
 */
#include "ktest.h"

#include <stdlib.h>
#include <errno.h>
#include <malloc.h>

static const size_t sizes[] = {
	(size_t)PTRDIFF_MAX,
	(size_t)PTRDIFF_MAX + 1,
	(size_t)PTRDIFF_MAX + 2,
	(size_t)PTRDIFF_MAX + 4096,
	SIZE_MAX / 4 * 3,
	SIZE_MAX - 4096 * 4,
	SIZE_MAX - 16,
	SIZE_MAX - 1,
	SIZE_MAX,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

#define EXPECT_NULL_ENOMEM(call, what, n)                                                  \
	do {                                                                               \
		errno = 0;                                                                 \
		void *r_ = (call);                                                         \
		int e_ = errno;                                                            \
		CHECKF(r_ == NULL, "%s(%#zx) returned %p", what, (size_t)(n), r_);         \
		CHECKF(e_ == ENOMEM, "%s(%#zx): errno %d, want ENOMEM", what, (size_t)(n), \
		       e_);                                                                \
		free(r_);                                                                  \
	} while (0)

int main(void)
{
	check_allocator();
	char *old = malloc(opaque_size(300));
	CHECK(old != NULL);
	if (!old)
		return check_done();
	pattern_fill(old, 300, 5);

	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];
		EXPECT_NULL_ENOMEM(malloc(opaque_size(n)), "malloc", n);
		EXPECT_NULL_ENOMEM(calloc(1, opaque_size(n)), "calloc(1, n)", n);
		EXPECT_NULL_ENOMEM(calloc(opaque_size(n), 1), "calloc(n, 1)", n);
		EXPECT_NULL_ENOMEM(realloc(NULL, opaque_size(n)), "realloc(NULL, n)", n);
		EXPECT_NULL_ENOMEM(reallocarray(NULL, opaque_size(n), 1), "reallocarray(NULL, n, 1)", n);
		EXPECT_NULL_ENOMEM(memalign(64, opaque_size(n)), "memalign(64, n)", n);
		EXPECT_NULL_ENOMEM(memalign(1u << 20, opaque_size(n)), "memalign(1 MiB, n)", n);
		EXPECT_NULL_ENOMEM(aligned_alloc(64, opaque_size(n)), "aligned_alloc(64, n)", n);
		EXPECT_NULL_ENOMEM(aligned_alloc(4096, opaque_size(n)), "aligned_alloc(4096, n)", n);
		EXPECT_NULL_ENOMEM(valloc(opaque_size(n)), "valloc", n);
		EXPECT_NULL_ENOMEM(pvalloc(opaque_size(n)), "pvalloc", n);

		void *sentinel = (void *)0x5ad;
		void *p = sentinel;
		int rc = posix_memalign(&p, 64, opaque_size(n));
		CHECKF(rc == ENOMEM, "posix_memalign(64, %#zx) returned %d, want ENOMEM", n, rc);
		CHECKF(p == sentinel, "posix_memalign(64, %#zx) changed *memptr on failure", n);
		p = sentinel;
		rc = posix_memalign(&p, 1u << 16, opaque_size(n));
		CHECKF(rc == ENOMEM, "posix_memalign(64 KiB, %#zx) returned %d, want ENOMEM", n, rc);
		CHECKF(p == sentinel, "posix_memalign(64 KiB, %#zx) changed *memptr on failure", n);

		/* realloc of a live block: NULL, ENOMEM, block intact. */
		errno = 0;
		char *q = realloc(old, opaque_size(n));
		CHECKF(q == NULL, "realloc(p, %#zx) returned %p", n, (void *)q);
		CHECKF(errno == ENOMEM, "realloc(p, %#zx): errno %d", n, errno);
		if (q)
			old = q;
		CHECKF(pattern_check(old, 300, 5) == 300, "realloc(p, %#zx) failed and broke p", n);
		errno = 0;
		q = reallocarray(old, 1, opaque_size(n));
		CHECKF(q == NULL, "reallocarray(p, 1, %#zx) returned %p", n, (void *)q);
		CHECKF(errno == ENOMEM, "reallocarray(p, 1, %#zx): errno %d", n, errno);
		if (q)
			old = q;
		CHECK(pattern_check(old, 300, 5) == 300);
	}

	/* Everything still works. */
	void *p = malloc(opaque_size(1000));
	CHECK(p != NULL);
	free(p);
	CHECK(pattern_check(old, 300, 5) == 300);
	free(old);
	return check_done();
}

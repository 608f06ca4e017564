/* SPDX-License-Identifier: MIT */
/*
 * The argument rules of the aligned allocators, as glibc 2.36 has them:
 *  - posix_memalign returns EINVAL when the alignment is not a power-of-two
 *    multiple of sizeof(void *) (0, 1, 2, 4, 12, 24, 40, 48, 96, ...), ENOMEM
 *    when the request is too large, and leaves *memptr untouched on failure;
 *    posix_memalign(&p, 8, 0) succeeds;
 *  - memalign accepts an alignment that is not a power of two and rounds it
 *    up to the next power of two (at least malloc's 16); alignment 0 means
 *    malloc's alignment.  aligned_alloc did the same in glibc 2.36 (an alias
 *    of memalign), but C17 (DR 460) and glibc since 2.38 make it fail with
 *    EINVAL for an alignment that is not a power of two, 0 included: kalloc
 *    follows them (checked under kalloc only: the glibc on this system is
 *    older), and keeps accepting every power of two, 1 included;
 *  - they fail with EINVAL for an alignment above SIZE_MAX / 2 + 1 (which
 *    cannot be a power of two), and with ENOMEM for a power-of-two alignment
 *    too large to satisfy (2^63).
 */
#include "ktest.h"

#include <stdlib.h>
#include <errno.h>
#include <malloc.h>

static size_t next_pow2(size_t a)
{
	size_t p = 16;
	while (p < a)
		p <<= 1;
	return p;
}

static void test_posix_memalign_einval(void)
{
	size_t bad[] = { 0, 1, 2, 3, 4, 5, 7, 12, 20, 24, 40, 48, 96, 100, 4095, 4097, 12288, 65535,
		         3u << 20, SIZE_MAX, SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 1 + 8, (size_t)1 << 63 | 4 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *sentinel = (void *)0xdead0;
		void *p = sentinel;
		int rc = posix_memalign(&p, opaque_size(bad[i]), opaque_size(64));
		CHECKF(rc == EINVAL, "posix_memalign(align %#zx) returned %d, want EINVAL", bad[i], rc);
		CHECKF(p == sentinel, "posix_memalign(align %#zx) failed but changed *memptr", bad[i]);
		if (rc == 0)
			free(p);
		/* Size 0 does not change the verdict. */
		p = sentinel;
		rc = posix_memalign(&p, opaque_size(bad[i]), opaque_size(0));
		CHECKF(rc == EINVAL, "posix_memalign(align %#zx, 0) returned %d, want EINVAL", bad[i], rc);
		CHECK(p == sentinel);
		if (rc == 0)
			free(p);
	}
}

static void test_posix_memalign_enomem(void)
{
	struct {
		size_t align, size;
	} bad[] = {
		{ (size_t)1 << 63, 16 },         /* valid alignment, cannot be satisfied */
		{ (size_t)1 << 62, 1 },
		{ 64, (size_t)PTRDIFF_MAX + 1 },
		{ 64, SIZE_MAX },
		{ 4096, SIZE_MAX - 4096 },
		{ 4096, (size_t)1 << 47 },       /* beyond the user address space */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *sentinel = (void *)0xbeef0;
		void *p = sentinel;
		int rc = posix_memalign(&p, opaque_size(bad[i].align), opaque_size(bad[i].size));
		CHECKF(rc == ENOMEM, "posix_memalign(%#zx, %#zx) returned %d, want ENOMEM", bad[i].align,
		       bad[i].size, rc);
		CHECKF(p == sentinel, "posix_memalign(%#zx, %#zx) failed but changed *memptr",
		       bad[i].align, bad[i].size);
		if (rc == 0)
			free(p);
	}
}

static void test_posix_memalign_ok(void)
{
	void *p = NULL;
	int rc = posix_memalign(&p, sizeof(void *), opaque_size(0));
	CHECK(rc == 0);
	CHECK(p != NULL);
	void *q = NULL;
	rc = posix_memalign(&q, sizeof(void *), opaque_size(0));
	CHECK(rc == 0);
	CHECK(q != NULL && q != p);
	free(p);
	free(q);
	/* errno is not set to anything on success... and a success does not
	 * need errno to be clear beforehand. */
	errno = EEXIST;
	rc = posix_memalign(&p, 256, opaque_size(1000));
	CHECK(rc == 0);
	CHECK(p != NULL && ((uintptr_t)p & 255) == 0);
	free(p);
}

typedef void *(*align_fn)(size_t, size_t);

static void *call_memalign(size_t a, size_t n) { return memalign(opaque_size(a), opaque_size(n)); }
static void *call_aligned_alloc(size_t a, size_t n)
{
	return aligned_alloc(opaque_size(a), opaque_size(n));
}

static void test_non_power_of_two(align_fn fn, const char *name)
{
	size_t aligns[] = { 0, 3, 5, 6, 7, 9, 12, 15, 17, 20, 24, 31, 33, 40, 48, 63, 65, 96, 100, 127,
		            129, 1000, 3000, 4095, 4097, 12288, 65537, 100000, (1u << 20) + 1, 3u << 20,
		            (5u << 20) + 1 };
	size_t sizes[] = { 0, 1, 100, 5000 };
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		size_t want = next_pow2(aligns[i]);
		for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
			errno = 0;
			unsigned char *p = fn(aligns[i], sizes[j]);
			CHECKF(p != NULL, "%s(%zu, %zu) returned NULL, errno %d (glibc rounds the "
			                  "alignment up to %zu)",
			       name, aligns[i], sizes[j], errno, want);
			if (!p)
				continue;
			CHECKF(((uintptr_t)p & (want - 1)) == 0,
			       "%s(%zu, %zu) = %p, not aligned to %zu (the next power of two)", name,
			       aligns[i], sizes[j], (void *)p, want);
			CHECK(malloc_usable_size(p) >= sizes[j]);
			pattern_fill(p, sizes[j], aligns[i]);
			CHECK(pattern_check(p, sizes[j], aligns[i]) == sizes[j]);
			free(p);
		}
	}
}

static void test_aligned_alloc_dr460(void)
{
	size_t bad[] = { 0, 3, 5, 6, 12, 24, 48, 65, 96, 100, 4097, 12288, (1u << 20) + 1 };
	size_t sizes[] = { 0, 1, 8, 64, 5000 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
			errno = 0;
			void *p = aligned_alloc(opaque_size(bad[i]), opaque_size(sizes[j]));
			CHECKF(p == NULL && errno == EINVAL, "aligned_alloc(%zu, %zu) = %p, errno %d: want NULL, EINVAL",
			       bad[i], sizes[j], p, errno);
			free(p);
		}
	for (size_t a = 1; a <= 8192; a <<= 1) {
		unsigned char *p = aligned_alloc(opaque_size(a), opaque_size(3 * a));
		CHECKF(p && ((uintptr_t)p & (a - 1)) == 0, "aligned_alloc(%zu, %zu) = %p", a, 3 * a, (void *)p);
		if (p)
			pattern_fill(p, 3 * a, a);
		free(p);
	}
}

static void test_bad_alignment(align_fn fn, const char *name)
{
	size_t einval[] = { SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 1 + 4096, SIZE_MAX - 1, SIZE_MAX };
	for (size_t i = 0; i < sizeof einval / sizeof einval[0]; i++) {
		errno = 0;
		void *p = fn(einval[i], 64);
		CHECKF(p == NULL, "%s(%#zx, 64) returned %p", name, einval[i], p);
		CHECKF(errno == EINVAL, "%s(%#zx, 64): errno %d, want EINVAL", name, einval[i], errno);
		free(p);
	}
	size_t enomem[] = { SIZE_MAX / 2 + 1, (size_t)1 << 62 };
	for (size_t i = 0; i < sizeof enomem / sizeof enomem[0]; i++) {
		errno = 0;
		void *p = fn(enomem[i], 64);
		CHECKF(p == NULL, "%s(%#zx, 64) returned %p", name, enomem[i], p);
		CHECKF(errno == ENOMEM, "%s(%#zx, 64): errno %d, want ENOMEM", name, enomem[i], errno);
		free(p);
	}
}

int main(void)
{
	check_allocator();
	test_posix_memalign_einval();
	test_posix_memalign_enomem();
	test_posix_memalign_ok();
	test_non_power_of_two(call_memalign, "memalign");
	if (expect_kalloc())
		test_aligned_alloc_dr460();
	test_bad_alignment(call_memalign, "memalign");
	test_bad_alignment(call_aligned_alloc, "aligned_alloc");
	return check_done();
}

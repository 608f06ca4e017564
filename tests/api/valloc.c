/* SPDX-License-Identifier: MIT */
/*
 * valloc and pvalloc:
 *  - valloc(n) is page aligned, usable size >= n, writable; valloc(0) gives a
 *    unique page-aligned block;
 *  - pvalloc(n) is page aligned and rounds n up to a whole number of pages:
 *    usable size >= round_up(n, page), all of it writable;
 *  - requests above PTRDIFF_MAX, and pvalloc sizes whose rounding overflows,
 *    give NULL with errno ENOMEM.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>
#include <unistd.h>

int main(void)
{
	check_allocator();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	CHECK(page == 4096);
	size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 10000, 65536, (1u << 20) + 1, (4u << 20) + 1,
		           5u << 20 };
	enum { N = sizeof sizes / sizeof sizes[0] };
	unsigned char *v[N], *pv[N];
	size_t pv_us[N];
	for (size_t i = 0; i < N; i++) {
		size_t n = sizes[i];
		v[i] = valloc(opaque_size(n));
		CHECKF(v[i] != NULL, "valloc(%zu) failed", n);
		if (v[i]) {
			CHECKF(((uintptr_t)v[i] & (page - 1)) == 0, "valloc(%zu) = %p", n, (void *)v[i]);
			CHECK(malloc_usable_size(v[i]) >= n);
			pattern_fill(v[i], n, i);
		}
		pv[i] = pvalloc(opaque_size(n));
		pv_us[i] = 0;
		CHECKF(pv[i] != NULL, "pvalloc(%zu) failed", n);
		if (pv[i]) {
			size_t rounded = (n + page - 1) & ~(page - 1);
			CHECKF(((uintptr_t)pv[i] & (page - 1)) == 0, "pvalloc(%zu) = %p", n, (void *)pv[i]);
			pv_us[i] = malloc_usable_size(pv[i]);
			CHECKF(pv_us[i] >= rounded, "pvalloc(%zu): usable size %zu < %zu", n, pv_us[i],
			       rounded);
			pattern_fill(pv[i], pv_us[i], 1000 + i);
		}
	}
	for (size_t i = 0; i < N; i++) {
		if (v[i])
			CHECKF(pattern_check(v[i], sizes[i], i) == sizes[i], "valloc(%zu) block overwritten",
			       sizes[i]);
		if (pv[i])
			CHECKF(pattern_check(pv[i], pv_us[i], 1000 + i) == pv_us[i],
			       "pvalloc(%zu) block overwritten", sizes[i]);
	}
	CHECK(v[0] != NULL && v[0] != v[1]);
	for (size_t i = 0; i < N; i++) {
		free(v[i]);
		free(pv[i]);
	}

	size_t too_big[] = { (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - page + 2 };
	for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
		errno = 0;
		void *p = valloc(opaque_size(too_big[i]));
		CHECKF(p == NULL && errno == ENOMEM, "valloc(%#zx) = %p, errno %d", too_big[i], p, errno);
		free(p);
		errno = 0;
		p = pvalloc(opaque_size(too_big[i]));
		CHECKF(p == NULL && errno == ENOMEM, "pvalloc(%#zx) = %p, errno %d", too_big[i], p, errno);
		free(p);
	}
	return check_done();
}

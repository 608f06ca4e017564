/* SPDX-License-Identifier: MIT */
/*
 * reallocarray, glibc rules:
 *  - reallocarray(NULL, n, size) allocates n * size bytes;
 *  - it preserves contents like realloc, growing and shrinking;
 *  - n * size overflowing size_t gives NULL, errno ENOMEM, and the old block
 *    is left intact and usable;
 *  - reallocarray(p, 0, size) behaves as realloc(p, 0): frees, returns NULL.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>

int main(void)
{
	check_allocator();

	int *a = reallocarray(NULL, opaque_size(10), sizeof(int));
	CHECK(a != NULL);
	if (!a)
		return check_done();
	CHECK(malloc_usable_size(a) >= 10 * sizeof(int));
	for (int i = 0; i < 10; i++)
		a[i] = i * 7;

	/* Grow through the size ranges and back. */
	size_t counts[] = { 100, 5000, 300000, 2000000, 700, 10 };
	size_t cur = 10;
	for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
		int *b = reallocarray(a, opaque_size(counts[k]), sizeof(int));
		CHECKF(b != NULL, "reallocarray(%zu ints) failed", counts[k]);
		if (!b)
			break;
		a = b;
		size_t keep = cur < counts[k] ? cur : counts[k];
		size_t bad = 0;
		for (size_t i = 0; i < keep; i++)
			bad += a[i] != (int)(i * 7);
		CHECKF(bad == 0, "reallocarray(%zu -> %zu ints) lost %zu values", cur, counts[k], bad);
		for (size_t i = keep; i < counts[k]; i++)
			a[i] = (int)(i * 7);
		cur = counts[k];
	}

	/* Overflow: NULL, ENOMEM, old block untouched. */
	struct {
		size_t n, size;
	} bad[] = {
		{ SIZE_MAX / 2 + 1, 2 },
		{ 2, SIZE_MAX / 2 + 1 },
		{ (size_t)1 << 33, (size_t)1 << 31 },
		{ SIZE_MAX, SIZE_MAX },
		{ SIZE_MAX / sizeof(int) + 1, sizeof(int) },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *q = reallocarray(a, opaque_size(bad[i].n), opaque_size(bad[i].size));
		CHECKF(q == NULL, "reallocarray(p, %zu, %zu) overflows but returned %p", bad[i].n,
		       bad[i].size, q);
		if (q) {
			a = q;
			continue;
		}
		CHECKF(errno == ENOMEM, "reallocarray(p, %zu, %zu): errno %d, want ENOMEM", bad[i].n,
		       bad[i].size, errno);
		size_t broken = 0;
		for (size_t j = 0; j < cur; j++)
			broken += a[j] != (int)(j * 7);
		CHECKF(broken == 0, "failed reallocarray(p, %zu, %zu) changed %zu values", bad[i].n,
		       bad[i].size, broken);
	}
	/* Overflow with NULL: just NULL and ENOMEM. */
	errno = 0;
	void *q = reallocarray(NULL, opaque_size(SIZE_MAX / 4), 8);
	CHECK(q == NULL);
	CHECK(errno == ENOMEM);
	free(q);

	/* The old block is still usable. */
	int *b = reallocarray(a, opaque_size(cur + 1000), sizeof(int));
	CHECK(b != NULL);
	if (b) {
		a = b;
		for (size_t j = 0; j < cur; j++)
			if (a[j] != (int)(j * 7)) {
				CHECK(a[j] == (int)(j * 7));
				break;
			}
	}

	/* reallocarray(p, 0, size) frees and returns NULL, as realloc(p, 0). */
	void *z = reallocarray(a, opaque_size(0), sizeof(int));
	CHECK(z == NULL);
	free(z);
	void *w = malloc(opaque_size(64));
	CHECK(w != NULL);
	z = reallocarray(w, sizeof(int), opaque_size(0));
	CHECK(z == NULL);
	free(z);

	return check_done();
}

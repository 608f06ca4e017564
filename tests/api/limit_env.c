/* SPDX-License-Identifier: MIT */
/*
 * KALLOC_LIMIT under the preload library (the test runs with
 * KALLOC_LIMIT=24M): malloc above the limit gives NULL and ENOMEM, never a
 * crash; blocks up to the limit succeed, the next fails; after they are
 * freed the memory can be had again.  Under glibc (no KALLOC_EXPECT) there
 * is no limit to check.
 */
#include "ktest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1UL << 20)

int main(void)
{
	check_allocator();
	if (!expect_kalloc()) {
		test_msg("not under kalloc: no limit to check\n");
		return check_done();
	}
	errno = 0;
	void *big = malloc(64 * MIB);
	CHECKF(big == NULL && errno == ENOMEM, "malloc(64 MiB) under a 24 MiB limit: %p, errno %d", big, errno);
	errno = 0;
	void *z = calloc(32, MIB);
	CHECKF(z == NULL && errno == ENOMEM, "calloc(32, 1 MiB): %p, errno %d", z, errno);

	enum { MAX = 64 };
	void *v[MAX];
	size_t n = 0;
	errno = 0;
	while (n < MAX && (v[n] = malloc(MIB)) != NULL) {
		memset(v[n], (int)n, MIB);
		n++;
	}
	int err = errno;
	CHECKF(n >= 12 && n < 24, "%zu blocks of 1 MiB under a 24 MiB limit", n);
	test_msg("%zu blocks of 1 MiB under the 24 MiB limit\n", n);
	CHECKF(err == ENOMEM, "errno %d after the failing malloc", err);
	/* realloc that cannot grow keeps the block */
	void *r = realloc(v[0], 40 * MIB);
	CHECKF(r == NULL && ((unsigned char *)v[0])[MIB - 1] == 0, "realloc above the limit: %p", r);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	void *again = malloc(16 * MIB);
	CHECKF(again != NULL, "16 MiB after everything was freed");
	if (again)
		memset(again, 1, 16 * MIB);
	free(again);
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * calloc under mlockall(MCL_CURRENT | MCL_FUTURE) (issue: a failed release
 * listed as clean).  With every page locked, MADV_DONTNEED fails (EINVAL):
 * memory the allocator tries to give back stays as it was.  kalloc used to
 * ignore the failure and list the pages as released, which it trusts to
 * read as zero, so calloc skipped its memset and returned old data.
 *
 * 80 MiB of 512 KiB blocks (page blocks) are filled with 0xa5 and freed,
 * more than the allocator keeps backed, so it tries to release; then calloc
 * of the same sizes must read as zero, before and after malloc_trim(0).
 * Skipped (77) where mlockall is not allowed.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/mman.h>

#define BLOCK (512u << 10)
#define N 160

static int check_round(const char *when)
{
	static unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(opaque_size(BLOCK));
		if (!p[i])
			return 1;
		memset(p[i], 0xa5, BLOCK);
		escape(p[i]);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		p[i] = calloc(1, opaque_size(BLOCK));
		CHECKF(p[i] != NULL, "%s: calloc failed", when);
		if (!p[i])
			continue;
		size_t z = first_nonzero(p[i], BLOCK);
		if (z != BLOCK && bad++ < 3)
			CHECKF(0, "%s: calloc(%u) block %d reads %#x at %zu", when, BLOCK, i, p[i][z], z);
	}
	CHECKF(bad == 0, "%s: %d of %d calloc'd blocks not zero", when, bad, N);
	for (int i = 0; i < N; i++)
		free(p[i]);
	return 0;
}

int main(void)
{
	check_allocator();
	free(malloc(1));
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
		test_msg("mlockall: %s: skipped", strerror(errno));
		return 77;
	}
	CHECK(check_round("after free") == 0);
	malloc_trim(0);
	CHECK(check_round("after malloc_trim") == 0);
	munlockall();
	return check_done();
}

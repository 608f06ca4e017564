/* SPDX-License-Identifier: MIT */
/*
 * mallopt returns 1 (success) for every parameter glibc documents, given a
 * value in its valid range, and malloc keeps working (contents intact) after
 * each setting.
 */
#include "ktest.h"

#include <malloc.h>

static void churn(int round)
{
	enum { N = 300 };
	void *p[N];
	size_t sz[N];
	uint64_t rng = 77 + (uint64_t)round;
	for (int i = 0; i < N; i++) {
		uint64_t r = rng_next(&rng);
		sz[i] = (i % 60 == 59) ? (5u << 20) : 1 + (size_t)(r % (r & 1 ? 200 : 300000));
		p[i] = malloc(sz[i]);
		CHECK(p[i] != NULL);
		if (p[i])
			pattern_fill(p[i], sz[i], (uint64_t)(round * N + i));
	}
	int bad = 0;
	for (int i = 0; i < N; i++) {
		if (p[i] && pattern_check(p[i], sz[i], (uint64_t)(round * N + i)) != sz[i])
			bad++;
		free(p[i]);
	}
	CHECKF(bad == 0, "after mallopt setting %d: %d blocks corrupted", round, bad);
}

int main(void)
{
	check_allocator();
	struct {
		int param, value;
		const char *name;
	} known[] = {
		{ M_MXFAST, 64, "M_MXFAST" },
		{ M_MXFAST, 0, "M_MXFAST" },
		{ M_TRIM_THRESHOLD, 128 * 1024, "M_TRIM_THRESHOLD" },
		{ M_TOP_PAD, 64 * 1024, "M_TOP_PAD" },
		{ M_MMAP_THRESHOLD, 256 * 1024, "M_MMAP_THRESHOLD" },
		{ M_MMAP_MAX, 65536, "M_MMAP_MAX" },
		{ M_CHECK_ACTION, 3, "M_CHECK_ACTION" },
		{ M_PERTURB, 0, "M_PERTURB" },
		{ M_ARENA_TEST, 8, "M_ARENA_TEST" },
		{ M_ARENA_MAX, 4, "M_ARENA_MAX" },
		{ M_ARENA_MAX, 0, "M_ARENA_MAX" },
		{ M_TRIM_THRESHOLD, 1 << 30, "M_TRIM_THRESHOLD" },
		{ M_MMAP_THRESHOLD, 128 * 1024, "M_MMAP_THRESHOLD" },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		int rc = mallopt(known[i].param, known[i].value);
		CHECKF(rc == 1, "mallopt(%s (%d), %d) returned %d, want 1", known[i].name,
		       known[i].param, known[i].value, rc);
		churn((int)i);
	}
	return check_done();
}

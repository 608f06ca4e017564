/* SPDX-License-Identifier: MIT */
/*
 * mallinfo2 and mallinfo report sane numbers:
 *  - no field looks like an underflowed counter, and in-use plus free bytes
 *    of the arena do not exceed the arena;
 *  - uordblks (bytes in use) grows by at least 10 MiB when 10 MiB of 1 KiB
 *    blocks are allocated, and drops by at least 5 MiB when they are freed;
 *  - the same for 3, then 100 blocks of 100000 bytes (page blocks: freed
 *    ones kept in a per-CPU cache are free, not in use);
 *  - a 64 MiB block adds at least 64 MiB to uordblks + hblkhd (bytes in use,
 *    counting mmapped blocks);
 *  - the old int-based mallinfo agrees with mallinfo2 on the growth.
 */
#include "ktest.h"

#include <malloc.h>

#define SANE_MAX ((size_t)1 << 46)

/* n blocks of sz bytes, each written whole with `fill`. */
static void alloc_filled(void **p, int n, size_t sz, int fill)
{
	for (int i = 0; i < n; i++) {
		p[i] = malloc(opaque_size(sz));
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], fill, sz);
	}
}

static void check_sane(const struct mallinfo2 *m, const char *when)
{
	CHECKF(m->arena < SANE_MAX && m->ordblks < SANE_MAX && m->smblks < SANE_MAX &&
	               m->hblks < SANE_MAX && m->hblkhd < SANE_MAX && m->fsmblks < SANE_MAX &&
	               m->uordblks < SANE_MAX && m->fordblks < SANE_MAX && m->keepcost < SANE_MAX,
	       "%s: a mallinfo2 field is out of range (arena %zu ordblks %zu hblks %zu hblkhd %zu "
	       "uordblks %zu fordblks %zu keepcost %zu)",
	       when, m->arena, m->ordblks, m->hblks, m->hblkhd, m->uordblks, m->fordblks, m->keepcost);
	CHECKF(m->uordblks + m->fordblks <= m->arena,
	       "%s: uordblks %zu + fordblks %zu > arena %zu", when, m->uordblks, m->fordblks, m->arena);
}

int main(void)
{
	check_allocator();
	enum { N = 10240, SZ = 1024 };
	static void *p[N];

	struct mallinfo2 m0 = mallinfo2();
	check_sane(&m0, "at start");

	alloc_filled(p, N, SZ, 0x42);
	struct mallinfo2 m1 = mallinfo2();
	check_sane(&m1, "after allocating 10 MiB");
	CHECKF(m1.uordblks >= m0.uordblks + (size_t)N * SZ,
	       "uordblks went from %zu to %zu after allocating %d bytes", m0.uordblks, m1.uordblks,
	       N * SZ);
	CHECKF(m1.arena >= (size_t)N * SZ, "arena %zu < the 10 MiB in use", m1.arena);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
	CHECKF(old.uordblks >= 0 && (size_t)old.uordblks >= (size_t)N * SZ,
	       "mallinfo().uordblks = %d with 10 MiB in use", old.uordblks);
	CHECKF(old.arena >= 0 && old.hblkhd >= 0 && old.fordblks >= 0,
	       "mallinfo(): negative field (arena %d hblkhd %d fordblks %d)", old.arena, old.hblkhd,
	       old.fordblks);

	for (int i = 0; i < N; i++)
		free(p[i]);
	struct mallinfo2 m2 = mallinfo2();
	check_sane(&m2, "after freeing 10 MiB");
	CHECKF(m2.uordblks + (5u << 20) <= m1.uordblks,
	       "uordblks only went from %zu to %zu after freeing 10 MiB", m1.uordblks, m2.uordblks);

	/* Page blocks, in use and then freed: 3 (all of which a front cache
	 * keeps), then 100. */
	static const int npage[] = { 3, 100 };
	enum { PAGESZ = 100000 };
	for (int k = 0; k < 2; k++) {
		int n = npage[k];
		struct mallinfo2 before = mallinfo2();
		alloc_filled(p, n, PAGESZ, 0x43);
		struct mallinfo2 mp1 = mallinfo2();
		check_sane(&mp1, "with page blocks");
		CHECKF(mp1.uordblks + mp1.hblkhd >= before.uordblks + before.hblkhd + (size_t)n * PAGESZ,
		       "uordblks + hblkhd went from %zu to %zu with %d page blocks", before.uordblks + before.hblkhd,
		       mp1.uordblks + mp1.hblkhd, n);
		for (int i = 0; i < n; i++)
			free(p[i]);
		struct mallinfo2 mp2 = mallinfo2();
		check_sane(&mp2, "after freeing the page blocks");
		CHECKF(mp2.uordblks + mp2.hblkhd + (size_t)n * PAGESZ <= mp1.uordblks + mp1.hblkhd,
		       "uordblks + hblkhd went from %zu to %zu after freeing %d page blocks",
		       mp1.uordblks + mp1.hblkhd, mp2.uordblks + mp2.hblkhd, n);
	}

	/* One big block: bytes in use counting mmapped blocks grows by 64 MiB. */
	size_t big = 64u << 20;
	char *b = malloc(opaque_size(big));
	CHECK(b != NULL);
	if (b)
		memset(b, 1, big);
	struct mallinfo2 m3 = mallinfo2();
	check_sane(&m3, "with a 64 MiB block");
	CHECKF(m3.uordblks + m3.hblkhd >= m2.uordblks + m2.hblkhd + big,
	       "uordblks + hblkhd went from %zu to %zu with a 64 MiB block", m2.uordblks + m2.hblkhd,
	       m3.uordblks + m3.hblkhd);
	free(b);
	struct mallinfo2 m4 = mallinfo2();
	check_sane(&m4, "after freeing the 64 MiB block");
	CHECKF(m4.uordblks + m4.hblkhd + big <= m3.uordblks + m3.hblkhd,
	       "uordblks + hblkhd went from %zu to %zu after freeing the 64 MiB block",
	       m3.uordblks + m3.hblkhd, m4.uordblks + m4.hblkhd);
	return check_done();
}

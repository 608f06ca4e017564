/* SPDX-License-Identifier: MIT */
/*
 * carve_order: the order in which a new slab hands out its objects
 * (slab.c, carve).  For caches of several object sizes, the whole first
 * slab is taken with kslab_alloc_bulk (which carves it in order) and:
 *   - every slot of the slab comes out exactly once (a permutation);
 *   - neighbours stay together: each run of KSLAB_CARVE_GROUP objects
 *     carved one after another is one aligned group of the slab's slots,
 *     in address order (the objects past the last whole group come last);
 *   - the order is random: over 24 slabs (first slabs of new caches, with
 *     their own secrets, and second slabs), the slots do not come out in
 *     address order (the groups not in every slab), and not every slab
 *     has the same order;
 *   - a slab of fewer than two groups, and every slab of a SLAB_HARDEN
 *     cache (KALLOC_HARDEN=full), is carved one object at a time in a
 *     random order.
 */
#include "internal.h"
#include "ktest.h"

#include <stdio.h>
#include <string.h>

#define MAXOBJ 4096

/* Takes the whole first slab of a new cache of `size`; its slot order into
 * out[]; returns the object count (0 on failure). */
static unsigned first_slab_order(const char *name, size_t size, slab_flags_t flags, unsigned *out, unsigned skip_slabs)
{
	struct kmem_cache *c = kslab_create(name, size, 0, flags, NULL, &(const char *){ NULL }, &(int){ 0 });
	CHECKF(c != NULL, "kslab_create(%s, %zu) failed", name, size);
	if (!c)
		return 0;
	unsigned n = c->objects;
	CHECK(n <= MAXOBJ);
	static void *objs[MAXOBJ * 4];
	unsigned total = n * (skip_slabs + 1);
	unsigned got = kslab_alloc_bulk(c, GFP_KERNEL, total, objs);
	CHECKF(got == total, "%s: kslab_alloc_bulk gave %u of %u", name, got, total);
	char *base = (char *)((uintptr_t)objs[skip_slabs * n] & ~(uintptr_t)c->slab_mask);
	for (unsigned i = 0; i < n && skip_slabs * n + i < got; i++) {
		char *p = objs[skip_slabs * n + i];
		CHECKF((char *)((uintptr_t)p & ~(uintptr_t)c->slab_mask) == base, "%s: object %u of another slab", name, i);
		out[i] = (unsigned)((size_t)(p - base) / c->size);
	}
	kslab_free_bulk(c, got, objs);
	kslab_destroy(c);
	return n;
}

#define CACHES 24

static unsigned orders[CACHES][MAXOBJ];

static void check_size(size_t size)
{
	char name[32];
	snprintf(name, sizeof name, "carve-%zu", size);
	unsigned n = 0, addr_order = 0, groups_addr_order = 0, same_as_first = 0;
	const unsigned K = KSLAB_CARVE_GROUP;
	for (unsigned k = 0; k < CACHES; k++) {
		/* odd k: the second slab of a cache */
		unsigned m = first_slab_order(name, size, 0, orders[k], k & 1);
		if (!m)
			return;
		CHECK(!n || m == n);
		n = m;
		const unsigned *o = orders[k];
		static unsigned char seen[MAXOBJ];
		memset(seen, 0, sizeof seen);
		bool identity = true;
		for (unsigned i = 0; i < n; i++) {
			CHECKF(o[i] < n && !seen[o[i]], "size %zu: slot %u out of range or handed out twice", size, o[i]);
			if (o[i] < n)
				seen[o[i]] = 1;
			identity &= o[i] == i;
		}
		addr_order += identity;
		if (n >= 2 * K) {
			unsigned groups = n / K;
			bool g_identity = true;
			for (unsigned g = 0; g < groups; g++) {
				unsigned first = o[g * K] / K;
				for (unsigned j = 0; j < K; j++)
					CHECKF(o[g * K + j] == first * K + j,
					       "size %zu: object %u carved is slot %u, not the next neighbour in group %u", size,
					       g * K + j, o[g * K + j], first);
				g_identity &= first == g;
			}
			groups_addr_order += g_identity;
			for (unsigned i = groups * K; i < n; i++)
				CHECKF(o[i] == i, "size %zu: the objects past the last group come last", size);
		}
		same_as_first += k && memcmp(o, orders[0], n * sizeof *o) == 0;
	}
	/* Random draws: each of these fails by chance with odds of 10^-6 or
	 * less (a slab of three objects has 6 orders, of four 8; two groups
	 * come in address order one time in 2). */
	CHECKF(n >= 2 * K ? addr_order < CACHES : addr_order <= CACHES / 2, "size %zu: %u of %u slabs carved in address order", size, addr_order, CACHES);
	if (n >= 2 * K)
		CHECKF(groups_addr_order < CACHES, "size %zu: every slab carved its groups in address order", size);
	CHECKF(same_as_first < CACHES - 1, "size %zu: every slab carved in the same order", size);
	test_msg("carve_order: size %zu, %u objects per slab: first slots %u %u %u %u %u %u %u %u; %u of %u slabs with "
	         "the groups in address order",
	         size, n, orders[0][0], orders[0][1], orders[0][2], orders[0][3], orders[0][4 % n], orders[0][5 % n],
	         orders[0][6 % n], orders[0][7 % n], groups_addr_order, CACHES);
}

/* The hardened profile's caches (SLAB_HARDEN): one object at a time, in a
 * random order. */
static void check_hardened(void)
{
	unsigned runs = 0, n = 0;
	for (unsigned k = 0; k < CACHES; k++) {
		n = first_slab_order("carve-hardened", 32, SLAB_HARDEN, orders[k], 0);
		if (n < 4)
			return;
		runs += orders[k][1] == orders[k][0] + 1 && orders[k][2] == orders[k][0] + 2 && orders[k][3] == orders[k][0] + 3;
	}
	test_msg("carve_order: SLAB_HARDEN, %u objects per slab: %u of %u slabs began with four neighbours in order", n,
	         runs, CACHES);
	CHECKF(runs < CACHES / 2, "SLAB_HARDEN: %u of %u slabs began with four neighbours in order", runs, CACHES);
}

int main(void)
{
	kalloc_ensure_init();
	check_hardened();
	static const size_t sizes[] = { 16, 32, 48, 100, 256, 320, 400, 1000, 3000, 5000 };
	for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++)
		check_size(sizes[i]);
	return check_done();
}

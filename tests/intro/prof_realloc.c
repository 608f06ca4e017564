/* SPDX-License-Identifier: MIT */
/*
 * A sampled realloc of a huge block keeps mremap: run with KALLOC_PROF set
 * and KALLOC_PROF_SAMPLE=1 (every allocation sampled), a 64 MiB block,
 * written through, grows to 128 MiB, and the growth must not copy it: a
 * copy would touch every page of the new block (16,384 minor faults and
 * more); a move of its page tables touches none of the old pages.  The
 * grown block must keep its contents and still be in the profile's hands
 * (freeing it is fine, a second realloc too).
 */
#include "ktest.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

int main(void)
{
	check_allocator();
	size_t old = 64UL << 20, new = 128UL << 20;
	unsigned char *p = malloc(old);
	CHECK(p != NULL);
	if (!p)
		return check_done();
	memset(p, 0x5a, old);
	long before = minflt();
	unsigned char *q = realloc(p, new);
	long faults = minflt() - before;
	CHECK(q != NULL);
	if (!q)
		return check_done();
	CHECKF(faults < 1000, "realloc of a sampled 64 MiB block to 128 MiB took %ld minor faults: it copied", faults);
	CHECK(q[0] == 0x5a && q[old / 2] == 0x5a && q[old - 1] == 0x5a);
	q = realloc(q, new * 2);
	CHECK(q != NULL && q[old - 1] == 0x5a);
	free(q);
	return check_done();
}

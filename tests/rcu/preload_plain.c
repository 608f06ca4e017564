/* SPDX-License-Identifier: MIT */
/*
 * A program under the preload library that never uses RCU: kalloc must not
 * load liburcu nor start a thread (the RCU binding is weak references,
 * resolved only when the program itself links liburcu).  Allocates in every
 * size regime, frees, trims (which shrinks every cache), then reads
 * /proc/self/maps and /proc/self/task.
 */
#define _GNU_SOURCE
#include "ktest.h"
#include "proc_check.h"

#include <malloc.h>
#include <stdlib.h>

int main(void)
{
	check_allocator();
	static void *blocks[3000];
	uint64_t rng = 7;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 3000; i++) {
			blocks[i] = malloc(stress_size(rng_next(&rng)));
			CHECK(blocks[i] != NULL);
		}
		for (int i = 0; i < 3000; i++)
			free(blocks[i]);
	}
	malloc_trim(0);
	if (expect_kalloc())
		CHECK(maps_contain("libkalloc-preload"));
	CHECKF(!maps_contain("liburcu"), "liburcu is mapped in a program that does not use RCU");
	CHECKF(thread_count() == 1, "the program has %d threads, not 1", thread_count());
	return check_done();
}

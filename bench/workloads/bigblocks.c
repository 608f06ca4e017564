/* SPDX-License-Identifier: MIT */
/*
 * Large blocks, again and again: up to 20 blocks of 5 to 25 MiB live, one
 * replaced at random 2,000 times (scaled by BENCH_SCALE), each new block
 * filled (one byte per 256, so every page is touched).  An allocator that
 * maps every huge block afresh pays page faults for all of it on every
 * replacement and a munmap on every free; one that keeps freed blocks (or a
 * heap) reuses pages already in place.
 */
#include "common.h"

#define SLOTS 20

int main(void)
{
	static unsigned char *blk[SLOTS];
	static size_t len[SLOTS];
	uint64_t s = 7;
	long rounds = (long)(2000 * scale());
	double t0 = now_s();
	for (long i = 0; i < rounds; i++) {
		int k = (int)(rnd(&s) % SLOTS);
		free(blk[k]);
		len[k] = (5u << 20) + rnd(&s) % (20u << 20);
		blk[k] = malloc(len[k]);
		if (!blk[k]) {
			fprintf(stderr, "bigblocks: malloc(%zu) failed\n", len[k]);
			return 1;
		}
		for (size_t o = 0; o < len[k]; o += 256)
			blk[k][o] = (unsigned char)o;
	}
	double t = now_s() - t0;
	for (int k = 0; k < SLOTS; k++)
		free(blk[k]);
	result(t, (double)rounds);
	return 0;
}

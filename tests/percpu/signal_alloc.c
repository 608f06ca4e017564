/* SPDX-License-Identifier: MIT */
/*
 * Signal handlers that allocate (issue: the per-thread fast path was not
 * safe against them).  A 50 us timer interrupts a tight malloc/free loop of
 * 40-byte blocks; the handler allocates and frees blocks of the same size
 * class.  A pop or push interrupted by the handler must restart, or the
 * handler and the loop get the same block: every block carries a pattern
 * naming its owner, the loop's live blocks are in a table the handler
 * checks against, and a block handed out twice shows up either way.
 *
 * The fast paths are what is tested: malloc is no more async-signal-safe
 * than glibc's outside them (a handler whose allocation needs the slab layer
 * while the interrupted code holds a slab or page lock waits for ever).  So
 * the thread stays on one CPU, and its stack of the class is filled before
 * the timer starts and kept between empty and full: the loop holds at most
 * LIVE blocks and the handler four.
 *
 * Runs in the per-CPU mode and in the per-thread mode, which arms its
 * sequences in glibc's rseq area so that they restart; the portable build
 * (no rseq) is documented as not safe for this and does not run it.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define LIVE 48
#define WARM 128
#define SIZE 40

static unsigned char *volatile live[LIVE];
static volatile sig_atomic_t signals, handler_bad;

static void on_alarm(int sig)
{
	(void)sig;
	unsigned char *mine[4];
	for (int i = 0; i < 4; i++) {
		mine[i] = malloc(SIZE);
		if (!mine[i]) {
			handler_bad++;
			continue;
		}
		for (int k = 0; k < LIVE; k++)
			if (live[k] == mine[i])
				handler_bad++;   /* the loop owns it */
		memset(mine[i], 0xee, SIZE);
	}
	for (int i = 0; i < 4; i++) {
		if (!mine[i])
			continue;
		for (int b = 0; b < SIZE; b++)
			if (mine[i][b] != 0xee) {
				handler_bad++;
				break;
			}
		free(mine[i]);
	}
	signals++;
}

int main(void)
{
	/* One CPU, and WARM blocks in its (or this thread's) stack. */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	sched_setaffinity(0, sizeof one, &one);
	static void *warm[WARM];
	for (int r = 0; r < 4; r++) {
		for (int i = 0; i < WARM; i++)
			warm[i] = malloc(SIZE);
		for (int i = 0; i < WARM; i++)
			free(warm[i]);
	}

	set_handler(SIGALRM, on_alarm, SA_RESTART);
	alarm_every_us(50);

	uint64_t rng = 5;
	uint8_t tag[LIVE];
	long bad = 0;
	long long end = now_ms() + 1500;
	while (now_ms() < end) {
		for (int n = 0; n < 1000; n++) {
			unsigned k = (unsigned)(rng_next(&rng) % LIVE);
			unsigned char *p = live[k];
			if (p) {
				for (int b = 0; b < SIZE; b++)
					if (p[b] != tag[k]) {
						bad++;
						break;
					}
				live[k] = NULL;
				free(p);
			} else {
				p = malloc(SIZE);
				CHECK(p != NULL);
				if (!p)
					continue;
				tag[k] = (uint8_t)(k ^ n);
				memset(p, tag[k], SIZE);
				live[k] = p;
			}
		}
	}
	alarm_every_us(0);
	for (int k = 0; k < LIVE; k++)
		free(live[k]);
	CHECKF(signals > 1000, "only %d signals", (int)signals);
	CHECKF(bad == 0 && handler_bad == 0, "%ld blocks of the loop changed, %d handler blocks shared or changed", bad,
	       (int)handler_bad);
	return check_done();
}

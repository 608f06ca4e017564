/* SPDX-License-Identifier: MIT */
/*
 * Signals delivered at a high rate (a 50 us interval timer) while the main
 * thread and a second thread malloc and free in a tight loop: every signal
 * that lands inside a restartable sequence aborts it, and the sequence must
 * restart without losing or duplicating an object.  Blocks are checked with
 * a pattern and tracked in a table to catch a block handed out twice.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>

static volatile sig_atomic_t hits;
static void on_signal(int sig)
{
	(void)sig;
	hits++;
}

#define LIVE 512
static int run(unsigned long seed, int iters)
{
	void *live[LIVE] = { 0 };
	unsigned char tag[LIVE];
	int bad = 0;
	for (int it = 0; it < iters; it++) {
		unsigned k = (unsigned)(rng_next(&seed) % LIVE);
		if (live[k]) {
			unsigned char *p = live[k];
			if (p[0] != tag[k] || p[15] != tag[k])
				bad++;
			free(p);
			live[k] = NULL;
		} else {
			size_t n = 16 + rng_next(&seed) % 200;
			unsigned char *p = malloc(n);
			tag[k] = (unsigned char)(it & 0xff);
			memset(p, tag[k], n);
			/* a block handed out twice would be live under another key */
			for (unsigned j = k & ~7u; j < (k & ~7u) + 8; j++)
				if (j != k && live[j] == p)
					bad++;
			live[k] = p;
		}
	}
	for (unsigned k = 0; k < LIVE; k++)
		free(live[k]);
	return bad;
}

static void *second(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)run(77, 2000000);
}

int main(void)
{
	set_handler(SIGALRM, on_signal, SA_RESTART);
	alarm_every_us(50);
	pthread_t t;
	pthread_create(&t, NULL, second, NULL);
	int bad = run(12345, 3000000);
	void *r;
	pthread_join(t, &r);
	alarm_every_us(0);
	CHECK(bad == 0);
	CHECK((intptr_t)r == 0);
	CHECK(hits > 100);
	fprintf(stderr, "signals: %d signals delivered\n", (int)hits);
	return check_done();
}

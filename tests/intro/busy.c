/* SPDX-License-Identifier: MIT */
/*
 * A running program for check_live.py: holds 3000 blocks of 1700 bytes
 * (kmalloc-1792), prints "ready PID", then allocates and frees 4000-byte
 * blocks (writing them) every millisecond until SIGTERM or SIGINT, or 30
 * seconds, and exits normally (its exit handlers run: KALLOC_STATS's
 * report, the segment removed).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	static void *held[3000];
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	for (int i = 0; i < 3000; i++) {
		held[i] = malloc(1700);
		memset(held[i], i, 1700);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	time_t end = time(NULL) + 30;
	while (!stop && time(NULL) < end) {
		for (int k = 0; k < 16; k++) {
			char *p = malloc(4000);
			memset(p, k, 4000);
			free(p);
		}
		usleep(1000);
	}
	for (int i = 0; i < 3000; i++)
		free(held[i]);
	return 0;
}

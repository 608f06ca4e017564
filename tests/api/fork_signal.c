/* SPDX-License-Identifier: MIT */
/*
 * fork() from a signal handler in a single-threaded process (issue: "fork
 * from any context").
 *
 * A timer fires SIGALRM every 200 us; the handler forks, the child exits at
 * once, the handler waits for it.  Meanwhile the program allocates and frees
 * page blocks (their path takes allocator locks), small blocks and now and
 * then a huge block, and forks by itself too, so signals also land inside
 * fork and its handlers.  A handler's fork that interrupted the allocator
 * while it held a lock must not wait for that lock: this thread holds it.
 * glibc's malloc takes no locks at fork while the process has one thread;
 * kalloc must not hang either.  Blocks are checked throughout.
 *
 * The run is in a child with a deadline: a hang is a failure.
 */
#include "ktest.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t forks_in_handler;

static void on_alarm(int sig)
{
	(void)sig;
	forks_in_handler += fork_and_reap();
}

static int scenario(void *arg)
{
	(void)arg;
	set_handler(SIGALRM, on_alarm, SA_RESTART);
	alarm_every_us(200);

	enum { W = 32 };
	unsigned char *p[W] = { 0 };
	size_t n[W] = { 0 };
	uint64_t rng = 99;
	int bad = 0, own_forks = 0;
	long long end = now_ms() + 1500, next_fork = 0;
	while (now_ms() < end) {
		uint64_t r = rng_next(&rng);
		int k = (int)(r % W);
		if (p[k]) {
			bad |= !block_ok(p[k], n[k], (uint64_t)k);
			free(p[k]);
		}
		unsigned pick = (unsigned)(r >> 8) % 100;
		n[k] = pick < 60 ? (64 << 10) + (size_t)(r >> 20) % (200 << 10)   /* page blocks */
		     : pick < 99 ? 1 + (size_t)(r >> 20) % 2000                   /* small */
		                 : (5 << 20) + (size_t)(r >> 20) % (1 << 20);     /* huge */
		p[k] = malloc(n[k]);
		if (!p[k])
			return 2;
		block_fill(p[k], n[k], (uint64_t)k);
		if (now_ms() >= next_fork) {
			next_fork = now_ms() + 20;
			own_forks += fork_and_reap();
		}
	}
	alarm_every_us(0);
	for (int k = 0; k < W; k++) {
		if (p[k])
			bad |= !block_ok(p[k], n[k], (uint64_t)k);
		free(p[k]);
	}
	if (bad)
		return 3;
	if (forks_in_handler < 50 || own_forks < 5) {
		test_msg("%d forks in the handler, %d by the program", (int)forks_in_handler, own_forks);
		return 4;   /* the scenario did not happen */
	}
	return 0;
}

int main(void)
{
	check_allocator();
	static struct child_result r;
	run_child(scenario, NULL, 30000, &r);
	char how[128];
	CHECKF(child_exit(&r) == 0, "scenario %s (2: malloc failed, 3: a block changed, 4: too few forks; hung: "
	                            "deadlock)\n%s", child_describe(&r, how, sizeof how), r.err);
	return check_done();
}

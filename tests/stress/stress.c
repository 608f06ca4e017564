/* SPDX-License-Identifier: MIT */
/*
 * stress: the allocator under everything at once, with every block's
 * contents checked.  `stress [SECONDS [SEED]]` (default 30 s, seed 1) runs
 * the phases below in rounds (a third of the time each, 3 s at least) until
 * the time is up.  Every random choice comes from the seed (the threads'
 * interleaving aside).  Run by ./test.sh for 30 s in each front-cache mode,
 * under the preload library; by hand as long as wanted (docs/testing.md).
 * Exit status: the number of failed checks.
 *
 *  A. churn: 8 threads, each with a table of blocks of random sizes in
 *     every regime (tiny, small, page blocks, huge), doing malloc, calloc
 *     (checked zero), realloc chains that cross regimes, memalign, and free;
 *     a quarter of the blocks go to another thread through a queue and are
 *     checked and freed there.  Meanwhile a thread forks every 20 ms (the
 *     child checks the blocks it inherited from one table, allocates, and
 *     exits), and another sends SIGUSR1 to the workers every 200 us; the
 *     handler allocates, fills, checks and frees a block when the thread it
 *     interrupted is not inside the allocator (malloc is not
 *     async-signal-safe; its fast paths are restartable, tested by
 *     percpu-signal_alloc).
 *  B. thread churn: 3,336 short-lived threads per round, 8 at a time, each
 *     allocating some blocks and leaving a few for the main thread to check
 *     and free after it exited (10,000 over a 30 s run of three rounds).
 *  C. one thread, in a fresh process (exec'd, so it never had another
 *     thread), a 500 us timer whose handler forks (the child exits at once)
 *     while the thread allocates: fork from a signal handler that
 *     interrupted the allocator.
 *  D. mlockall(MCL_CURRENT | MCL_FUTURE), a short churn, calloc checked
 *     zero, munlockall (skipped where mlockall is refused).
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))

static atomic_long failures;
static uint64_t seed = 1;   /* every generator starts from it */
#define FAIL(...)                                                       \
	do {                                                            \
		if (atomic_fetch_add(&failures, 1) < 20)                \
			test_msg(__VA_ARGS__);                          \
	} while (0)

/* A size in one of the regimes: tiny, small, page block, huge. */
static size_t any_size(uint64_t *rng)
{
	unsigned pick = (unsigned)rng_range(rng, 0, 999);
	if (pick < 450)
		return (size_t)rng_range(rng, 0, 64);
	if (pick < 850)
		return (size_t)rng_range(rng, 65, 8192);
	if (pick < 995)
		return (size_t)rng_range(rng, 8193, 1u << 20);
	return (size_t)rng_range(rng, 4u << 20, 24u << 20);
}

struct block {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static __thread volatile sig_atomic_t in_alloc;   /* this thread is inside the allocator */

static void *xmalloc(size_t n) { in_alloc = 1; void *p = malloc(n); in_alloc = 0; return p; }
static void *xcalloc(size_t a, size_t b) { in_alloc = 1; void *p = calloc(a, b); in_alloc = 0; return p; }
static void *xrealloc(void *q, size_t n) { in_alloc = 1; void *p = realloc(q, n); in_alloc = 0; return p; }
static void *xmemalign(size_t a, size_t n) { in_alloc = 1; void *p = memalign(a, n); in_alloc = 0; return p; }
static void xfree(void *p) { in_alloc = 1; free(p); in_alloc = 0; }

static void check_block(const struct block *b, const char *where)
{
	if (b->p && !block_ok(b->p, b->n, b->tag))
		FAIL("%s: block %p of %zu bytes (tag %lu) changed", where, (void *)b->p, b->n, (unsigned long)b->tag);
}

/* ---- A. churn ------------------------------------------------------------ */

#define WORKERS 8
#define SLOTS 96
#define QCAP 4096

static struct {
	pthread_mutex_t lock;
	struct block q[QCAP];
	int head, len;
} handoff[WORKERS];

static atomic_int stop_a;
static atomic_long rounds_done, threads_made;
static struct block tables[WORKERS][SLOTS];
static pthread_mutex_t table_lock[WORKERS];
static atomic_long handled;

static void give(int to, struct block b)
{
	pthread_mutex_lock(&handoff[to].lock);
	if (handoff[to].len < QCAP) {
		handoff[to].q[(handoff[to].head + handoff[to].len++) % QCAP] = b;
		b.p = NULL;
	}
	pthread_mutex_unlock(&handoff[to].lock);
	if (b.p) {
		check_block(&b, "handoff (queue full)");
		xfree(b.p);
	}
}

static void take_all(int me)
{
	for (;;) {
		struct block b = { 0 };
		pthread_mutex_lock(&handoff[me].lock);
		if (handoff[me].len) {
			b = handoff[me].q[handoff[me].head];
			handoff[me].head = (handoff[me].head + 1) % QCAP;
			handoff[me].len--;
		}
		pthread_mutex_unlock(&handoff[me].lock);
		if (!b.p)
			return;
		check_block(&b, "received from another thread");
		xfree(b.p);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	if (in_alloc)
		return;
	int saved = errno;
	unsigned char *p = malloc(100);
	if (p) {
		memset(p, 0x3c, 100);
		for (int i = 0; i < 100; i++)
			if (p[i] != 0x3c) {
				atomic_fetch_add(&failures, 1);
				break;
			}
		free(p);
	}
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t rng = seed * 0x5757 + (uint64_t)me * 977 + (uint64_t)atomic_load(&rounds_done) * 31;
	struct block *t = tables[me];
	uint64_t tag = (uint64_t)me << 40;
	while (!atomic_load(&stop_a)) {
		take_all(me);
		pthread_mutex_lock(&table_lock[me]);
		for (int n = 0; n < 64; n++) {
			int k = (int)rng_range(&rng, 0, SLOTS - 1);
			struct block *b = &t[k];
			unsigned op = (unsigned)rng_range(&rng, 0, 99);
			if (b->p && op < 35) {
				check_block(b, "before free");
				if (op < 10) {
					int to = (int)rng_range(&rng, 0, WORKERS - 1);
					struct block g = *b;
					b->p = NULL;
					pthread_mutex_unlock(&table_lock[me]);
					give(to, g);
					pthread_mutex_lock(&table_lock[me]);
				} else {
					xfree(b->p);
					b->p = NULL;
				}
			} else if (b->p && op < 60) {
				/* realloc chain: keeps the common prefix */
				check_block(b, "before realloc");
				size_t n2 = any_size(&rng);
				n2 = n2 ? n2 : 1;
				unsigned char *q = xrealloc(b->p, n2);
				if (!q) {
					FAIL("realloc(%zu) failed", n2);
					continue;
				}
				/* The common prefix survives: all of the old block when
				 * it grew, else what block_fill wrote below n2. */
				size_t head = b->n <= 4096 ? n2 : KMIN(n2, (size_t)256);
				if (n2 >= b->n ? !block_ok(q, b->n, b->tag) : pattern_check(q, head, b->tag) != head)
					FAIL("realloc %zu -> %zu lost data", b->n, n2);
				b->p = q;
				b->n = n2;
				b->tag = ++tag;
				block_fill(b->p, b->n, b->tag);
			} else if (!b->p) {
				size_t n2 = any_size(&rng);
				if (op < 75) {
					b->p = xcalloc(1, n2);
					if (b->p && first_nonzero(b->p, n2) != n2)
						FAIL("calloc(%zu) not zero", n2);
				} else if (op < 80) {
					size_t a = (size_t)1 << rng_range(&rng, 4, 13);
					b->p = xmemalign(a, n2);
					if (b->p && ((uintptr_t)b->p & (a - 1)))
						FAIL("memalign(%zu) = %p", a, (void *)b->p);
				} else {
					b->p = xmalloc(n2);
				}
				if (!b->p) {
					FAIL("allocation of %zu failed", n2);
					continue;
				}
				b->n = n2;
				b->tag = ++tag;
				block_fill(b->p, b->n, b->tag);
			}
		}
		pthread_mutex_unlock(&table_lock[me]);
	}
	take_all(me);
	/* Under the table's lock: the forker may still be reading this table
	 * in a child it forked with the lock held, and a block freed here in
	 * the meantime would be gone from under the child. */
	pthread_mutex_lock(&table_lock[me]);
	for (int k = 0; k < SLOTS; k++) {
		check_block(&t[k], "at the end");
		xfree(t[k].p);
		t[k].p = NULL;
	}
	pthread_mutex_unlock(&table_lock[me]);
	return NULL;
}

static atomic_long forks;

/* Forks every 20 ms; the child checks one worker's table (taken under its
 * lock, so no block is half written), allocates and exits. */
static void *forker(void *arg)
{
	(void)arg;
	uint64_t rng = seed * 77;
	while (!atomic_load(&stop_a)) {
		int w = (int)rng_range(&rng, 0, WORKERS - 1);
		pthread_mutex_lock(&table_lock[w]);
		pid_t pid = fork();
		if (pid == 0) {
			int bad = 0;
			for (int k = 0; k < SLOTS; k++)
				if (tables[w][k].p && !block_ok(tables[w][k].p, tables[w][k].n, tables[w][k].tag))
					bad++;
			for (int i = 0; i < 200; i++) {
				size_t n = 1 + (size_t)i * 997 % 300000;
				unsigned char *p = malloc(n);
				if (!p)
					_exit(3);
				pattern_fill(p, KMIN(n, (size_t)256), (uint64_t)i);
				if (pattern_check(p, KMIN(n, (size_t)256), (uint64_t)i) != KMIN(n, (size_t)256))
					bad++;
				free(p);
			}
			_exit(bad ? 1 : 0);
		}
		pthread_mutex_unlock(&table_lock[w]);
		if (pid > 0) {
			int st, ok = 0;
			for (int i = 0; i < 10000 && !ok; i++) {   /* 10 s */
				if (waitpid(pid, &st, WNOHANG) == pid) {
					ok = 1;
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
						FAIL("forked child: status %#x", st);
				} else {
					usleep(1000);
				}
			}
			if (!ok) {
				FAIL("forked child hung");
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
			}
			atomic_fetch_add(&forks, 1);
		}
		usleep(20000);
	}
	return NULL;
}

static pthread_t workers[WORKERS];

static void *signaller(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_a)) {
		for (int i = 0; i < WORKERS; i++)
			pthread_kill(workers[i], SIGUSR1);
		usleep(200);
	}
	return NULL;
}

static void phase_churn(long long ms)
{
	set_handler(SIGUSR1, on_usr1, SA_RESTART);
	atomic_store(&stop_a, 0);
	for (int i = 0; i < WORKERS; i++) {
		pthread_mutex_init(&handoff[i].lock, NULL);
		pthread_mutex_init(&table_lock[i], NULL);
		pthread_create(&workers[i], NULL, worker, (void *)(intptr_t)i);
	}
	pthread_t f, s;
	pthread_create(&f, NULL, forker, NULL);
	pthread_create(&s, NULL, signaller, NULL);
	usleep((useconds_t)(ms * 1000));
	atomic_store(&stop_a, 1);
	pthread_join(s, NULL);
	pthread_join(f, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);
	for (int i = 0; i < WORKERS; i++)
		take_all(i);
	signal(SIGUSR1, SIG_IGN);
}

/* ---- B. short-lived threads ---------------------------------------------- */

#define LEFT 4
static struct block left[8][LEFT];

static void *short_lived(void *arg)
{
	int slot = (int)(intptr_t)arg;
	uint64_t rng = seed * 131 + (uint64_t)slot * 31 + (uint64_t)atomic_fetch_add(&threads_made, 1) * 7;
	struct block b[16];
	for (int i = 0; i < 16; i++) {
		b[i].n = any_size(&rng) % 70000;
		b[i].p = malloc(b[i].n);
		b[i].tag = rng_next(&rng);
		if (!b[i].p) {
			FAIL("short-lived thread: malloc(%zu) failed", b[i].n);
			return NULL;
		}
		block_fill(b[i].p, b[i].n, b[i].tag);
	}
	for (int i = 0; i < 16; i++) {
		if (i < LEFT) {
			left[slot][i] = b[i];   /* outlives the thread */
			continue;
		}
		check_block(&b[i], "short-lived thread");
		free(b[i].p);
	}
	return NULL;
}

static long phase_threads(int total)
{
	long made = 0;
	for (int done = 0; done < total; done += 8) {
		pthread_t t[8];
		int n = 0;
		for (int i = 0; i < 8; i++)
			if (pthread_create(&t[i], NULL, short_lived, (void *)(intptr_t)i) == 0)
				n++;
			else
				FAIL("pthread_create failed");
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		made += n;
		for (int i = 0; i < n; i++)
			for (int k = 0; k < LEFT; k++) {
				check_block(&left[i][k], "left by an exited thread");
				free(left[i][k].p);
				left[i][k].p = NULL;
			}
	}
	return made;
}

/* ---- C. fork from a signal handler, one thread ---------------------------- */

static volatile sig_atomic_t handler_forks;

static void on_alarm(int sig)
{
	(void)sig;
	handler_forks += fork_and_reap();
}

/* In a fresh process (exec'd: one that never had a second thread, as the
 * rule for fork from a signal handler wants). */
static int phase_signal_fork(long long ms)
{
	set_handler(SIGALRM, on_alarm, SA_RESTART);
	alarm_every_us(500);
	uint64_t rng = seed * 4242;
	struct block t[32] = { { 0 } };
	long long end = now_ms() + ms;
	int bad = 0;
	while (now_ms() < end) {
		int k = (int)rng_range(&rng, 0, 31);
		if (t[k].p) {
			bad |= !block_ok(t[k].p, t[k].n, t[k].tag);
			free(t[k].p);
		}
		t[k].n = any_size(&rng) % (1u << 20);   /* no huge blocks: they make each fork slower */
		t[k].tag = rng_next(&rng);
		t[k].p = malloc(t[k].n);
		if (!t[k].p)
			return 2;
		block_fill(t[k].p, t[k].n, t[k].tag);
	}
	alarm_every_us(0);
	for (int k = 0; k < 32; k++)
		free(t[k].p);
	return bad ? 1 : handler_forks > 10 ? 0 : 4;
}

/* ---- D. mlockall ---------------------------------------------------------- */

static int phase_mlock(void *arg)
{
	(void)arg;
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		return 77;
	uint64_t rng = 99;
	static struct block t[64];
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 64; k++) {
			t[k].n = (size_t)rng_range(&rng, 1, 600000);
			t[k].p = malloc(t[k].n);
			if (!t[k].p)
				return 2;
			memset(t[k].p, 0xa5, t[k].n);
		}
		for (int k = 0; k < 64; k++)
			free(t[k].p);
		for (int k = 0; k < 64; k++) {
			unsigned char *p = calloc(1, t[k].n);
			if (!p)
				return 2;
			if (first_nonzero(p, t[k].n) != t[k].n)
				return 1;
			free(p);
		}
		if (round % 5 == 4)
			malloc_trim(0);
	}
	munlockall();
	return 0;
}

static char *self;

static int exec_signal_fork(void *arg)
{
	char ms[32];
	snprintf(ms, sizeof ms, "%lld", *(long long *)arg);
	execl("/proc/self/exe", self, "--signal-fork", ms, (char *)NULL);
	return 9;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 2 && strcmp(argv[1], "--signal-fork") == 0)
		return phase_signal_fork(atoll(argv[2]));
	check_allocator();
	long long seconds = argc > 1 ? atoll(argv[1]) : 30;
	seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	long long start = now_ms(), end = start + seconds * 1000;
	long long round_ms = KMAX(3000, seconds * 1000 / 3);
	long threads = 0, rounds = 0;
	int mlock_skipped = 0;
	long long spent[4] = { 0, 0, 0, 0 };
	while (now_ms() < end && atomic_load(&failures) == 0) {
		long long t0 = now_ms();
		phase_churn(round_ms * 55 / 100);
		long long t1 = now_ms();
		threads += phase_threads(3336);
		long long t2 = now_ms();
		static struct child_result r;
		long long sig_ms = round_ms / 10;
		run_child(exec_signal_fork, &sig_ms, (int)sig_ms + 60000, &r);
		char how[128];
		if (child_exit(&r) != 0)
			FAIL("fork from a signal handler: %s\n%s", child_describe(&r, how, sizeof how), r.err);
		long long t3 = now_ms();
		run_child(phase_mlock, NULL, 60000, &r);
		if (child_exit(&r) == 77)
			mlock_skipped = 1;
		else if (child_exit(&r) != 0)
			FAIL("mlockall phase: %s\n%s", child_describe(&r, how, sizeof how), r.err);
		spent[0] += t1 - t0;
		spent[1] += t2 - t1;
		spent[2] += t3 - t2;
		spent[3] += now_ms() - t3;
		rounds++;
		atomic_fetch_add(&rounds_done, 1);
	}
	test_msg("stress: phases A %lld ms, B %lld ms, C %lld ms, D %lld ms", spent[0], spent[1], spent[2], spent[3]);
	test_msg("stress: %lld s, %ld rounds, %ld short-lived threads, %ld forks from threads, %ld signals handled%s",
	         (now_ms() - start) / 1000, rounds, threads, atomic_load(&forks), atomic_load(&handled),
	         mlock_skipped ? ", mlockall refused (phase D skipped)" : "");
	if (atomic_load(&failures))
		test_msg("stress: %ld failures", atomic_load(&failures));
	return atomic_load(&failures) > 100 ? 100 : (int)atomic_load(&failures);
}

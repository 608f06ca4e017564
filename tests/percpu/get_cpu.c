/* SPDX-License-Identifier: MIT */
/*
 * get_cpu/put_cpu and get_cpu_var/put_cpu_var: userspace cannot disable
 * preemption, so get_cpu must make its section exclusive by other means.
 *
 *  - 8 threads, all on one CPU (so they share a CPU index), each do a
 *    non-atomic read-modify-write of get_cpu_var(counter) with a yield
 *    between the read and the write: no update is lost, and no section sees
 *    another inside it (an owner word);
 *  - sections nest; smp_processor_id() inside one is the section's CPU;
 *  - a thread moved to another CPU inside its section keeps its index, and
 *    put_cpu releases that index (taking it again does not hang);
 *  - put_cpu outside a section is reported;
 *  - a child forked while another thread holds a CPU index can take it.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 4000

struct slot {
	long count;
	long owner;
};

static DEFINE_PER_CPU(struct slot, slot);
static cpu_set_t one_cpu, all_cpus;
static int cpu_a = -1, cpu_b = -1;  /* two CPUs this process may run on */
static _Atomic long overlaps, wrong_index;

static void *rmw_worker(void *arg)
{
	long me = (long)(intptr_t)arg + 1;
	sched_setaffinity(0, sizeof one_cpu, &one_cpu);
	for (int i = 0; i < ROUNDS; i++) {
		struct slot *s = &get_cpu_var(slot);
		if (s->owner != 0)
			overlaps++;
		s->owner = me;
		long v = s->count;
		if (i % 3 == 0)
			sched_yield();
		else if (i % 3 == 1)
			nanosleep(&(struct timespec){0, 1000}, NULL);
		if (s != this_cpu_ptr(&slot))
			wrong_index++;
		s->count = v + 1;
		if (s->owner != me)
			overlaps++;
		s->owner = 0;
		put_cpu_var(slot);
	}
	return NULL;
}

static void rmw_test(void)
{
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, rmw_worker, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	long sum = 0;
	int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(slot, cpu).count;
	CHECKF(sum == (long)THREADS * ROUNDS, "%ld updates of %ld", sum, (long)THREADS * ROUNDS);
	CHECKF(overlaps == 0, "%ld sections overlapped", (long)overlaps);
	CHECK(wrong_index == 0);
}

static int nested(void *arg)
{
	(void)arg;
	int a = get_cpu();
	int b = get_cpu();
	int c = get_cpu();
	if (a != b || b != c || smp_processor_id() != a)
		return 1;
	put_cpu();
	put_cpu();
	if (smp_processor_id() != a)
		return 2;
	put_cpu();
	/* Released: the same thread takes and releases it again. */
	for (int i = 0; i < 100; i++) {
		get_cpu();
		put_cpu();
	}
	return 0;
}

/* Inside a section the thread moves to another CPU: it keeps its index,
 * and put_cpu releases that index, not the new CPU's. */
static int migrate(void *arg)
{
	(void)arg;
	cpu_set_t a, b;
	CPU_ZERO(&a);
	CPU_SET(cpu_a, &a);
	CPU_ZERO(&b);
	CPU_SET(cpu_b, &b);
	int fails = 0;
	for (int round = 0; round < 20; round++) {
		sched_setaffinity(0, sizeof a, &a);
		int k = get_cpu();
		long *mine = &per_cpu(slot, k).count;
		sched_setaffinity(0, sizeof b, &b);
		sched_yield();
		if (sched_getcpu() != cpu_b)
			fails |= 4;
		if (smp_processor_id() != k || this_cpu_ptr(&slot.count) != mine ||
		    &get_cpu_var(slot).count != mine)
			fails |= 1;
		put_cpu_var(slot);
		put_cpu();
		/* Back on the first CPU: its index is free again. */
		sched_setaffinity(0, sizeof a, &a);
		int k2 = get_cpu();
		put_cpu();
		int k3 = get_cpu();
		put_cpu();
		if (k2 != k3)
			fails |= 2;
	}
	return fails;
}

static int unbalanced(void *arg)
{
	(void)arg;
	put_cpu();
	return 0;
}

static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_c = PTHREAD_COND_INITIALIZER;
static int held_state;  /* 1: the holder holds its index; 2: it may let go */

static void *holder(void *arg)
{
	(void)arg;
	sched_setaffinity(0, sizeof one_cpu, &one_cpu);
	get_cpu();
	pthread_mutex_lock(&held_m);
	held_state = 1;
	pthread_cond_broadcast(&held_c);
	while (held_state != 2)
		pthread_cond_wait(&held_c, &held_m);
	pthread_mutex_unlock(&held_m);
	put_cpu();
	return NULL;
}

/* fork while another thread holds the CPU index the child will use. */
static void fork_test(void)
{
	pthread_t t;
	pthread_create(&t, NULL, holder, NULL);
	pthread_mutex_lock(&held_m);
	while (held_state != 1)
		pthread_cond_wait(&held_c, &held_m);
	pthread_mutex_unlock(&held_m);
	sched_setaffinity(0, sizeof one_cpu, &one_cpu);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10);
		for (int i = 0; i < 10; i++) {
			get_cpu();
			per_cpu(slot, smp_processor_id()).owner = 0;
			put_cpu();
		}
		_exit(0);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	pthread_mutex_lock(&held_m);
	held_state = 2;
	pthread_cond_broadcast(&held_c);
	pthread_mutex_unlock(&held_m);
	pthread_join(t, NULL);
	sched_setaffinity(0, sizeof all_cpus, &all_cpus);
}

int main(void)
{
	CHECK(sched_getaffinity(0, sizeof all_cpus, &all_cpus) == 0);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all_cpus))
			continue;
		if (cpu_a < 0)
			cpu_a = c;
		else if (cpu_b < 0)
			cpu_b = c;
	}
	CPU_ZERO(&one_cpu);
	CPU_SET(cpu_a, &one_cpu);

	rmw_test();

	struct child_result r;
	char buf[128];
	run_child(nested, NULL, 20000, &r);
	CHECKF(child_exit(&r) == 0, "nested: %s", child_describe(&r, buf, sizeof buf));
	if (cpu_b >= 0) {
		run_child(migrate, NULL, 20000, &r);
		CHECKF(child_exit(&r) == 0, "migrate: %s", child_describe(&r, buf, sizeof buf));
	} else {
		test_msg("get_cpu: one CPU only, migration not tried");
	}
	run_child(unbalanced, NULL, 20000, &r);
	CHECK(child_aborted(&r) && contains(r.err, "put_cpu"));
	fork_test();
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * Producer/consumer pipeline: P pairs (argv[1], default 1) of threads; the
 * producer mallocs messages (32..512 bytes, or all of argv[2] bytes), fills a header, and passes
 * them through a bounded single-producer single-consumer ring; the
 * consumer reads and frees them.  Every free is a remote free.  Time for
 * all messages to pass.
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define RING 1024
#define MAXP 32

struct ring {
	void *slot[RING];
	_Alignas(64) _Atomic unsigned long head;
	_Alignas(64) _Atomic unsigned long tail;
};

static struct ring rings[MAXP];
static long messages;
static size_t fixed_size;   /* argv[2]: every message this size (0: random) */

static void *producer(void *arg)
{
	struct ring *q = arg;
	uint64_t s = (uint64_t)(uintptr_t)arg | 1;
	for (long i = 0; i < messages; i++) {
		size_t n = fixed_size ? fixed_size : 32 + rnd(&s) % 481;
		long *m = malloc(n);
		m[0] = i;
		m[1] = (long)n;
		unsigned long h = atomic_load_explicit(&q->head, memory_order_relaxed);
		while (h - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING)
			sched_yield();
		q->slot[h % RING] = m;
		atomic_store_explicit(&q->head, h + 1, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *q = arg;
	long sum = 0;
	for (long i = 0; i < messages; i++) {
		unsigned long t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		while (atomic_load_explicit(&q->head, memory_order_acquire) == t)
			sched_yield();
		long *m = q->slot[t % RING];
		atomic_store_explicit(&q->tail, t + 1, memory_order_release);
		sum += m[0] == i;
		free(m);
	}
	if (sum != messages) {
		fprintf(stderr, "prodcons: messages out of order\n");
		exit(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int pairs = argc > 1 ? atoi(argv[1]) : 1;
	if (pairs < 1 || pairs > MAXP)
		pairs = 1;
	if (argc > 2 && atol(argv[2]) >= 16)
		fixed_size = (size_t)atol(argv[2]);
	messages = (long)(4000000 * scale()) / pairs;
	pthread_t t[2 * MAXP];
	double t0 = now_s();
	for (int i = 0; i < pairs; i++) {
		pthread_create(&t[2 * i], NULL, producer, &rings[i]);
		pthread_create(&t[2 * i + 1], NULL, consumer, &rings[i]);
	}
	for (int i = 0; i < 2 * pairs; i++)
		pthread_join(t[i], NULL);
	result(now_s() - t0, (double)messages * pairs);
	return 0;
}

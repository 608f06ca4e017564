/* SPDX-License-Identifier: MIT */
/*
 * The binding to liburcu (src/rcu.c), against the internal API, linked
 * with liburcu:
 *   - liburcu's struct urcu_reader keeps its `registered` bit where rcu.c
 *     reads it (byte 152 on x86-64), per the installed header;
 *   - krcu_thread_registered follows rcu_register_thread and
 *     rcu_unregister_thread, in the main thread and in another;
 *   - a deferral from an unregistered thread leaves it unregistered, from a
 *     registered one registered;
 *   - a deferred call waits for a reader inside its critical section and
 *     runs after it leaves (krcu_barrier).
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>
#include <urcu/static/urcu-common.h>

#include "internal.h"

static atomic_int ran;

static void count_cb(struct krcu_head *h)
{
	(void)h;
	atomic_fetch_add(&ran, 1);
}

static void *other_thread(void *arg)
{
	(void)arg;
	CHECK(!krcu_thread_registered());
	struct krcu_head h;
	krcu_call(&h, count_cb);
	CHECKF(!krcu_thread_registered(), "a deferral left an unregistered thread registered");
	rcu_register_thread();
	CHECK(krcu_thread_registered());
	struct krcu_head h2;
	krcu_call(&h2, count_cb);
	CHECKF(krcu_thread_registered(), "a deferral unregistered a registered thread");
	rcu_unregister_thread();
	CHECK(!krcu_thread_registered());
	krcu_barrier();   /* h and h2 live on this stack */
	return NULL;
}

int main(void)
{
	kalloc_ensure_init();
	CHECK(krcu_bound());
#if defined(__x86_64__)
	struct urcu_reader r;
	memset(&r, 0, sizeof r);
	r.registered = 1;
	const unsigned char *b = (const unsigned char *)&r;
	size_t at = sizeof r;
	for (size_t i = 0; i < sizeof r; i++)
		if (b[i]) {
			at = i;
			break;
		}
	CHECKF(at == 152 && b[at] == 1, "struct urcu_reader's registered bit is at byte %zu (value %d), not byte 152 bit 0 "
	       "as src/rcu.c reads it", at, at < sizeof r ? b[at] : -1);
#endif
	CHECK(!krcu_thread_registered());
	rcu_register_thread();
	CHECK(krcu_thread_registered());
	rcu_unregister_thread();
	CHECK(!krcu_thread_registered());

	pthread_t t;
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, NULL);
	CHECK(atomic_load(&ran) == 2);

	/* a deferred call waits for a reader */
	rcu_register_thread();
	atomic_store(&ran, 0);
	struct krcu_head h;
	rcu_read_lock();
	CHECK(krcu_read_ongoing());
	krcu_call(&h, count_cb);
	usleep(100 * 1000);
	CHECKF(atomic_load(&ran) == 0, "a deferred call ran while a reader was inside its critical section");
	rcu_read_unlock();
	CHECK(!krcu_read_ongoing());
	krcu_barrier();
	CHECK(atomic_load(&ran) == 1);
	rcu_unregister_thread();
	return check_done();
}

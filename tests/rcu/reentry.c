/* SPDX-License-Identifier: MIT */
/*
 * A deferral made while the thread is inside liburcu (src/rcu.c's `later`
 * stack): liburcu allocates, an allocation may reach kalloc's reclaim, and
 * reclaim may defer a SLAB_TYPESAFE_BY_RCU slab again.  This program puts
 * its own urcu_memb_call_rcu in front of liburcu's (it is linked with the
 * static core, so kalloc's weak reference binds to this definition) and
 * defers once more from inside it, the way such a reclaim would.  The inner
 * deferral must neither call liburcu again from inside nor run at once: it
 * waits for the same reader as the outer one and runs after it leaves.
 * The same wrapper checks that liburcu is only ever called from a
 * registered thread, with a deferral from a thread that is not.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urcu.h>

#include "internal.h"

static atomic_int ran, depth, max_depth, calls, unregistered_calls;
static struct krcu_head inner[3];
static int inner_left;

static void count_cb(struct krcu_head *h)
{
	(void)h;
	atomic_fetch_add(&ran, 1);
}

/* liburcu's call_rcu, with a deferral from inside it. */
void urcu_memb_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	static void (*real)(struct rcu_head *, void (*)(struct rcu_head *));
	if (!real) {
		void *sym = dlsym(RTLD_NEXT, "urcu_memb_call_rcu");
		memcpy(&real, &sym, sizeof real);   /* POSIX: a function's address as void * */
	}
	int d = atomic_fetch_add(&depth, 1) + 1;
	if (d > atomic_load(&max_depth))
		atomic_store(&max_depth, d);
	atomic_fetch_add(&calls, 1);
	if (!krcu_thread_registered())
		atomic_fetch_add(&unregistered_calls, 1);   /* liburcu requires a registered caller */
	if (inner_left > 0) {
		inner_left--;
		krcu_call(&inner[inner_left], count_cb);   /* as reclaim would */
	}
	real(head, func);
	atomic_fetch_sub(&depth, 1);
}

static void *unregistered_thread(void *arg)
{
	(void)arg;
	struct krcu_head h;
	krcu_call(&h, count_cb);
	krcu_barrier();   /* h lives on this stack */
	return NULL;
}

int main(void)
{
	kalloc_ensure_init();
	CHECK(krcu_bound());
	rcu_register_thread();

	struct krcu_head outer;
	inner_left = 2;   /* the outer call nests one; handing that one over nests the second */
	rcu_read_lock();
	krcu_call(&outer, count_cb);
	usleep(100 * 1000);
	CHECKF(atomic_load(&ran) == 0, "%d deferred calls ran while a reader was inside its critical section",
	       atomic_load(&ran));
	rcu_read_unlock();
	krcu_barrier();
	CHECKF(atomic_load(&ran) == 3, "%d of 3 deferred calls ran after the barrier", atomic_load(&ran));
	CHECKF(atomic_load(&max_depth) == 1, "liburcu's call_rcu was entered again from inside itself (depth %d)",
	       atomic_load(&max_depth));
	CHECKF(atomic_load(&calls) == 3, "liburcu's call_rcu was called %d times, not 3", atomic_load(&calls));
	rcu_unregister_thread();

	pthread_t t;
	pthread_create(&t, NULL, unregistered_thread, NULL);
	pthread_join(t, NULL);
	CHECK(atomic_load(&ran) == 4);
	CHECKF(atomic_load(&unregistered_calls) == 0, "liburcu's call_rcu was called %d times from an unregistered "
	       "thread", atomic_load(&unregistered_calls));
	return check_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * rcu.h - the binding to liburcu (rcu.c): work deferred until after an RCU
 * grace period, or done at once where no RCU reader can exist.
 */
#ifndef KALLOC_RCU_H
#define KALLOC_RCU_H

#include "tune.h"

#pragma GCC visibility push(hidden)

/*
 * A deferred call: liburcu's struct rcu_head, field for field (a queue
 * link, then the function), so the one liburcu receives is the caller's own
 * (no allocation).  The public struct kalloc_rcu_head of kalloc.h has the
 * same layout.  While the call waits in rcu.c's own list (see rcu.c),
 * `next` links it there.
 */
struct krcu_head {
	struct krcu_head *next;
	void (*func)(struct krcu_head *head);
};
_Static_assert(sizeof(struct krcu_head) == 2 * sizeof(void *), "liburcu's struct rcu_head: two words");

/* True when deferrals wait for a grace period: the process has liburcu's
 * default flavour loaded and KALLOC_RCU is not 0. */
bool krcu_bound(void);
/* Calls fn(head) after a grace period: every RCU read-side critical section
 * in progress now has ended by then.  Unbound, calls it at once.  The
 * caller holds no lock of kalloc (liburcu allocates, and starts its
 * call_rcu thread on first use); any thread may call it, registered with
 * liburcu or not (on x86-64 rcu.c registers it for the call where it is
 * not; elsewhere it must be registered).  fn runs in liburcu's call_rcu
 * thread, holding no lock of kalloc. */
void krcu_call(struct krcu_head *head, void (*fn)(struct krcu_head *head));
/* Waits until every call deferred before it has run (liburcu's
 * rcu_barrier).  Unbound, returns at once.  Not from inside a read-side
 * critical section (krcu_read_ongoing) nor from a deferred call. */
void krcu_barrier(void);
/* True when bound and the calling thread is inside an RCU read-side
 * critical section. */
bool krcu_read_ongoing(void);
/* True when the calling thread is registered with liburcu (unbound: false).
 * Exposed for the tests. */
bool krcu_thread_registered(void);

#pragma GCC visibility pop

#endif /* KALLOC_RCU_H */

/* SPDX-License-Identifier: MIT */
/*
 * rcu.c - deferral until after an RCU grace period, on liburcu's default
 * flavour (urcu-memb: liburcu.so or liburcu-memb.so), bound at load time
 * through weak references.
 *
 * Why weak references: kalloc must not load liburcu, nor start its
 * call_rcu thread, in a program that never uses RCU (the preload library
 * runs under every program).  A program whose threads read RCU-protected
 * data links liburcu itself; its urcu_memb_* symbols are then in the global
 * scope when the dynamic linker relocates kalloc (every object is loaded
 * before any is relocated), and the weak references below resolve to
 * them.  Otherwise they stay NULL: no RCU reader exists in the process, no
 * grace period is needed, and deferred work runs at once.  (A liburcu
 * loaded later with dlopen is not seen: its readers would go unprotected,
 * so a program that reads under RCU must link liburcu, not dlopen it.)
 * Neither libkalloc.so nor libkalloc-preload.so names liburcu as needed.
 *
 * Registration.  liburcu's call_rcu must be called from a thread registered
 * with it (rcu_register_thread): call_rcu holds a read-side lock while it
 * picks the call_rcu thread's queue, and only a registered reader holds off
 * the grace period that would free a per-CPU queue.  kalloc defers from any
 * thread (a slab of a SLAB_TYPESAFE_BY_RCU cache empties in whatever thread
 * frees its last object, or in malloc_trim), so before calling it asks
 * whether the thread is registered and, if not, registers it for the call
 * and unregisters it after.  The question is answered by the `registered`
 * bit of liburcu's per-thread reader record (urcu_memb_reader, struct
 * urcu_reader in <urcu/static/urcu-common.h>: a layout fixed for the
 * library's soname, since programs built with _LGPL_SOURCE inline readers
 * that use it); tests/rcu/urcu_abi.c checks the offset below against the
 * installed header.  Registering a registered thread would corrupt
 * liburcu's registry, so the offset is given only for x86-64, where it is
 * checked; elsewhere every thread is taken as registered and a thread that
 * defers must be registered, as liburcu itself requires of call_rcu.
 *
 * Reentrancy.  liburcu allocates (the first call_rcu creates the call_rcu
 * thread; rcu_barrier allocates its completion), so it may reach kalloc's
 * reclaim, whose shrink may defer a slab again.  A thread that is already
 * inside liburcu does not call it again: it pushes the head on a lock-free
 * stack (`later`, linked through the heads' own `next`), which the outer
 * call hands to liburcu before it returns, as does every later krcu_call
 * and krcu_barrier.
 *
 * Locks: none.  Callers hold no lock of kalloc (liburcu takes its own
 * mutexes, allocates, and creates a thread).
 */
#include "rcu.h"

#include <pthread.h>

/* liburcu's default flavour (urcu/urcu-memb.h, urcu/call-rcu.h); declared
 * here with kalloc's types (struct krcu_head is struct rcu_head's layout),
 * so building kalloc needs no liburcu header. */
extern void urcu_memb_call_rcu(struct krcu_head *head, void (*func)(struct krcu_head *head))
	__attribute__((weak));
extern void urcu_memb_barrier(void) __attribute__((weak));
extern void urcu_memb_register_thread(void) __attribute__((weak));
extern void urcu_memb_unregister_thread(void) __attribute__((weak));
extern int urcu_memb_read_ongoing(void) __attribute__((weak));
/* The calling thread's struct urcu_reader, read as bytes.  General-dynamic:
 * the library is initial-exec elsewhere, which a symbol that may be
 * undefined cannot use; it is touched only when the functions above are
 * bound, and then it is defined by the same library. */
extern __thread unsigned char urcu_memb_reader[] __attribute__((weak, tls_model("global-dynamic")));

#if defined(__x86_64__)
/* struct urcu_reader: ctr (8 bytes), need_mb, then node aligned to
 * CAA_CACHE_LINE_SIZE (128) and 16 bytes long, tid (8), then the bit field
 * `registered` in bit 0 of the next byte. */
#define KURCU_REGISTERED_BYTE 152
#endif

static _Thread_local bool in_urcu;           /* this thread is inside liburcu */
static struct krcu_head *_Atomic later;      /* calls deferred from inside liburcu */

bool krcu_bound(void)
{
	return ktune.rcu && urcu_memb_call_rcu && urcu_memb_barrier && urcu_memb_register_thread &&
	       urcu_memb_unregister_thread && urcu_memb_read_ongoing;
}

bool krcu_read_ongoing(void)
{
	return krcu_bound() && urcu_memb_read_ongoing();
}

bool krcu_thread_registered(void)
{
	if (!krcu_bound())
		return false;
	if (urcu_memb_read_ongoing())
		return true;   /* only a registered thread may read */
#ifdef KURCU_REGISTERED_BYTE
	return urcu_memb_reader[KURCU_REGISTERED_BYTE] & 1;
#else
	return true;   /* the layout is not known here: see the top */
#endif
}

/* Hands the calls that waited in `later` to liburcu.  In liburcu's scope
 * (in_urcu set, the thread registered). */
static void flush_later(void)
{
	struct krcu_head *h;
	while ((h = atomic_exchange_explicit(&later, NULL, memory_order_acquire))) {
		while (h) {
			struct krcu_head *next = h->next;
			urcu_memb_call_rcu(h, h->func);
			h = next;
		}
	}
}

/* Enters liburcu's scope: the thread marked as inside liburcu, and
 * registered with it.  Returns whether it registered the thread (the
 * matching leave unregisters it). */
static bool enter(void)
{
	in_urcu = true;
	if (krcu_thread_registered())
		return false;
	urcu_memb_register_thread();
	return true;
}

static void leave(bool registered_here)
{
	flush_later();
	if (registered_here)
		urcu_memb_unregister_thread();
	in_urcu = false;
}

void krcu_call(struct krcu_head *head, void (*fn)(struct krcu_head *head))
{
	if (!krcu_bound()) {
		fn(head);
		return;
	}
	head->func = fn;
	if (in_urcu) {
		struct krcu_head *old = atomic_load_explicit(&later, memory_order_relaxed);
		do
			head->next = old;
		while (!atomic_compare_exchange_weak_explicit(&later, &old, head, memory_order_release,
		                                              memory_order_relaxed));
		return;
	}
	bool reg = enter();
	urcu_memb_call_rcu(head, fn);
	leave(reg);
}

void krcu_barrier(void)
{
	if (!krcu_bound())
		return;
	bool reg = enter();
	flush_later();
	/* Unregistered again before the wait: rcu_barrier needs no
	 * registration, and a registered thread would hold up nothing here
	 * (it is outside any read-side critical section) but need not stay. */
	leave(reg);
	in_urcu = true;
	urcu_memb_barrier();
	in_urcu = false;
	/* What liburcu's allocations deferred meanwhile goes now. */
	if (atomic_load_explicit(&later, memory_order_relaxed)) {
		reg = enter();
		leave(reg);
	}
}

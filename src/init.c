/* SPDX-License-Identifier: MIT */
/*
 * init.c - the life of the allocator as a whole: lazy initialisation, the
 * reclaim hook, fork handlers and the report at exit.
 *
 * Initialisation is lazy, on the first slow path of an exported entry point
 * (malloc runs before constructors), under init_lock, bottom layer first;
 * it makes no stdio call, no dlsym and starts no thread.  A call that comes
 * back into kalloc from the initialising thread (in_init) returns at once
 * and finds the layers as far as they are set up.
 *
 * Fork: pthread_atfork handlers take every lock of kalloc before fork (in
 * the order of base.h) and release them in the parent; the child, which
 * has one thread, reinitialises them.  Three rules make fork safe from any
 * context:
 *  - glibc's fork takes the stdio list lock after the prepare handlers, and
 *    getline holds a FILE's lock while it allocates, and fflush(NULL) holds
 *    the list lock while it waits for each FILE: so the prepare handler
 *    takes the list lock first (it is recursive for its owner; fork takes
 *    it again, releases it in the parent and resets it in the child);
 *  - a process that has only ever had one thread takes no lock at all, as
 *    glibc's malloc does (__libc_single_threaded): nobody else can hold one,
 *    and a fork from a signal handler that interrupted kalloc in this thread
 *    would otherwise wait for ever on a lock its own thread holds (the child
 *    of such a fork may only call async-signal-safe functions, as POSIX
 *    says);
 *  - the handlers are registered before the layers are set up, so a fork in
 *    another thread during the initialisation waits for it (the prepare
 *    handler takes init_lock first) instead of leaving init_lock held in the
 *    child.
 *
 * Reclaim: the initialisation registers reclaim.c's hooks: os.c's, run
 * when the OS refuses a mapping, and the page layer's, run when memory is
 * short under the limit (reclaim.c).
 */
#include "init.h"

#include <errno.h>

_Atomic int kalloc_init_state;
static klock_t init_lock = KLOCK_INIT;
static __thread bool in_init;

/* glibc's stdio list lock, and whether the process ever had a second
 * thread; weak, so a C library without them leaves them NULL. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern char __libc_single_threaded __attribute__((weak));

/* Whether this fork's prepare handler took the locks (the parent and child
 * handlers run in the same thread). */
static __thread bool fork_locked;

static void fork_prepare(void)
{
	fork_locked = !(&__libc_single_threaded && __libc_single_threaded);
	if (!fork_locked)
		return;
	kreclaim_fork_prepare();
	if (_IO_list_lock)
		_IO_list_lock();
	klock(&init_lock);
	kfront_fork_prepare();
	kpcpu_fork_prepare();
	kslab_fork_prepare();
	kpage_fork_prepare();
	kvm_fork_prepare();
	kprof_fork_prepare();
}

static void fork_parent(void)
{
	if (!fork_locked)
		return;
	kprof_fork_parent();
	kvm_fork_parent();
	kpage_fork_parent();
	kslab_fork_parent();
	kpcpu_fork_parent();
	kfront_fork_parent();
	kunlock(&init_lock);
	if (_IO_list_unlock)
		_IO_list_unlock();
	kreclaim_fork_parent();
}

/* The front caches last: the child flushes the stacks of the threads that
 * did not survive the fork into the slab and page layers.  glibc has reset
 * the stdio list lock already. */
static void fork_child(void)
{
	if (!fork_locked)
		return;
	klock_reinit(&init_lock);
	kreclaim_fork_child();
	kprof_fork_child();
	kvm_fork_child();
	kpage_fork_child();
	kslab_fork_child();
	kpcpu_fork_child();
	kfront_fork_child();
}

void kalloc_init_slow(void)
{
	if (atomic_load_explicit(&kalloc_init_state, memory_order_acquire) == 2 || in_init)
		return;
	klock(&init_lock);
	if (atomic_load(&kalloc_init_state) == 0) {
		int saved = errno;
		in_init = true;
		atomic_store(&kalloc_init_state, 1);
		/* glibc keeps the first 48 fork handlers in static storage; if it
		 * needs memory for ours, our malloc fails now (in_init) and the
		 * handlers are registered at the end instead. */
		bool atfork = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
		ktune_load();
		kpage_init();
		kslab_init();
		kvm_init();
		kmalloc_init();
		kfront_init(kmalloc_caches, KMALLOC_NR_ALL);
		kreclaim_init();
		kprof_init();
		atomic_store_explicit(&kalloc_init_state, 2, memory_order_release);
		if (!atfork)
			pthread_atfork(fork_prepare, fork_parent, fork_child);
		in_init = false;
		errno = saved;
	}
	kunlock(&init_lock);
}

bool kalloc_trim(void)
{
	return kreclaim_own(true) != 0;
}

/* At exit: KALLOC_STATS's report, KALLOC_PROF's profile, KALLOC_SHM's
 * segment removed (prof.c). */
__attribute__((destructor)) static void stats_at_exit(void)
{
	if (atomic_load(&kalloc_init_state) != 2)
		return;
	kprof_exit();
}

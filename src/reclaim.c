/* SPDX-License-Identifier: MIT */
/*
 * reclaim.c - memory pressure, as the kernel handles it: when an allocation
 * finds memory short (above KALLOC_LIMIT, or the OS refuses a mapping) and
 * its GFP flags allow reclaim, kalloc first gives back what it holds itself
 * (front caches, empty slabs, cached huge areas, free pages, free chunks),
 * then asks the registered shrinkers to free objects, then gives back again
 * what their frees emptied; page_alloc.c's kmem_retry decides from the GFP
 * flags how often this runs before the allocation fails.
 *
 * Shrinkers run one at a time, under shrink_lock, which is taken before any
 * lock of kalloc (base.h) and with none held: a shrinker may allocate and
 * free.  The thread running them is marked as reclaiming (kmem_in_reclaim,
 * the kernel's PF_MEMALLOC), so its allocations do not reclaim again (no
 * recursion, no deadlock on shrink_lock) and may use the zones' reserves.
 * Each shrinker is told the allocation's flags in shrink_control.gfp_mask
 * and may decline with SHRINK_STOP (a file-system cache under GFP_NOFS).
 * One that returns nonsense (a count beyond any memory, more freed than it
 * was asked to scan) or frees nothing in KSHRINK_FRUITLESS_MAX consecutive
 * passes is reported once and not asked again, so a broken shrinker makes
 * allocations fail instead of loop.
 */
#include "reclaim.h"

#include <errno.h>
#include <string.h>

static klock_t shrink_lock = KLOCK_INIT;
static struct shrinker *shrinkers;   /* under shrink_lock */
static unsigned nr_shrinkers, nr_dropped;

/* A count of objects no process could hold (2^48 objects). */
#define SHRINK_COUNT_SANE (1UL << 48)

size_t kreclaim_own(bool release)
{
	kfront_flush_all();
	size_t bytes = kmalloc_flush_blocks();   /* (and kslab_shrink_all the caches' quarantines) */
	bytes += kslab_shrink_all();
	if (release)
		bytes += kpage_release_all();
	bytes += kpage_reclaim_chunks();
	bytes += kvm_purge();
	return bytes;
}

/* The OS refused a mapping (os.c retries it when this gave something
 * back).  Free pages are not released: that frees no address space. */
static size_t os_reclaim(void)
{
	return kreclaim_own(false);
}

/* One pass of shrinker s; the objects it freed.  Under shrink_lock. */
static unsigned long shrink_one(struct shrinker *s, gfp_t gfp)
{
	struct shrink_control sc = { .gfp_mask = gfp, .nid = 0 };
	unsigned long count = s->count_objects(s, &sc);
	if (count == 0 || count == SHRINK_EMPTY)
		return 0;
	bool nonsense = count >= SHRINK_COUNT_SANE;
	unsigned long batch = s->batch > 0 ? (unsigned long)s->batch : KSHRINK_BATCH;
	/* An object dear to rebuild (seeks above the default) is scanned
	 * less. */
	unsigned long todo = s->seeks > DEFAULT_SEEKS ? count / (unsigned long)s->seeks * DEFAULT_SEEKS : count;
	todo = KMAX(todo, 1UL);
	unsigned long freed = 0;
	bool declined = false;
	for (unsigned calls = 0; !nonsense && todo && calls < KSHRINK_MAX_CALLS; calls++) {
		sc.nr_to_scan = KMIN(batch, todo);
		sc.nr_scanned = sc.nr_to_scan;
		unsigned long got = s->scan_objects(s, &sc);
		if (got == SHRINK_STOP) {
			declined = calls == 0;
			break;
		}
		if (got > sc.nr_to_scan) {
			nonsense = true;
			break;
		}
		freed += got;
		unsigned long scanned = sc.nr_scanned && sc.nr_scanned <= sc.nr_to_scan ? sc.nr_scanned : sc.nr_to_scan;
		todo -= KMIN(todo, scanned);
	}
	if (freed && !nonsense) {
		s->kalloc_fruitless = 0;
	} else if (!declined && ++s->kalloc_fruitless >= KSHRINK_FRUITLESS_MAX) {
		s->kalloc_dropped = 1;
		nr_dropped++;
		kreport("shrinker %s: %s in %u passes; it is not asked again", s->kalloc_name,
		        nonsense ? "returned counts that make no sense" : "freed nothing", (unsigned)KSHRINK_FRUITLESS_MAX);
	}
	return nonsense ? 0 : freed;
}

static unsigned long run_shrinkers(gfp_t gfp)
{
	unsigned long freed = 0;
	klock(&shrink_lock);
	for (struct shrinker *s = shrinkers; s; s = s->kalloc_next)
		if (!s->kalloc_dropped)
			freed += shrink_one(s, gfp);
	kunlock(&shrink_lock);
	return freed;
}

/* The page layer's pressure hook (kmem_retry runs it, with this thread
 * marked as reclaiming). */
static size_t pressure(gfp_t gfp, size_t pages, bool light)
{
	size_t before = kmem_charged();
	size_t freed = kreclaim_own(true) >> PAGE_SHIFT;
	size_t now = kmem_charged();
	size_t limit = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed);
	size_t cap = limit - ((gfp & (__GFP_HIGH | __GFP_NOFAIL)) ? 0 : kmem_limit_reserve(limit));
	bool enough = limit && now <= cap && pages <= cap - now;
	if (!light && !enough) {
		unsigned long objects = run_shrinkers(gfp);
		if (objects)
			freed += (kreclaim_own(true) >> PAGE_SHIFT) + 1;
		now = kmem_charged();
	}
	/* Other threads may take at once what was freed: progress is what
	 * this pass gave back, not only how far the charge went down. */
	return KMAX(before > now ? before - now : 0, freed);
}

void kreclaim_init(void)
{
	kos_set_reclaim(os_reclaim);
	kmem_set_pressure(pressure);
	if (ktune.limit)
		kmem_set_limit(ktune.limit);
}

int kreclaim_register(struct shrinker *s, const char *name)
{
	if (!s || !s->count_objects || !s->scan_objects)
		return -EINVAL;
	size_t n = name ? strlen(name) : 0;
	if (n >= sizeof s->kalloc_name)
		n = sizeof s->kalloc_name - 1;
	if (n)
		memcpy(s->kalloc_name, name, n);
	else
		memcpy(s->kalloc_name, "(unnamed)", n = 9);
	s->kalloc_name[n] = '\0';
	s->kalloc_fruitless = 0;
	s->kalloc_dropped = 0;
	klock(&shrink_lock);
	for (struct shrinker *t = shrinkers; t; t = t->kalloc_next)
		if (t == s) {
			kunlock(&shrink_lock);
			return -EEXIST;
		}
	s->kalloc_next = shrinkers;
	shrinkers = s;
	nr_shrinkers++;
	kunlock(&shrink_lock);
	return 0;
}

void kreclaim_unregister(struct shrinker *s)
{
	/* Taking shrink_lock waits for a pass in progress, as the kernel's
	 * unregister_shrinker waits for running shrinkers. */
	klock(&shrink_lock);
	for (struct shrinker **pp = &shrinkers; *pp; pp = &(*pp)->kalloc_next)
		if (*pp == s) {
			*pp = s->kalloc_next;
			nr_shrinkers--;
			nr_dropped -= s->kalloc_dropped ? 1 : 0;
			break;
		}
	kunlock(&shrink_lock);
}

void kreclaim_set_limit(size_t bytes)
{
	kmem_set_limit(bytes);
	size_t limit = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed);
	if (limit && kmem_charged() > limit)
		kreclaim_own(true);
}

void kreclaim_fork_prepare(void) { klock(&shrink_lock); }
void kreclaim_fork_parent(void) { kunlock(&shrink_lock); }
void kreclaim_fork_child(void) { klock_reinit(&shrink_lock); }

/* SPDX-License-Identifier: MIT */
/*
 * slab.c - SLUB-style object caches.
 *
 * A cache (struct kmem_cache) hands out objects of one size.  Its memory comes
 * in slabs: buddy blocks of 2^order pages, chosen per cache so that a slab
 * holds at least KSLAB_MIN_OBJECTS objects and wastes at most 1/8 of itself.
 * A slab's state lives in its head page descriptor (struct page):
 *
 *   freelist   free objects, linked through a hardened pointer stored in each
 *              free object at cache->fp_offset; only touched under c->lock
 *   remote     a lock-free LIFO of objects freed since the last adoption:
 *              bits 0..47 the first object, bit 0 the FULL mark, bits 48..63
 *              the number of objects on the list
 *   inuse      objects handed out and not yet adopted back; written under
 *              c->lock only, read without it as a hint
 *   KPF_LISTED the slab is on the cache's partial list (under c->lock)
 *
 * Allocation (kslab_alloc_bulk, used by the front caches to refill in
 * batches) takes c->lock, pops objects off the first partial slab's freelist,
 * adopts its remote list when the freelist runs dry (one atomic exchange), and
 * when both are empty detaches the slab from the partial list after marking
 * remote FULL with a compare-and-swap from 0.
 *
 * Freeing never waits for the lock: objects are pushed on the slab's remote
 * list with a compare-and-swap, a run of objects of one slab as one chain.
 *   - The free whose push removed the FULL mark hands the slab to the
 *     allocation side on the cache's lock-free relist stack (a Treiber
 *     stack emptied with one exchange under the lock, so no ABA); relisted
 *     slabs go to the tail of the partial list.
 *   - That free, and a free that sees after its push the remote count equal
 *     to inuse (every object free), trylock the cache: if they get it, they
 *     move the relisted slabs onto the partial list and, if the slab is
 *     empty and the cache keeps KSLAB_MIN_PARTIAL other partial slabs,
 *     return it to the buddy allocator ("settling").  Only listed slabs are
 *     returned, never one on the relist stack.  Allocation, kmem_cache_shrink
 *     and malloc_trim catch what a failed trylock left.  kslab_put_bulk
 *     frees without settling, so it never calls the page layer (which may
 *     release memory to the OS): the front caches' drain uses it under
 *     drain_lock, and shrinks afterwards.
 * A detached (full) slab is reachable only by its objects, so its inuse is
 * stable until it is relisted.
 *
 * New slabs build no free list: never-used objects are carved on demand in a
 * random order (a permutation (a * i + b) mod n; see carve), so a slab's
 * pages are touched only as its objects are handed out.
 *
 * Hardening: free pointers are stored as next ^ secret ^ bswap(&slot); new
 * objects come out in random order; freeing the object at the head of the
 * remote list (the most recent free) is reported as a double free at once;
 * every free checks that the pointer is an object boundary of a slab of that
 * cache (a multiply, a rotate and a compare: kslab_obj_valid).  With
 * KALLOC_HARDEN >= 1 (the default), a decoded free pointer must name an
 * object of its own slab before it is followed (check_fp: an xor, a mask
 * and kslab_obj_valid), else "corrupted free list" is reported; and the
 * kmalloc classes' free objects carry a free tag (slab.h) that lets the
 * layers above catch any double free, which kslab_free_where confirms.
 * KALLOC_HARDEN=full makes every cache a debug cache (SLAB_HARDEN: see
 * "debugging" near the end) and puts a guard page after some slabs.
 *
 * Caches: kmalloc's classes and vmalloc's area cache are static structs set
 * up with kcache_init; kmem_cache_create's come from the kmem_cache cache
 * (kmem_cache_boot), as in the kernel.  All are on one list, under
 * kcache_list_lock.
 *
 * SLAB_TYPESAFE_BY_RCU: objects are reused at once, as any cache's, but an
 * empty slab goes back to the buddy allocator only after an RCU grace
 * period (discard_slab hands it to rcu.c), so a lock-free reader that still
 * holds a freed object reads an object of the same cache; the free pointer
 * is stored after the object, so a free object keeps its contents.
 * kslab_destroy waits for the deferred slabs before the cache goes.
 *
 * Locks (the order is in base.h): kcache_list_lock -> c->lock -> zone lock.
 * Pages are freed to the buddy allocator after c->lock is dropped, and
 * after kcache_list_lock is dropped where a walk of the list freed them;
 * that is also where a SLAB_TYPESAFE_BY_RCU slab is deferred (liburcu
 * allocates, so it is never called with a lock of kalloc held).
 */
#include "slab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static klock_t kcache_list_lock = KLOCK_INIT;
static struct kmem_cache *kcache_list;

#define REMOTE_FULL   1ull
#define REMOTE_PTR    ((1ull << 48) - 1 - REMOTE_FULL)
#define REMOTE_ONE    (1ull << 48)

/* debugging (the section near the end) */
struct kdbg_quarantine;
static void dbg_init_slab(struct kmem_cache *c, struct page *s);
static void dbg_alloc(struct kmem_cache *c, void *obj);
static void dbg_check_fp(const struct kmem_cache *c, struct page *s, const void *obj, const void *next);
static void dbg_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs, bool settle);
static void dbg_flush(struct kmem_cache *c, bool settle);
static void dbg_check_slab_free(struct kmem_cache *c, struct page *s);
static size_t dbg_layout(struct kmem_cache *c, size_t size, slab_flags_t flags);
static struct kdbg_quarantine *dbg_quarantine(slab_flags_t flags, uint64_t seed);
static uint64_t kdbg_start_ns;

/* ------------------------------------------------------------------ */
/* free pointers                                                       */
/* ------------------------------------------------------------------ */

static inline void *fp_get(const struct kmem_cache *c, const void *obj)
{
	uintptr_t slot = (uintptr_t)obj + c->fp_offset;
	uintptr_t v = *(const uintptr_t *)slot;
	return (void *)(v ^ c->secret ^ __builtin_bswap64(slot));
}

static inline void fp_set(const struct kmem_cache *c, void *obj, const void *next)
{
	uintptr_t slot = (uintptr_t)obj + c->fp_offset;
	*(uintptr_t *)slot = (uintptr_t)next ^ c->secret ^ __builtin_bswap64(slot);
}

/* The free pointer of obj (slab s) decoded to next, which is not NULL:
 * followed only if it names an object of s (slabs are aligned to their
 * size, so "of s" is a mask; then the object-boundary test). */
static KNORETURN KNOINLINE void bad_fp(const struct kmem_cache *c, const struct page *s, const void *obj,
                                       const void *next)
{
	uintptr_t base = (uintptr_t)kpage_address(s);
	kpanic("corrupted free list: cache %s, slab %p, free object %p (slot %lu) holds a free pointer to %p, "
	       "%s (written after it was freed?)", c->name, (void *)base, obj,
	       (unsigned long)(((uintptr_t)obj - base) / c->size), next,
	       (((uintptr_t)next ^ base) & ~c->slab_mask) ? "outside its slab" : "not an object of its slab");
}

static inline bool fp_ok(const struct kmem_cache *c, const void *obj, const void *next)
{
	return !(((uintptr_t)next ^ (uintptr_t)obj) & ~c->slab_mask) && kslab_obj_valid(c, next);
}

static inline void check_fp(const struct kmem_cache *c, const struct page *s, const void *obj, const void *next)
{
	if (unlikely(!fp_ok(c, obj, next)))
		bad_fp(c, s, obj, next);
}

/* ------------------------------------------------------------------ */
/* partial list (circular, under c->lock)                              */
/* ------------------------------------------------------------------ */

/* Adds s to the partial list: at the head (allocation takes it next) or at
 * the tail (slabs coming back with a few free objects wait there, so that
 * allocation keeps draining the fuller-free slabs first). */
static void partial_add(struct kmem_cache *c, struct page *s, bool tail)
{
	if (c->partial) {
		struct page *h = c->partial;
		s->next = h;
		s->prev = h->prev;
		h->prev->next = s;
		h->prev = s;
		if (!tail)
			c->partial = s;
	} else {
		s->next = s->prev = s;
		c->partial = s;
	}
	c->nr_partial++;
	s->flags |= KPF_LISTED;
}

/* Moves the slabs that frees took off "full" onto the partial list.  Under
 * c->lock. */
static void take_relisted(struct kmem_cache *c)
{
	struct page *s = atomic_exchange_explicit(&c->relist, NULL, memory_order_acquire);
	while (s) {
		struct page *next = s->next;
		partial_add(c, s, true);
		s = next;
	}
}

static void partial_del(struct kmem_cache *c, struct page *s)
{
	if (s->next == s) {
		c->partial = NULL;
	} else {
		s->prev->next = s->next;
		s->next->prev = s->prev;
		if (c->partial == s)
			c->partial = s->next;
	}
	s->next = s->prev = NULL;
	c->nr_partial--;
	s->flags &= (uint8_t)~KPF_LISTED;
}

/* ------------------------------------------------------------------ */
/* slabs                                                               */
/* ------------------------------------------------------------------ */

static inline void *slab_obj(const struct kmem_cache *c, const struct page *s, unsigned i)
{
	return (char *)kpage_address(s) + (size_t)i * c->size;
}

/*
 * Guard slabs (KALLOC_HARDEN=full): a slab drawn for one (one in
 * KHARDEN_GUARD_ONE_IN) is an exact block of its pages and one more, made
 * inaccessible (its info word says KPG_TAIL: a pointer into it is no
 * object).  KPF_SLAB_GUARD on the head says so; free_slab_pages makes the
 * page accessible again before the block goes back.
 */
#define KPF_SLAB_GUARD 0x10   /* (slab head) followed by a guard page; beside page_alloc.h's KPF_* */
static _Atomic uint64_t guard_draws;

static bool guard_wanted(const struct kmem_cache *c)
{
	if (!(c->flags & SLAB_HARDEN) || c->order > KHARDEN_GUARD_MAX_ORDER)
		return false;
	uint64_t x = atomic_fetch_add_explicit(&guard_draws, 0x9e3779b97f4a7c15ull, memory_order_relaxed) ^ c->secret;
	x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
	return (x >> 40) % KHARDEN_GUARD_ONE_IN == 0;
}

static struct page *guarded_slab(struct kmem_cache *c, gfp_t gfp)
{
	size_t npages = 1UL << c->order;
	struct page *s = kpage_alloc_exact(gfp, npages + 1, c->order);
	if (!s)
		return NULL;
	if (kos_protect_none((char *)kpage_address(s) + (npages << PAGE_SHIFT), PAGE_SIZE) != 0) {
		kpage_free(s);
		return NULL;
	}
	kpage_set_info(s + npages, KPG_TAIL);
	s->order = c->order;
	return s;
}

/* Builds a new slab (no lock held).  Returns its head page or NULL. */
static struct page *new_slab(struct kmem_cache *c, gfp_t gfp)
{
	gfp = (gfp & ~(__GFP_ZERO | KGFP_ZONEMASK)) | c->allocflags;
	struct page *s = unlikely(guard_wanted(c)) ? guarded_slab(c, gfp) : NULL;
	uint8_t flags = s ? KPF_SLAB_GUARD : 0;
	if (!s)
		s = kpage_alloc(gfp, c->order);
	if (!s)
		return NULL;
	uint32_t info = c->page_info;
	size_t npages = 1UL << c->order;
	s->head = s;
	kpage_set_tails(s, npages, info);
	s->slab_cache = c;
	s->flags = flags;
	atomic_store_explicit(&s->inuse, 0, memory_order_relaxed);
	atomic_store_explicit(&s->remote, 0, memory_order_relaxed);

	unsigned n = c->objects;
	if (c->ctor)
		for (unsigned i = 0; i < n; i++)
			c->ctor(slab_obj(c, s, i));
	if (kslab_debug(c))
		dbg_init_slab(c, s);   /* touches the whole slab */
	/* No free list is built: objects are carved from the never-used part
	 * on demand (carve), so a new slab's pages are touched only as its
	 * objects are handed out. */
	s->freelist = NULL;
	s->carved = 0;
	/* The info word (a release store) publishes the slab state to the
	 * frees that find it. */
	kpage_set_info(s, info);
	return s;
}

/* Hands out up to n never-used objects of s, in a random order that keeps
 * neighbours together: the slab's objects form groups of KSLAB_CARVE_GROUP
 * (a power of two), carved one group after another in a random order
 * (group (a * g + b) mod groups for the g-th, a coprime to the number of
 * groups), each group's objects in address order, and the objects past the
 * last whole group last.  Objects allocated one after another are then
 * neighbours, as in a sequential carve, while where the next group starts
 * is not known.  (On bench/'s tree, medians of 11 interleaved runs: a
 * fully random order 4-8% slower than a sequential carve, and random
 * groups of 4 whose objects come in a random order too, the same; random
 * groups of 4, 8 or 16 in address order, level with it.)  Caches of the
 * hardened profile (SLAB_HARDEN), and slabs of fewer than two groups, are
 * carved one object at a time in the order (a * i + b) mod objects.  a and
 * b are drawn from the cache secret and the slab address, so the order is
 * a permutation that needs no memory.  Under c->lock. */
struct carve_perm {
	unsigned a, b, groups;
};

static void carve_order(const struct kmem_cache *c, const struct page *s, struct carve_perm *p)
{
	static const unsigned primes[] = { 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59 };
	unsigned objs = c->objects;
	uint64_t h = (c->secret ^ (uint64_t)(uintptr_t)s) * 0x9e3779b97f4a7c15ull;
	bool grouped = objs >= 2 * KSLAB_CARVE_GROUP && !(c->flags & SLAB_HARDEN);
	p->groups = grouped ? objs / KSLAB_CARVE_GROUP : 0;
	unsigned n = grouped ? p->groups : objs;
	p->a = 1;
	for (unsigned k = 0; k < 16; k++) {
		unsigned q = primes[(h >> (4 * k)) & 15];
		if (n % q) {
			p->a = q;
			break;
		}
	}
	p->b = (unsigned)((h >> 32) % n);
}

/* The slot of the i-th object carved from a slab of `objs`. */
static inline unsigned carve_slot(const struct carve_perm *p, unsigned objs, unsigned i)
{
	if (!p->groups)
		return (unsigned)(((uint64_t)p->a * i + p->b) % objs);
	unsigned g = i / KSLAB_CARVE_GROUP;
	if (g >= p->groups)
		return i;
	return (unsigned)(((uint64_t)p->a * g + p->b) % p->groups) * KSLAB_CARVE_GROUP + i % KSLAB_CARVE_GROUP;
}

static unsigned carve(struct kmem_cache *c, struct page *s, unsigned n, void **out)
{
	unsigned objs = c->objects, got = 0;
	struct carve_perm p;
	carve_order(c, s, &p);
	while (got < n && s->carved < objs) {
		out[got++] = slab_obj(c, s, carve_slot(&p, objs, s->carved));
		s->carved++;
	}
	return got;
}

/* Adopts the remote list of s into its (empty) freelist. Under c->lock. */
static void adopt_remote(struct kmem_cache *c, struct page *s)
{
	(void)c;
	uint64_t w = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
	void *list = (void *)(uintptr_t)(w & REMOTE_PTR);
	uint32_t cnt = (uint32_t)(w >> 48);
	if (!list)
		return;
	s->freelist = list;
	atomic_store_explicit(&s->inuse, atomic_load_explicit(&s->inuse, memory_order_relaxed) - cnt,
	                      memory_order_relaxed);
}

/* Under c->lock: is listed slab s empty, and may it go?  Returns s (unlinked)
 * when the caller should free its pages after unlocking. */
static struct page *empty_check_locked(struct kmem_cache *c, struct page *s)
{
	/* A late freer may hold a slab that was emptied, returned and reused
	 * since (by another cache, even): only a slab on c's own list counts. */
	if (s->slab_cache != c || !(s->flags & KPF_LISTED))
		return NULL;
	uint64_t w = atomic_load_explicit(&s->remote, memory_order_acquire);
	if ((w >> 48) != atomic_load_explicit(&s->inuse, memory_order_relaxed))
		return NULL;
	if (c->nr_partial <= KSLAB_MIN_PARTIAL)
		return NULL;
	partial_del(c, s);
	c->nr_slabs--;
	return s;
}

/* Returns the pages of an unlisted empty slab to the page layer. */
static void free_slab_pages(struct page *s)
{
	s->slab_cache = NULL;
	s->npages = 1U << s->order;
	if (s->flags & KPF_SLAB_GUARD) {
		/* An inaccessible page cannot go back: kept if it stays so. */
		if (kos_protect_rw((char *)kpage_address(s) + ((size_t)s->npages << PAGE_SHIFT), PAGE_SIZE) != 0)
			return;
		s->npages++;
		s->flags = 0;
	}
	/* The other pages stop saying "slab" too: a stale pointer into them
	 * (a double free after the slab went back) is then reported as
	 * freed memory, not taken for an object by free's fast path. */
	kpage_set_tails(s, s->npages, KPG_NONE);
	kpage_set_info(s, KPG_LARGE);   /* kpage_free expects an allocated block head */
	kpage_free(s);
}

/* A SLAB_TYPESAFE_BY_RCU slab's grace period is over (see discard_slab):
 * no reader that could have found one of its objects is still reading. */
static void slab_rcu_free(struct krcu_head *h)
{
	struct page *s = (struct page *)((char *)h - offsetof(struct page, rcu));
	struct kmem_cache *c = s->rcu_cache;
	free_slab_pages(s);
	/* The cache may be destroyed from here on. */
	atomic_fetch_sub_explicit(&c->rcu_pending, 1, memory_order_release);
}

/* Returns an unlisted empty slab to the page layer.  No lock held.
 *
 * A slab of a SLAB_TYPESAFE_BY_RCU cache goes only after an RCU grace
 * period (krcu_call): a reader that found one of its objects before it was
 * freed may still read it, and must find memory of the same type (an
 * object of this cache, free or reused) until it leaves its read-side
 * critical section.  Meanwhile the slab is off every list, keeps its pages
 * and their slab kind, and has no cache (slab_cache NULL, so a free of one
 * of its objects is reported as an invalid pointer); rcu_cache names the
 * cache for the count the deferred call drops. */
static void discard_slab(struct page *s)
{
	if (kpage_kind(s) == KPG_CACHED) {
		/* a page cache's block (see "page caches" below) */
		kpage_set_info(s, KPG_LARGE);
		kpage_free(s);
		return;
	}
	struct kmem_cache *c = s->slab_cache;
	if (kslab_debug(c))
		dbg_check_slab_free(c, s);
	if (c->flags & SLAB_TYPESAFE_BY_RCU) {
		s->slab_cache = NULL;
		s->rcu_cache = c;
		atomic_fetch_add_explicit(&c->rcu_pending, 1, memory_order_relaxed);
		krcu_call(&s->rcu, slab_rcu_free);
		return;
	}
	free_slab_pages(s);
}

static unsigned pages_alloc_bulk(struct kmem_cache *c, gfp_t gfp, unsigned n, void **out);
static void pages_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs, bool now);

unsigned kslab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, unsigned n, void **out)
{
	if (c->pages)
		return pages_alloc_bulk(c, gfp, n, out);
	unsigned got = 0;
	if (gfp & __GFP_DIRECT_RECLAIM)
		klock(&c->lock);
	else if (!ktrylock(&c->lock))
		return 0;
	if (atomic_load_explicit(&c->relist, memory_order_relaxed))
		take_relisted(c);
	while (got < n) {
		struct page *s = c->partial;
		if (!s) {
			kunlock(&c->lock);
			s = new_slab(c, gfp);
			if (gfp & __GFP_DIRECT_RECLAIM)
				klock(&c->lock);
			else
				/* No sleeping: the lock was free a moment ago, so
				 * another thread (never one this thread
				 * interrupted) holds it, for a short section
				 * without system calls. */
				while (!ktrylock(&c->lock))
					kcpu_relax();
			if (!s)
				break;
			c->nr_slabs++;
			partial_add(c, s, false);
			continue;
		}
		if (!s->freelist)
			adopt_remote(c, s);
		void *obj = s->freelist;
		unsigned took = 0;
		while (got < n && obj) {
			out[got++] = obj;
			void *next = fp_get(c, obj);
			if (unlikely(c->flags & (SLAB_CONSISTENCY_CHECKS | SLAB_HARDEN)) && next)
				dbg_check_fp(c, s, obj, next);
			else if (next && likely(kslab_harden))
				check_fp(c, s, obj, next);
			obj = next;
			took++;
		}
		s->freelist = obj;
		if (!obj && got < n) {
			unsigned k = carve(c, s, n - got, out + got);
			got += k;
			took += k;
		}
		atomic_store_explicit(&s->inuse, atomic_load_explicit(&s->inuse, memory_order_relaxed) + took,
		                      memory_order_relaxed);
		if (!obj && s->carved == c->objects) {
			adopt_remote(c, s);
			if (!s->freelist) {
				/* Unlink first, then mark FULL: a free that sees
				 * FULL uses s->next for the relist stack, so the
				 * slab must be off the partial list by then. */
				partial_del(c, s);
				uint64_t zero = 0;
				if (!atomic_compare_exchange_strong_explicit(&s->remote, &zero, REMOTE_FULL,
				                                             memory_order_acq_rel,
				                                             memory_order_acquire))
					partial_add(c, s, false);   /* a free raced in: adopt it next round */
			}
		}
	}
	kunlock(&c->lock);
	if (got)
		atomic_fetch_add_explicit(&c->nr_alloc_total, got, memory_order_relaxed);
	if (kslab_debug(c))
		for (unsigned i = 0; i < got; i++)
			dbg_alloc(c, out[i]);
	return got;
}

void kslab_check_object(struct kmem_cache *c, struct page *s, const void *p, const char *op)
{
	if (unlikely(s->slab_cache != c)) {
		if (s->slab_cache)
			kpanic("%s: object %p belongs to cache %s, not to cache %s", op, p, s->slab_cache->name,
			       c->name);
		/* no cache: an empty slab on its way back to the page layer
		 * (SLAB_TYPESAFE_BY_RCU: waiting for its grace period) */
		if (c->flags & SLAB_TYPESAFE_BY_RCU)
			kpanic("%s: invalid pointer %p (cache %s): in an empty slab waiting for an RCU grace "
			       "period, freed already", op, p, c->name);
		kpanic("%s: invalid pointer %p (cache %s): in a slab given back to the page layer: freed "
		       "already (double free?) or never allocated", op, p, c->name);
	}
	if (unlikely(!kslab_obj_valid(c, p)))
		kpanic("%s: invalid pointer %p (not the start of an object of cache %s, object size %u)", op, p,
		       c->name, c->object_size);
}

/* ------------------------------------------------------------------ */
/* free tags (slab.h)                                                  */
/* ------------------------------------------------------------------ */

uint64_t kslab_canary_key;
bool kslab_harden;

/* Whether obj is on the chain starting at `first` (a slab list, linked by
 * free pointers, each checked before it is followed). */
static bool chain_has(const struct kmem_cache *c, const struct page *s, void *first, const void *obj)
{
	unsigned left = c->objects;
	for (void *o = first; o && left; left--) {
		if (o == obj)
			return true;
		void *next = fp_get(c, o);
		if (next)
			check_fp(c, s, o, next);
		o = next;
	}
	return false;
}

const char *kslab_free_where(struct kmem_cache *c, const void *obj)
{
	struct page *s = kslab_of(obj);
	if (!s || s->slab_cache != c || c->pages)
		return NULL;
	const char *where = NULL;
	klock(&c->lock);
	/* A late free may find a slab emptied and reused since: under the
	 * lock, s is c's for as long as we look. */
	if (s->slab_cache == c) {
		uint64_t w = atomic_load_explicit(&s->remote, memory_order_acquire);
		if (chain_has(c, s, s->freelist, obj))
			where = "on its slab's free list";
		else if (chain_has(c, s, (void *)(uintptr_t)(w & REMOTE_PTR), obj))
			where = "on its slab's list of frees";
		else {
			unsigned idx = (unsigned)(((uintptr_t)obj & c->slab_mask) / c->size);
			struct carve_perm p;
			carve_order(c, s, &p);
			for (unsigned i = s->carved; i < c->objects && !where; i++)
				if (carve_slot(&p, c->objects, i) == idx)
					where = "never allocated";
		}
	}
	kunlock(&c->lock);
	return where;
}

bool kslab_fp_plausible(const struct kmem_cache *c, const void *obj)
{
	void *next = fp_get(c, obj);
	return !next || fp_ok(c, obj, next);
}

/* Frees the chain first..last (k objects, already linked through their
 * free pointers, last's pointer not yet set) to slab s with one
 * compare-and-swap on its remote list; settles (see the top) if `settle`. */
static void free_chain(struct kmem_cache *c, struct page *s, void *first, void *last, unsigned k, bool settle_ok)
{
	uint64_t w = atomic_load_explicit(&s->remote, memory_order_relaxed);
	uint64_t nw;
	do {
		void *head = (void *)(uintptr_t)(w & REMOTE_PTR);
		if (unlikely(head == first || head == last))
			kpanic("double free of object %p (cache %s)", head, c->name);
		fp_set(c, last, head);
		nw = (uint64_t)(uintptr_t)first | ((w & ~(REMOTE_PTR | REMOTE_FULL)) + (uint64_t)k * REMOTE_ONE);
	/* acq_rel: the free that takes the FULL mark off also acquires what the
	 * allocation side wrote before setting it (the slab's links, which the
	 * relist push below reuses). */
	} while (!atomic_compare_exchange_weak_explicit(&s->remote, &w, nw, memory_order_acq_rel,
	                                                memory_order_relaxed));
	bool settle = false;
	if (unlikely(w & REMOTE_FULL)) {
		/* We took the slab off "full": hand it to the allocation side
		 * through the lock-free relist stack.  A detached slab's `next`
		 * is free for this. */
		struct page *old = atomic_load_explicit(&c->relist, memory_order_relaxed);
		do
			s->next = old;
		while (!atomic_compare_exchange_weak_explicit(&c->relist, &old, s, memory_order_release,
		                                              memory_order_relaxed));
		settle = true;
	} else if (unlikely((nw >> 48) == atomic_load_explicit(&s->inuse, memory_order_relaxed))) {
		settle = true;   /* every object of s looks free */
	}
	if (unlikely(settle) && settle_ok && ktrylock(&c->lock)) {
		/* If the lock is free now: list what frees relisted and return
		 * s if it is empty; otherwise allocation or a shrink does it. */
		take_relisted(c);
		struct page *dead = empty_check_locked(c, s);
		kunlock(&c->lock);
		if (dead)
			discard_slab(dead);
	}
}

void kslab_free_one(struct kmem_cache *c, struct page *s, void *obj)
{
	if (kslab_debug(c)) {
		dbg_free_bulk(c, 1, &obj, true);
		return;
	}
	free_chain(c, s, obj, obj, 1, true);
	atomic_fetch_add_explicit(&c->nr_free_total, 1, memory_order_relaxed);
}

static void free_bulk(struct kmem_cache *c, unsigned n, void *const *objs, bool settle)
{
	if (c->pages) {
		pages_free_bulk(c, n, objs, settle);
		return;
	}
	if (kslab_debug(c)) {
		dbg_free_bulk(c, n, objs, settle);
		return;
	}
	/* Runs of objects of the same slab (common: a batch returned by a
	 * front cache came out of few slabs) go back as one chain. */
	unsigned i = 0;
	while (i < n) {
		void *first = objs[i];
		struct page *s = kslab_of(first);
		if (!s)
			kpanic("free: invalid pointer %p (cache %s)", first, c->name);
		kslab_check_object(c, s, first, "free");
		void *last = first;
		unsigned k = 1;
		while (i + k < n) {
			void *o = objs[i + k];
			struct page *s2 = kslab_of(o);
			if (s2 != s)
				break;
			kslab_check_object(c, s, o, "free");
			if (unlikely(o == last))
				kpanic("double free of object %p (cache %s)", o, c->name);
			fp_set(c, last, o);
			last = o;
			k++;
		}
		free_chain(c, s, first, last, k, settle);
		i += k;
	}
	atomic_fetch_add_explicit(&c->nr_free_total, n, memory_order_relaxed);
}

void kslab_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs)
{
	free_bulk(c, n, objs, true);
}

void kslab_put_bulk(struct kmem_cache *c, unsigned n, void *const *objs)
{
	free_bulk(c, n, objs, false);
}

/* ------------------------------------------------------------------ */
/* debugging                                                           */
/* ------------------------------------------------------------------ */

/*
 * A debug cache (any of SLAB_CONSISTENCY_CHECKS, SLAB_RED_ZONE,
 * SLAB_POISON, SLAB_STORE_USER, SLAB_TRACE: from kmem_cache_create's flags
 * or KALLOC_DEBUG, which the kernel's slub_debug letters F Z P U T name)
 * lays each object slot out as
 *
 *   [object | red zone | free pointer | struct kdbg_meta | red zone]
 *   0       object_size  fp_offset      dbg_meta           dbg_tail   size
 *
 * The first red zone (at least KDBG_RED_ZONE bytes past the object's end
 * rounded up to 8) is the object's "after" zone: SLUB_RED_ACTIVE while the
 * object is allocated, SLUB_RED_INACTIVE while free; for a kmalloc object
 * it starts at the size asked for (kslab_debug_set_size), as the kernel's
 * kmalloc red zone starts at orig_size.  The last one is the next object's
 * "before" zone, always SLUB_RED_INACTIVE (the first object of a slab has
 * none).  The free pointer lies outside the object, so a free object is
 * poisoned whole: POISON_FREE, its last byte POISON_END, as in the kernel;
 * an allocated object keeps that poison until the program writes it (a
 * never-used object holds POISON_INUSE).  kdbg_meta holds the object's
 * state (allocated or free: every double free is seen, not only of the
 * most recent object), the size asked for, and the last allocation and
 * free (SLAB_STORE_USER).
 *
 * The hooks are in this file only: new_slab initialises the slots,
 * kslab_alloc_bulk checks each object it hands out (state, poison, red
 * zones, the free pointer it followed), and the frees check the state and
 * red zones, poison the object and put it in the cache's quarantine, a
 * FIFO ring (KDBG_QUARANTINE_OBJECTS objects or KDBG_QUARANTINE_BYTES at
 * most) from which the oldest object goes back to its slab, its poison
 * checked once more.  The layers above keep debug caches out of the front
 * caches (kmalloc's debug classes have stacks of capacity 0, on which the
 * fast paths always miss; a kmem_cache_create'd debug cache gets no front
 * slot), so every allocation and free of a debug cache comes here.  An
 * empty slab going back to the page layer has every object checked.
 *
 * SLAB_HARDEN (KALLOC_HARDEN=full) is a debug flag of its own: red zones
 * as SLAB_RED_ZONE, zero as the poison (no end marker; a never-used object
 * is zero too), the free-pointer checks of SLAB_CONSISTENCY_CHECKS, a
 * quarantine of KHARDEN_QUARANTINE_* whose leaving object is drawn among
 * its KDBG_RANDOM_WINDOW oldest, the object checked only when handed out
 * again; alone it keeps 8 bytes of kdbg_meta (no call sites) and checks
 * only the last KDBG_RED_ZONE bytes of a slot's padding (cache_setup).
 *
 * Blocks that are no slab's objects (kmalloc's page blocks and huge areas,
 * under kslab_block_flags) use the same checks through the kdbg_block_*
 * hooks at the end of this section: their kdbg_meta sits at the block's
 * end, after a red zone from the size asked for, and freed blocks wait in
 * one more quarantine (kdbg_block_q), whose ring keeps each block's size.
 *
 * A report is one block on stderr, formatted on the stack, then abort().
 * The quarantine lock is a leaf (base.h): no lock is taken under it; fork
 * preparation takes every quarantine's lock after the cache locks.
 */

#define POISON_INUSE      0x5a
#define POISON_FREE       0x6b
#define POISON_END        0xa5
#define SLUB_RED_INACTIVE 0xbb
#define SLUB_RED_ACTIVE   0xcc

#define KDBG_ALLOCATED 0xa110ca7eu
#define KDBG_FREE      0xf3eef3eeu

struct ktrack {
	const void *addr;   /* caller */
	int32_t tid, cpu;
	uint64_t ns;        /* monotonic clock */
};

struct kdbg_meta {
	uint32_t state;     /* KDBG_ALLOCATED or KDBG_FREE */
	uint32_t orig;      /* bytes asked for */
	struct ktrack alloc, free;
};

struct kdbg_quarantine {
	klock_t lock;
	unsigned head, count;
	unsigned max_count;  /* <= KDBG_QUARANTINE_OBJECTS */
	size_t bytes, max_bytes;
	uint64_t rng;        /* SLAB_HARDEN: the random exit's state */
	uint32_t *sizes;     /* the block quarantine: each block's size in
	                        pages; NULL for a cache's (objects of c->size) */
	void *ring[KDBG_QUARANTINE_OBJECTS];
};

static struct kdbg_quarantine kdbg_quarantines[KDBG_MAX_CACHES];
static _Atomic unsigned kdbg_nr_quarantines;
bool kslab_debug_any;
slab_flags_t kslab_block_flags;
__thread const void *kslab_caller __attribute__((tls_model("initial-exec")));

/* The hardened profile alone keeps the state and the size asked for, not
 * the call sites (kdbg_meta's first 8 bytes). */
static inline size_t dbg_meta_size(slab_flags_t flags)
{
	return (flags & (SLAB_STORE_USER | SLAB_POISON)) ? sizeof(struct kdbg_meta) : offsetof(struct kdbg_meta, alloc);
}

static inline struct kdbg_meta *dbg_meta(const struct kmem_cache *c, const void *obj)
{
	return (struct kdbg_meta *)((char *)obj + c->dbg_meta);
}

/* The first byte of [p, p + n) that is not v, or NULL: 64 bytes at a
 * time, eight independent loads folded with OR (a zeroed object is checked
 * on every reuse under KALLOC_HARDEN=full), then byte by byte in the block
 * that differs. */
static const uint8_t *dbg_find_not(const void *p, size_t n, uint8_t v)
{
	const uint8_t *b = p, *end = b + n;
	while (b < end && ((uintptr_t)b & 7))
		if (*b++ != v)
			return b - 1;
	uint64_t w = 0x0101010101010101ull * v;
	while (end - b >= 64) {
		const uint64_t *q = (const uint64_t *)(const void *)b;
		uint64_t d = 0;
		for (int i = 0; i < 8; i++)
			d |= q[i] ^ w;
		if (d)
			break;
		b += 64;
	}
	while (end - b >= 8 && *(const uint64_t *)(const void *)b == w)
		b += 8;
	for (; b < end; b++)
		if (*b != v)
			return b;
	return NULL;
}

static size_t dbg_track_line(char *buf, size_t len, const char *what, const struct ktrack *t)
{
	if (!t->ns)
		return kformat(buf, len, "  %s: never\n", what);
	char sym[256];
	kformat_symbol(sym, sizeof sym, t->addr);
	uint64_t rel = t->ns - kdbg_start_ns;
	return kformat(buf, len, "  %s by %s, thread %d, cpu %d, %lu us after start\n", what, sym, t->tid,
	               t->cpu, (unsigned long)(rel / 1000u));
}

/* What a report says of an object, a cache's or a block's: its name, its
 * flags, its state, and where its zones end (the object's size, the end of
 * the red zone after it, the slot). */
struct dbg_view {
	const char *name;
	slab_flags_t flags;
	const struct kdbg_meta *m;
	uint32_t object_size, red_end, slot;
	bool block;
};

static struct dbg_view cache_view(const struct kmem_cache *c, const void *obj)
{
	return (struct dbg_view){ c->name, c->flags, dbg_meta(c, obj), c->object_size, c->fp_offset, c->size, false };
}

/* Reports a bug found in object obj and aborts.  `bad`: the first damaged
 * byte, or NULL; `expect`: the value it should hold. */
static KNORETURN KNOINLINE void dbg_report_view(const struct dbg_view *v, const void *obj, const char *what,
                                                const uint8_t *bad, int expect)
{
	char buf[2048];
	const struct kdbg_meta *m = v->m;
	size_t n = kformat(buf, sizeof buf, "kalloc: BUG %s: %s: object %p\n", v->name, what, obj);
	if (v->block)
		n += kformat(buf + n, sizeof buf - n, "  %s, asked for %u bytes, %u bytes with its red zone\n",
		             v->name, m->orig, v->slot);
	else
		n += kformat(buf + n, sizeof buf - n, "  cache %s, object size %u, asked for %u, slot %u bytes\n",
		             v->name, v->object_size, m->orig, v->slot);
	if (bad) {
		long off = (long)(bad - (const uint8_t *)obj);
		const char *where = off < 0 ? "the red zone before the object"
		                    : off < (long)m->orig ? "the object"
		                    : off < (long)v->object_size ? "the red zone past the size asked for"
		                    : off < (long)v->red_end ? "the red zone after the object"
		                    : "the red zone before the next object";
		n += kformat(buf + n, sizeof buf - n, "  damage at offset %ld (%s): 0x%x, expected 0x%x\n", off,
		             where, *bad, expect);
	}
	if (v->flags & SLAB_STORE_USER) {
		n += dbg_track_line(buf + n, sizeof buf - n, "last allocated", &m->alloc);
		n += dbg_track_line(buf + n, sizeof buf - n, "last freed", &m->free);
	}
	kwrite_all(2, buf, KMIN(n, sizeof buf - 1));
	abort();
}

static KNORETURN void dbg_report(const struct kmem_cache *c, const void *obj, const char *what, const uint8_t *bad,
                                 int expect)
{
	struct dbg_view v = cache_view(c, obj);
	dbg_report_view(&v, obj, what, bad, expect);
}

static void dbg_track(struct ktrack *t)
{
	t->addr = kslab_caller;
	t->tid = kos_gettid();
	t->cpu = kos_getcpu();
	t->ns = kos_now_ns();
}

static void dbg_trace(const char *name, const void *obj, uint32_t orig, const char *op)
{
	char sym[256];
	kformat_symbol(sym, sizeof sym, kslab_caller);
	kreport("trace %s %s %p size %u by %s", name, op, obj, orig, sym);
}

/* Red zones: the object's (SLUB's Z) under SLAB_HARDEN too. */
static inline bool dbg_red(slab_flags_t f)
{
	return f & (SLAB_RED_ZONE | SLAB_HARDEN);
}

/* Freed objects are poisoned: 0x6b (last byte 0xa5) under SLAB_POISON,
 * zero under SLAB_HARDEN alone. */
static inline bool dbg_poison_flags(slab_flags_t f)
{
	return f & (SLAB_POISON | SLAB_HARDEN);
}

static inline uint8_t dbg_poison_byte(slab_flags_t f)
{
	return (f & SLAB_POISON) ? POISON_FREE : 0;
}

static bool dbg_poisons(const struct kmem_cache *c)
{
	return dbg_poison_flags(c->flags) && !c->ctor && !(c->flags & SLAB_TYPESAFE_BY_RCU);
}

/* Poisons the n bytes of a freed object (n >= 1). */
static void dbg_poison(slab_flags_t f, uint8_t *b, size_t n)
{
	memset(b, dbg_poison_byte(f), n);
	if (f & SLAB_POISON)
		b[n - 1] = POISON_END;
}

/* Checks the poison of the n bytes of a freed object. */
static void dbg_check_poison(const struct dbg_view *v, const uint8_t *b, size_t n, const char *what)
{
	uint8_t pv = dbg_poison_byte(v->flags);
	bool end = v->flags & SLAB_POISON;
	const uint8_t *bad = dbg_find_not(b, end ? n - 1 : n, pv);
	if (bad)
		dbg_report_view(v, b, what, bad, pv);
	if (end && b[n - 1] != POISON_END)
		dbg_report_view(v, b, what, b + n - 1, POISON_END);
}

/* Red zones of a slot: the "after" zone from `from` holds `v`, the
 * trailing one and the previous slot's hold SLUB_RED_INACTIVE. */
static void dbg_check_red(const struct kmem_cache *c, const void *obj, size_t from, uint8_t v, const char *what)
{
	const uint8_t *b = obj, *bad;
	if ((bad = dbg_find_not(b + from, c->fp_offset - from, v)))
		dbg_report(c, obj, what, bad, v);
	if ((bad = dbg_find_not(b + c->dbg_tail, c->size - c->dbg_tail, SLUB_RED_INACTIVE)))
		dbg_report(c, obj, what, bad, SLUB_RED_INACTIVE);
	if ((uintptr_t)obj & c->slab_mask) {
		const uint8_t *prev = b - c->size;
		if ((bad = dbg_find_not(prev + c->dbg_tail, c->size - c->dbg_tail, SLUB_RED_INACTIVE)))
			dbg_report(c, obj, what, bad, SLUB_RED_INACTIVE);
	}
}

/* A free object: poison intact, red zones inactive. */
static void dbg_check_free(const struct kmem_cache *c, const void *obj, const char *what)
{
	if (dbg_poisons(c)) {
		struct dbg_view v = cache_view(c, obj);
		dbg_check_poison(&v, obj, c->object_size, what);
	}
	if (dbg_red(c->flags))
		dbg_check_red(c, obj, c->object_size, SLUB_RED_INACTIVE, what);
}

static void dbg_init_slab(struct kmem_cache *c, struct page *s)
{
	for (unsigned i = 0; i < c->objects; i++) {
		uint8_t *b = slab_obj(c, s, i);
		if (dbg_poisons(c))
			dbg_poison(c->flags, b, c->object_size);
		memset(b + c->object_size, SLUB_RED_INACTIVE, c->fp_offset - c->object_size);
		memset(b + c->dbg_tail, SLUB_RED_INACTIVE, c->size - c->dbg_tail);
		struct kdbg_meta *m = dbg_meta(c, b);
		memset(m, 0, dbg_meta_size(c->flags));
		m->state = KDBG_FREE;
		m->orig = c->object_size;
	}
}

/* The allocation of obj from its slab. */
static void dbg_alloc(struct kmem_cache *c, void *obj)
{
	struct kdbg_meta *m = dbg_meta(c, obj);
	if (m->state != KDBG_FREE)
		dbg_report(c, obj, m->state == KDBG_ALLOCATED ? "free list corrupted: allocated object handed out again"
		                                              : "free list corrupted: object state damaged",
		           NULL, 0);
	dbg_check_free(c, obj, "write after free (poison or red zone damaged)");
	if (dbg_red(c->flags))
		memset((char *)obj + c->object_size, SLUB_RED_ACTIVE, c->fp_offset - c->object_size);
	if ((c->flags & SLAB_POISON) && dbg_poisons(c) && !m->alloc.ns && !m->free.ns)
		memset(obj, POISON_INUSE, c->object_size);   /* never used */
	m->state = KDBG_ALLOCATED;
	m->orig = c->object_size;
	if (c->flags & SLAB_TRACE)
		dbg_trace(c->name, obj, m->orig, "alloc");
	if (c->flags & SLAB_STORE_USER)
		dbg_track(&m->alloc);
	else if (c->flags & SLAB_POISON)
		m->alloc.ns = 1;   /* used */
	kslab_caller = NULL;
}

void kslab_debug_set_size(struct kmem_cache *c, void *obj, size_t n)
{
	struct kdbg_meta *m = dbg_meta(c, obj);
	if (n >= c->object_size)
		n = c->object_size;
	if (dbg_red(c->flags) && m->orig > n)
		memset((char *)obj + n, SLUB_RED_ACTIVE, m->orig - n);
	m->orig = (uint32_t)n;
}

size_t kslab_debug_size(const struct kmem_cache *c, const void *obj)
{
	return dbg_meta(c, obj)->orig;
}

void kslab_debug_check_live(const struct kmem_cache *c, const void *obj, const char *op)
{
	if (dbg_meta(c, obj)->state != KDBG_ALLOCATED) {
		char what[96];
		kformat(what, sizeof what, "%s of a freed object (use after free)", op);
		dbg_report(c, obj, what, NULL, 0);
	}
}

/* Puts obj (`bytes` long) in quarantine q; returns the object that
 * leaves it, or NULL, with its size in *out_bytes.  Under SLAB_HARDEN the
 * one that leaves is drawn among the oldest KDBG_RANDOM_WINDOW, so the
 * program cannot tell when a given object comes back. */
static void *dbg_quarantine_push(struct kdbg_quarantine *q, void *obj, size_t bytes, bool random,
                                 size_t *out_bytes)
{
	void *out = NULL;
	klock(&q->lock);
	if (q->count == q->max_count || (q->count && q->bytes + bytes > q->max_bytes)) {
		unsigned h = q->head;
		if (random) {
			q->rng = q->rng * 6364136223846793005ull + 1442695040888963407ull;
			unsigned r = (unsigned)((q->rng >> 33) % KMIN(q->count, KDBG_RANDOM_WINDOW));
			unsigned k = (h + r) % KDBG_QUARANTINE_OBJECTS;
			void *t = q->ring[k];
			q->ring[k] = q->ring[h];
			q->ring[h] = t;
			if (q->sizes) {
				uint32_t ts = q->sizes[k];
				q->sizes[k] = q->sizes[h];
				q->sizes[h] = ts;
			}
		}
		out = q->ring[h];
		*out_bytes = q->sizes ? q->sizes[h] : bytes;
		q->head = (h + 1) % KDBG_QUARANTINE_OBJECTS;
		q->count--;
		q->bytes -= *out_bytes;
	}
	unsigned tail = (q->head + q->count) % KDBG_QUARANTINE_OBJECTS;
	q->ring[tail] = obj;
	if (q->sizes)
		q->sizes[tail] = (uint32_t)(bytes >> PAGE_SHIFT);
	q->count++;
	q->bytes += bytes;
	kunlock(&q->lock);
	if (out && q->sizes)
		*out_bytes <<= PAGE_SHIFT;
	return out;
}

/* Checks and poisons obj (freed by the program) and puts it in the
 * quarantine; returns the object that leaves the quarantine for its slab,
 * or NULL. */
static void *dbg_free(struct kmem_cache *c, void *obj)
{
	struct kdbg_meta *m = dbg_meta(c, obj);
	if (m->state == KDBG_FREE)
		dbg_report(c, obj, "double free", NULL, 0);
	if (m->state != KDBG_ALLOCATED)
		dbg_report(c, obj, "free of an object whose state is damaged", NULL, 0);
	/* This free is the last one a report names from here on. */
	if (c->flags & SLAB_STORE_USER)
		dbg_track(&m->free);
	if (dbg_red(c->flags))
		dbg_check_red(c, obj, m->orig, SLUB_RED_ACTIVE, "buffer overflow (red zone damaged)");
	if (c->flags & SLAB_TRACE)
		dbg_trace(c->name, obj, m->orig, "free");
	kslab_caller = NULL;
	if (dbg_poisons(c))
		dbg_poison(c->flags, obj, c->object_size);
	if (dbg_red(c->flags))
		memset((char *)obj + c->object_size, SLUB_RED_INACTIVE, c->fp_offset - c->object_size);
	m->state = KDBG_FREE;   /* (orig stays, for reports) */

	struct kdbg_quarantine *q = c->dbg;
	if (!q)
		return obj;
	size_t ob;
	void *out = dbg_quarantine_push(q, obj, c->size, c->flags & SLAB_HARDEN, &ob);
	/* Checked as it leaves, and again when handed out; the hardened
	 * profile alone checks only then (each check reads the object). */
	if (out && (c->flags & ~SLAB_HARDEN & KSLAB_DEBUG_FLAGS))
		dbg_check_free(c, out, "write after free (poison or red zone damaged)");
	return out;
}

/* The free of objs[0..n) to debug cache c: checked one by one, each
 * quarantined, and those leaving the quarantine go back to their slabs. */
static void dbg_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs, bool settle)
{
	for (unsigned i = 0; i < n; i++) {
		void *obj = objs[i];
		struct page *s = kslab_of(obj);
		if (!s)
			kpanic("free: invalid pointer %p (cache %s)", obj, c->name);
		kslab_check_object(c, s, obj, "free");
		void *out = dbg_free(c, obj);
		if (out)
			free_chain(c, kslab_of(out), out, out, 1, settle);
	}
	atomic_fetch_add_explicit(&c->nr_free_total, n, memory_order_relaxed);
}

/* Returns every quarantined object of c to its slab (kmem_cache_destroy,
 * and kslab_shrink_all without settling: it holds kcache_list_lock). */
static void dbg_flush(struct kmem_cache *c, bool settle)
{
	struct kdbg_quarantine *q = c->dbg;
	if (!q)
		return;
	for (;;) {
		klock(&q->lock);
		void *out = NULL;
		if (q->count) {
			out = q->ring[q->head];
			q->head = (q->head + 1) % KDBG_QUARANTINE_OBJECTS;
			q->count--;
			q->bytes -= c->size;
		}
		kunlock(&q->lock);
		if (!out)
			return;
		dbg_check_free(c, out, "write after free (poison or red zone damaged)");
		free_chain(c, kslab_of(out), out, out, 1, settle);
	}
}

/* An empty slab of a debug cache going back to the page layer: a write
 * after free into any of its objects is reported now, as no allocation
 * will hand them out again. */
static void dbg_check_slab_free(struct kmem_cache *c, struct page *s)
{
	for (unsigned i = 0; i < c->objects; i++) {
		void *obj = slab_obj(c, s, i);
		if (dbg_meta(c, obj)->state != KDBG_FREE)
			dbg_report(c, obj, "empty slab given back holds an object not free (state damaged)", NULL, 0);
		dbg_check_free(c, obj, "write after free (poison or red zone damaged)");
	}
}

/* The free pointer followed from obj (slab s) names an object of s. */
static void dbg_check_fp(const struct kmem_cache *c, struct page *s, const void *obj, const void *next)
{
	if (kslab_of(next) != s || !kslab_obj_valid(c, next))
		dbg_report(c, obj, "free pointer damaged (write after free?)", (const uint8_t *)obj + c->fp_offset,
		           0);
}

/* The debug layout of a cache of `size`-byte objects: sets fp_offset,
 * dbg_meta and dbg_tail, returns the slot size before alignment (see
 * cache_setup for the hardened profile's tail). */
static size_t dbg_layout(struct kmem_cache *c, size_t size, slab_flags_t flags)
{
	size_t off = KALIGN_UP(size, 8) + KDBG_RED_ZONE;
	c->fp_offset = (uint32_t)off;
	c->dbg_meta = (uint32_t)(off + sizeof(void *));
	c->dbg_tail = (uint32_t)(c->dbg_meta + dbg_meta_size(flags));
	return c->dbg_tail + KDBG_RED_ZONE;
}

/* A debug cache's quarantine, or NULL when all are taken; `seed` starts
 * its random exit.  Under the hardened profile alone (no KALLOC_DEBUG
 * flag), a short one. */
static struct kdbg_quarantine *dbg_quarantine(slab_flags_t flags, uint64_t seed)
{
	unsigned i = atomic_fetch_add(&kdbg_nr_quarantines, 1);
	if (i >= KDBG_MAX_CACHES)
		return NULL;
	struct kdbg_quarantine *q = &kdbg_quarantines[i];
	klock_reinit(&q->lock);
	q->rng = seed;
	bool light = (flags & KSLAB_DEBUG_FLAGS) == SLAB_HARDEN;
	q->max_count = light ? KHARDEN_QUARANTINE_OBJECTS : KDBG_QUARANTINE_OBJECTS;
	q->max_bytes = light ? KHARDEN_QUARANTINE_BYTES : KDBG_QUARANTINE_BYTES;
	return q;
}

/* ---- page blocks and huge areas (kmalloc.c) ---- */

_Static_assert(KDBG_BLOCK_EXTRA >= KDBG_RED_ZONE + sizeof(struct kdbg_meta), "a block's red zone and state fit");

/* The quarantine of blocks: its ring holds their addresses and sizes (in
 * pages) beside them. */
static struct kdbg_quarantine kdbg_block_q = {
	.lock = KLOCK_INIT,
	.max_count = KDBG_QUARANTINE_OBJECTS,
	.max_bytes = KDBG_BLOCK_QUARANTINE_BYTES,
};
static uint32_t kdbg_block_sizes[KDBG_QUARANTINE_OBJECTS];

static struct dbg_view block_view(const void *p, size_t extent)
{
	const struct kdbg_meta *m = (const struct kdbg_meta *)((const char *)p + extent - sizeof(struct kdbg_meta));
	uint32_t end = (uint32_t)(extent - sizeof(struct kdbg_meta));
	return (struct dbg_view){ extent > KMAX_ORDER_SIZE ? "huge area" : "page block", kslab_block_flags, m, end,
		                  end, (uint32_t)extent, true };
}

static inline struct kdbg_meta *block_meta(const void *p, size_t extent)
{
	return (struct kdbg_meta *)((char *)p + extent - sizeof(struct kdbg_meta));
}

void kdbg_block_alloc(void *p, size_t n, size_t extent)
{
	struct kdbg_meta *m = block_meta(p, extent);
	uint8_t *red = (uint8_t *)p + n;
	memset(red, SLUB_RED_ACTIVE, (size_t)((uint8_t *)m - red));
	m->state = KDBG_ALLOCATED;
	m->orig = (uint32_t)n;
	memset(&m->free, 0, sizeof m->free);
	if (kslab_block_flags & SLAB_TRACE) {
		struct dbg_view v = block_view(p, extent);
		dbg_trace(v.name, p, m->orig, "alloc");
	}
	if (kslab_block_flags & SLAB_STORE_USER)
		dbg_track(&m->alloc);
	else
		m->alloc.ns = 1;
	kslab_caller = NULL;
}

int kdbg_block_state(const void *p, size_t extent)
{
	uint32_t s = block_meta(p, extent)->state;
	return s == KDBG_ALLOCATED ? 1 : s == KDBG_FREE ? 0 : -1;
}

size_t kdbg_block_size(const void *p, size_t extent, const char *op)
{
	const struct kdbg_meta *m = block_meta(p, extent);
	if (m->state != KDBG_ALLOCATED) {
		char what[96];
		kformat(what, sizeof what, "%s of a freed block (use after free or double free)", op);
		struct dbg_view v = block_view(p, extent);
		dbg_report_view(&v, p, what, NULL, 0);
	}
	return m->orig;
}

/* The checks of a free: state, then red zone. */
static void block_check(void *p, size_t extent, bool track)
{
	struct kdbg_meta *m = block_meta(p, extent);
	struct dbg_view v = block_view(p, extent);
	if (m->state == KDBG_FREE)
		dbg_report_view(&v, p, "double free", NULL, 0);
	if (m->state != KDBG_ALLOCATED)
		dbg_report_view(&v, p, "free of a block whose state is damaged", NULL, 0);
	if (track && (kslab_block_flags & SLAB_STORE_USER))
		dbg_track(&m->free);
	const uint8_t *red = (const uint8_t *)p + m->orig, *bad;
	if (dbg_red(kslab_block_flags) && (bad = dbg_find_not(red, (size_t)((const uint8_t *)m - red), SLUB_RED_ACTIVE)))
		dbg_report_view(&v, p, "buffer overflow (red zone damaged)", bad, SLUB_RED_ACTIVE);
}

void kdbg_block_check(void *p, size_t extent)
{
	block_check(p, extent, false);
}

void kdbg_block_free(void *p, size_t extent)
{
	struct kdbg_meta *m = block_meta(p, extent);
	struct dbg_view v = block_view(p, extent);
	block_check(p, extent, true);
	if (kslab_block_flags & SLAB_TRACE)
		dbg_trace(v.name, p, m->orig, "free");
	kslab_caller = NULL;
	if (dbg_poison_flags(kslab_block_flags) && m->orig)
		dbg_poison(kslab_block_flags, p, m->orig);
	m->state = KDBG_FREE;
}

void *kdbg_block_quarantine_pop(size_t *out_extent)
{
	struct kdbg_quarantine *q = &kdbg_block_q;
	void *out = NULL;
	klock(&q->lock);
	if (q->count) {
		out = q->ring[q->head];
		*out_extent = (size_t)q->sizes[q->head] << PAGE_SHIFT;
		q->head = (q->head + 1) % KDBG_QUARANTINE_OBJECTS;
		q->count--;
		q->bytes -= *out_extent;
	}
	kunlock(&q->lock);
	if (out) {
		struct dbg_view v = block_view(out, *out_extent);
		if (dbg_poison_flags(kslab_block_flags) && v.m->orig)
			dbg_check_poison(&v, out, v.m->orig, "write after free (poison damaged)");
	}
	return out;
}

void *kdbg_block_quarantine(void *p, size_t extent, size_t *out_extent)
{
	size_t ob = 0;
	void *out = dbg_quarantine_push(&kdbg_block_q, p, extent, kslab_block_flags & SLAB_HARDEN, &ob);
	if (out) {
		struct dbg_view v = block_view(out, ob);
		if (dbg_poison_flags(kslab_block_flags) && v.m->orig)
			dbg_check_poison(&v, out, v.m->orig, "write after free (poison damaged)");
		*out_extent = ob;
	}
	return out;
}

/* kalloc_validate: every slab of every debug cache, found through the
 * chunk registry (a full slab is on no list).  Objects in the quarantine
 * or on a free list must be intact free objects; allocated ones must have
 * their red zones. */
static void dbg_validate_slab(struct kmem_cache *c, struct page *s)
{
	for (unsigned i = 0; i < c->objects; i++) {
		const void *obj = slab_obj(c, s, i);
		const struct kdbg_meta *m = dbg_meta(c, obj);
		if (m->state == KDBG_FREE)
			dbg_check_free(c, obj, "kalloc_validate: free object damaged (write after free or overflow)");
		else if (m->state == KDBG_ALLOCATED && dbg_red(c->flags))
			dbg_check_red(c, obj, m->orig, SLUB_RED_ACTIVE, "kalloc_validate: red zone damaged (buffer overflow)");
		else if (m->state != KDBG_ALLOCATED)
			dbg_report(c, obj, "kalloc_validate: object state damaged", NULL, 0);
	}
}

int kslab_validate(void)
{
	if (!kslab_debug_any)
		return 0;
	for (size_t ci = 0; ci < KREGISTRY_LEN; ci++) {
		struct kchunk *ch = atomic_load_explicit(&kchunk_registry[ci], memory_order_acquire);
		if (!ch)
			continue;
		for (size_t pfn = 0; pfn < KCHUNK_PAGES; pfn++) {
			if (!kchunk_pfn_mapped(ch, pfn))
				continue;
			struct page *pg = &ch->pages[pfn];
			if (!kpage_is_slab(pg) || pg->head != pg)
				continue;
			struct kmem_cache *c = pg->slab_cache;
			if (c && kslab_debug(c) && !c->pages)
				dbg_validate_slab(c, pg);
		}
	}
	return 0;
}

/* Unlinks the empty listed slabs of c and chains them on *dead (through
 * `next`).  Returns how many. */
static size_t shrink_locked(struct kmem_cache *c, struct page **dead)
{
	size_t found = 0;
	if (c->pages) {
		/* the blocks put back under drain_lock */
		struct page *s = atomic_exchange_explicit(&c->relist, NULL, memory_order_acquire);
		while (s) {
			struct page *next = s->next;
			s->next = *dead;
			*dead = s;
			found++;
			s = next;
		}
		atomic_fetch_add_explicit(&c->nr_free_total, found, memory_order_relaxed);
		return found;
	}
	klock(&c->lock);
	take_relisted(c);
	struct page *s = c->partial;
	size_t n = c->nr_partial;
	/* Unlinking a slab leaves the links of the others intact, so walking
	 * the original count of steps visits each listed slab once. */
	for (size_t i = 0; i < n; i++) {
		struct page *next = s->next;
		uint64_t w = atomic_load_explicit(&s->remote, memory_order_acquire);
		if ((w >> 48) == atomic_load_explicit(&s->inuse, memory_order_relaxed)) {
			partial_del(c, s);
			c->nr_slabs--;
			s->next = *dead;
			*dead = s;
			found++;
		}
		s = next;
	}
	kunlock(&c->lock);
	return found;
}

static void discard_chain(struct page *dead)
{
	while (dead) {
		struct page *next = dead->next;
		discard_slab(dead);
		dead = next;
	}
}

size_t kslab_shrink(struct kmem_cache *c)
{
	struct page *dead = NULL;
	size_t n = shrink_locked(c, &dead);
	discard_chain(dead);
	return n;
}

/* The list lock keeps every cache alive during the walk (kslab_destroy
 * unlists first); the slabs go back once it is dropped. */
size_t kslab_shrink_all(void)
{
	struct page *dead = NULL;
	size_t n = 0;
	klock(&kcache_list_lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next) {
		dbg_flush(c, false);   /* memory wanted back: the quarantines too */
		n += shrink_locked(c, &dead);
	}
	kunlock(&kcache_list_lock);
	discard_chain(dead);
	return n;
}

void kslab_foreach(void (*fn)(struct kmem_cache *c, void *arg), void *arg)
{
	klock(&kcache_list_lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next)
		fn(c, arg);
	kunlock(&kcache_list_lock);
}

/* ------------------------------------------------------------------ */
/* page caches                                                         */
/* ------------------------------------------------------------------ */

/*
 * A page cache's objects are exact page blocks: this layer only passes
 * them between the page layer and the front caches, which keep them per
 * CPU.  A block handed to a front cache has the kind KPG_CACHED (kalloc_any
 * makes it KPG_LARGE when it gives the block out, kfree_any KPG_CACHED
 * again when it takes it back), so a second free of a cached block is
 * seen.  Blocks put back under drain_lock (kslab_put_bulk) wait on
 * c->relist, a lock-free stack through the head pages' `next`, for the
 * shrink that follows: returning them to the page layer may release memory
 * (a system call).
 */

static unsigned pages_alloc_bulk(struct kmem_cache *c, gfp_t gfp, unsigned n, void **out)
{
	size_t npages = c->object_size >> PAGE_SHIFT;
	unsigned got = 0;
	for (; got < n; got++) {
		struct page *pg = kpage_alloc_exact((gfp & ~(__GFP_ZERO | KGFP_ZONEMASK)) | c->allocflags, npages, 0);
		if (!pg)
			break;
		kpage_set_tails(pg, npages, KPG_TAIL);
		kpage_set_info(pg, KPG_CACHED);
		out[got] = kpage_address(pg);
	}
	if (got)
		atomic_fetch_add_explicit(&c->nr_alloc_total, got, memory_order_relaxed);
	return got;
}

/* Each block must be a cached block of c. */
static struct page *cached_block(struct kmem_cache *c, const void *p)
{
	struct kchunk *ch = kchunk_of(p);
	struct page *pg = ch ? kchunk_page(ch, p) : NULL;
	if (!pg || ((uintptr_t)p & (PAGE_SIZE - 1)) || kpage_kind(pg) != KPG_CACHED ||
	    (size_t)pg->npages << PAGE_SHIFT != c->object_size)
		kpanic("free: invalid pointer %p (not a cached block of %s)", p, c->name);
	return pg;
}

static void pages_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs, bool now)
{
	for (unsigned i = 0; i < n; i++) {
		struct page *pg = cached_block(c, objs[i]);
		if (now) {
			discard_slab(pg);
			continue;
		}
		struct page *old = atomic_load_explicit(&c->relist, memory_order_relaxed);
		do
			pg->next = old;
		while (!atomic_compare_exchange_weak_explicit(&c->relist, &old, pg, memory_order_release,
		                                              memory_order_relaxed));
	}
	if (now)
		atomic_fetch_add_explicit(&c->nr_free_total, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* cache creation                                                      */
/* ------------------------------------------------------------------ */

/* Multiplicative inverse of an odd number modulo 2^64 (Newton's method). */
static uint64_t inverse_odd(uint64_t d)
{
	uint64_t x = d;   /* correct to 3 bits */
	for (int i = 0; i < 5; i++)
		x *= 2 - d * x;
	return x;
}

/* The slab order: the smallest order whose slab holds enough objects (8
 * up to 512 bytes, 4 up to 4 KiB, 2 above: big slabs for big objects
 * fragment the buddy allocator) with at most 1/8 of it wasted; failing
 * that, up to KSLAB_MAX_ORDER, the order wasting the least. */
static void choose_order(struct kmem_cache *c)
{
	size_t min_objs = c->size <= 512 ? KSLAB_MIN_OBJECTS : c->size <= 4096 ? 4 : 2;
	unsigned best = 0;
	size_t best_frac = SIZE_MAX;
	for (unsigned order = 0; order <= MAX_ORDER; order++) {
		size_t slab = PAGE_SIZE << order;
		size_t objs = slab / c->size;
		if (objs == 0)
			continue;
		size_t waste = slab - objs * c->size;
		if (objs >= min_objs && waste * 8 <= slab) {
			best = order;
			break;
		}
		if (order > KSLAB_MAX_ORDER && best_frac != SIZE_MAX)
			break;
		size_t frac = (waste << 16) / slab + (objs < min_objs ? (1u << 16) : 0);
		if (frac < best_frac) {
			best_frac = frac;
			best = order;
		}
	}
	c->order = (uint8_t)best;
	size_t objs = (PAGE_SIZE << best) / c->size;
	c->objects = (uint16_t)KMIN(objs, 65535u);
}

/* Puts c on the list of all caches.  Under kcache_list_lock. */
static void list_cache_locked(struct kmem_cache *c)
{
	c->prev = NULL;
	c->next = kcache_list;
	if (kcache_list)
		kcache_list->prev = c;
	kcache_list = c;
}

static void list_cache(struct kmem_cache *c)
{
	klock(&kcache_list_lock);
	list_cache_locked(c);
	kunlock(&kcache_list_lock);
}

/* The fields every cache starts with: a name, no front cache, an unheld
 * lock, nothing counted.  The rest is the caller's. */
static void cache_begin(struct kmem_cache *c, const char *name)
{
	memset(c, 0, offsetof(struct kmem_cache, lock));
	c->front_idx = -1;
	size_t i = 0;
	for (; name && name[i] && i < KCACHE_NAME_LEN - 1; i++)
		c->name[i] = name[i];
	c->name[i] = '\0';
	klock_reinit(&c->lock);
	/* The fields after the lock too: a cache made by kslab_create is an
	 * object of kmem_cache_boot, whose memory holds what was there
	 * before (a stale `dbg` sent reclaim into a quarantine that was
	 * not there). */
	c->partial = NULL;
	c->nr_partial = 0;
	c->nr_slabs = 0;
	c->dead = false;
	c->dbg_meta = c->dbg_tail = 0;
	c->dbg = NULL;
	atomic_store_explicit(&c->relist, NULL, memory_order_relaxed);
	atomic_store(&c->nr_alloc_total, 0);
	atomic_store(&c->nr_free_total, 0);
	atomic_store(&c->rcu_pending, 0);
}

/* Sets up c (not listed); the free-pointer secret is given: no system
 * call.  KALLOC_DEBUG's flags are added for the caches it names. */
static int cache_setup(struct kmem_cache *c, const char *name, size_t size, size_t align, slab_flags_t flags,
                       void (*ctor)(void *), uint64_t secret)
{
	if (size == 0 || size > KMAX_ORDER_SIZE / 2 || (align && !KIS_POW2(align)) || align > PAGE_SIZE)
		return -EINVAL;
	size_t a = KMAX(align, sizeof(void *));
	if (size >= 16)
		a = KMAX(a, 16);
	if (flags & SLAB_HWCACHE_ALIGN) {
		size_t ralign = 64;
		while (size <= ralign / 2 && ralign > a)
			ralign /= 2;
		a = KMAX(a, ralign);
	}
	size_t stride = KALIGN_UP(KMAX(size, sizeof(void *)), sizeof(void *));
	size_t fp_offset = 0;
	if (ctor || (flags & SLAB_TYPESAFE_BY_RCU)) {
		/* Keep the object intact while free: the pointer goes after it. */
		fp_offset = stride;
		stride += sizeof(void *);
	}
	if (ktune.debug_flags && kenv_list_has(ktune.debug_caches, name))
		flags |= ktune.debug_flags;
	if (ktune.harden == KHARDEN_FULL)
		flags |= SLAB_HARDEN;

	cache_begin(c, name);
	if (flags & KSLAB_DEBUG_FLAGS) {
		/* Keep the alignment the plain stride gives every object (a
		 * slab starts on a page; kmalloc_aligned_class counts on a
		 * 5120-byte class's objects being 1024-aligned). */
		size_t plain = KALIGN_UP(stride, a);
		a = KMAX(a, KMIN(plain & -plain, (size_t)PAGE_SIZE));
		stride = dbg_layout(c, size, flags);   /* the free pointer past the red zone */
		fp_offset = c->fp_offset;
		c->dbg = dbg_quarantine(flags, secret);
		kslab_debug_any = true;
	}
	stride = KALIGN_UP(stride, a);
	/* The hardened profile alone checks the last KDBG_RED_ZONE bytes of
	 * a slot as the next object's "before" zone, not the padding the
	 * alignment adds (up to half the slot for a power-of-two class):
	 * reading it on every allocation and free cost more than the rest. */
	if ((flags & KSLAB_DEBUG_FLAGS) == SLAB_HARDEN)
		c->dbg_tail = (uint32_t)(stride - KDBG_RED_ZONE);
	c->size = (uint32_t)stride;
	c->object_size = (uint32_t)size;
	c->fp_offset = (uint32_t)fp_offset;
	c->flags = flags;
	/* SLAB_CACHE_DMA and SLAB_CACHE_DMA32 both: the stricter zone. */
	c->allocflags = (flags & SLAB_CACHE_DMA) ? __GFP_DMA : (flags & SLAB_CACHE_DMA32) ? __GFP_DMA32 : 0;
	c->ctor = ctor;
	choose_order(c);

	c->secret = secret | 1;
	/* The free tag: kmalloc's classes ask for it (KSLAB_FREE_TAG); a debug
	 * cache checks every free exactly, and a free object of a cache with
	 * a constructor or RCU keeps its contents. */
	c->tagged = (flags & KSLAB_FREE_TAG) && !(flags & KSLAB_DEBUG_FLAGS) && fp_offset == 0 && kslab_harden;
	c->flags &= ~KSLAB_FREE_TAG;
	c->partial = NULL;
	c->nr_partial = c->nr_slabs = 0;
	c->dead = false;

	unsigned k = (unsigned)__builtin_ctzl(stride);
	c->div_shift = k;
	c->div_mul = inverse_odd(stride >> k);
	c->div_limit = (uint64_t)c->objects - 1;
	c->slab_mask = (PAGE_SIZE << c->order) - 1;
	c->page_info = KPG_SLAB;
	return 0;
}

/*
 * Random words for the caches' secrets: kslab_init fills a pool of them
 * with one getrandom, instead of a system call per cache (the kmalloc
 * classes alone made it 49 calls at start-up, about 0.1 ms of every
 * process's start).  Each word is handed out once, so they are as
 * independent as separate calls would make them; past the pool, and in a
 * child after fork (whose parent goes on drawing from the same pool), one
 * call per cache again.
 */
#define KSLAB_RND_POOL 64
static uint64_t rnd_pool[KSLAB_RND_POOL];
static _Atomic unsigned rnd_pool_left;   /* words not handed out yet */

static uint64_t cache_random(void)
{
	unsigned n = atomic_load_explicit(&rnd_pool_left, memory_order_acquire);
	while (n > 0)
		if (atomic_compare_exchange_weak_explicit(&rnd_pool_left, &n, n - 1, memory_order_acq_rel,
		                                          memory_order_acquire))
			return rnd_pool[n - 1];
	uint64_t r;
	kos_random(&r, sizeof r);
	return r;
}

int kcache_init(struct kmem_cache *c, const char *name, size_t size, size_t align, slab_flags_t flags,
                void (*ctor)(void *))
{
	uint64_t rnd = cache_random();
	int err = cache_setup(c, name, size, align, flags, ctor, rnd);
	if (err == 0)
		list_cache(c);
	return err;
}

int kcache_init_once(struct kmem_cache *c, _Atomic bool *ready, const char *name, size_t size, size_t align,
                     slab_flags_t flags)
{
	if (atomic_load_explicit(ready, memory_order_acquire))
		return 0;
	uint64_t rnd = cache_random();   /* before the lock */
	int err = 0;
	klock(&kcache_list_lock);
	if (!atomic_load_explicit(ready, memory_order_relaxed)) {
		err = cache_setup(c, name, size, align, flags, NULL, rnd);
		if (err == 0) {
			list_cache_locked(c);
			atomic_store_explicit(ready, true, memory_order_release);
		}
	}
	kunlock(&kcache_list_lock);
	return err;
}

/* The quarantines in use (their locks are leaves: taken last). */
static unsigned dbg_nr_locks(void)
{
	return KMIN(atomic_load(&kdbg_nr_quarantines), KDBG_MAX_CACHES);
}

void kslab_fork_prepare(void)
{
	klock(&kcache_list_lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next)
		klock(&c->lock);
	for (unsigned i = 0; i < dbg_nr_locks(); i++)
		klock(&kdbg_quarantines[i].lock);
	klock(&kdbg_block_q.lock);
}

void kslab_fork_parent(void)
{
	kunlock(&kdbg_block_q.lock);
	for (unsigned i = 0; i < dbg_nr_locks(); i++)
		kunlock(&kdbg_quarantines[i].lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next)
		kunlock(&c->lock);
	kunlock(&kcache_list_lock);
}

void kslab_fork_child(void)
{
	klock_reinit(&kdbg_block_q.lock);
	for (unsigned i = 0; i < dbg_nr_locks(); i++)
		klock_reinit(&kdbg_quarantines[i].lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next)
		klock_reinit(&c->lock);
	klock_reinit(&kcache_list_lock);
	atomic_store_explicit(&rnd_pool_left, 0, memory_order_relaxed);
}

void kcache_init_pages(struct kmem_cache *c, const char *name, size_t size)
{
	cache_begin(c, name);
	c->size = c->object_size = (uint32_t)size;
	c->pages = true;
	c->objects = 1;
	list_cache(c);
}

/* ------------------------------------------------------------------ */
/* caches made by the program                                          */
/* ------------------------------------------------------------------ */

/* The cache of struct kmem_cache, as in the kernel; set up by kslab_init. */
static struct kmem_cache kmem_cache_boot;

void kslab_init(void)
{
	kdbg_start_ns = kos_now_ns();
	kslab_harden = ktune.harden >= KHARDEN_DEFAULT;
	kos_random(rnd_pool, sizeof rnd_pool);
	kslab_canary_key = rnd_pool[KSLAB_RND_POOL - 1];
	atomic_store_explicit(&rnd_pool_left, KSLAB_RND_POOL - 1, memory_order_release);
	/* Page blocks and huge areas: debugged under the hardened profile,
	 * and under KALLOC_DEBUG when it names no cache. */
	slab_flags_t bf = ktune.harden == KHARDEN_FULL ? SLAB_HARDEN : 0;
	if (!ktune.debug_caches)
		bf |= ktune.debug_flags;
	if (bf) {
		klock_reinit(&kdbg_block_q.lock);
		kdbg_block_q.sizes = kdbg_block_sizes;
		kos_random(&kdbg_block_q.rng, sizeof kdbg_block_q.rng);
		kslab_debug_any = true;
	}
	kslab_block_flags = bf;
	kcache_init(&kmem_cache_boot, "kmem_cache", sizeof(struct kmem_cache), 64, 0, NULL);
}

struct kmem_cache *kslab_create(const char *name, size_t size, size_t align, slab_flags_t flags,
                                void (*ctor)(void *), const char **why, int *err)
{
	*err = EINVAL;
	*why = NULL;
	if (!name)
		*why = "no name";
	else if (size == 0)
		*why = "object size 0";
	else if (align && !KIS_POW2(align))
		*why = "alignment not a power of two";
	else if (align > PAGE_SIZE)
		*why = "alignment above the page size";
	else if (size > KMALLOC_MAX_CACHE_SIZE * 8)
		*why = "object size above 256 KiB";
	if (*why)
		return NULL;
	void *obj;
	if (kslab_alloc_bulk(&kmem_cache_boot, GFP_KERNEL, 1, &obj) != 1) {
		*why = "out of memory";
		*err = ENOMEM;
		return NULL;
	}
	struct kmem_cache *c = obj;
	if (kcache_init(c, name, size, align, flags & ~KSLAB_FREE_TAG, ctor) != 0) {
		kslab_free_bulk(&kmem_cache_boot, 1, &obj);
		*why = "bad parameters";
		return NULL;
	}
	return c;
}

/* The caches made by kslab_create are objects of kmem_cache_boot; the
 * others are static. */
bool kslab_is_builtin(const struct kmem_cache *c)
{
	struct page *s = kslab_of(c);
	return !s || s->slab_cache != &kmem_cache_boot;
}

size_t kslab_live(const struct kmem_cache *c)
{
	return atomic_load(&c->nr_alloc_total) - atomic_load(&c->nr_free_total);
}

void kslab_destroy(struct kmem_cache *c)
{
	dbg_flush(c, true);
	klock(&kcache_list_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		kcache_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	kunlock(&kcache_list_lock);

	klock(&c->lock);
	take_relisted(c);
	struct page *dead = NULL;
	while (c->partial) {
		struct page *s = c->partial;
		partial_del(c, s);
		s->next = dead;
		dead = s;
	}
	c->dead = true;
	kunlock(&c->lock);
	discard_chain(dead);
	/* The deferred calls of c (its slabs, above, and any object freed
	 * with RCU) use c until they have run. */
	while (atomic_load_explicit(&c->rcu_pending, memory_order_acquire))
		krcu_barrier();
	void *obj = c;
	kslab_free_bulk(&kmem_cache_boot, 1, &obj);
}

/* SPDX-License-Identifier: MIT */
/*
 * vmalloc.c - huge blocks, each its own mapping.
 *
 * A huge area is a private anonymous mapping aligned to 2 MiB (or to a larger
 * requested alignment), `size` bytes rounded up to pages, followed by one
 * PROT_NONE guard page (the kernel's vmalloc guard): running off the end
 * faults at once instead of corrupting a neighbour.
 *
 * No header sits in front of the data: areas are found from their start
 * address in a hash table (struct vmap_area records, from an internal slab
 * cache), so aligned huge blocks need no padding and free() can tell a
 * valid huge pointer from anything else.
 *
 * Growing (realloc) reserves a 2 MiB aligned range of the new size plus a
 * guard page and moves the data's pages there with mremap(MREMAP_MAYMOVE |
 * MREMAP_FIXED): page tables move (whole page-table pages, both ends being
 * aligned), the data is not copied, and the reservation's last page becomes
 * the guard.  The old guard page stays behind and is unmapped.  (A plain
 * MREMAP_MAYMOVE lets the kernel pick a page-aligned place, where every
 * page-table entry is moved one by one: three times slower on a 2 GiB
 * buffer.)  kos_remap_to handles the failure of MREMAP_FIXED, which may
 * unmap its target first.  Shrinking protects the new guard page and unmaps
 * the tail in place.
 *
 * Freed areas are not unmapped at once (as the kernel's vmalloc purges
 * lazily): they wait in a small cache, most recent first, for the next huge
 * allocation, which takes the smallest one that is large enough and gives
 * back its tail (a new guard page, the rest unmapped), or, when none is
 * large enough, moves the pages of the largest ones, largest first, into a
 * new 2 MiB aligned mapping whose rest is fresh (mremap, as tcmalloc serves
 * a large request from any free spans); either way the pages it reuses are
 * not faulted in again.  A large tail of a reused area stays cached as an
 * area of its own.  The cache holds at most VMAP_CACHE_SLOTS areas and a
 * quarter of ktune.dirty_max bytes (or of the huge bytes in use, when that
 * is more); an area that waited KDECAY_NS is unmapped by the next huge
 * allocation or free, and malloc_trim and reclaim unmap them all
 * (kvm_purge).  A reused area is not zero: kvm_alloc says so.
 *
 * An area built so is several mappings (VMAs) to the kernel, and before
 * Linux 6.17 one mremap moves a range within one VMA only (EFAULT
 * otherwise): each area records its pieces (at most VMAP_PIECES), moves
 * them one by one, and is copied, not moved, when it must grow.  Any other
 * area is one mapping and stays one: a grow moves and extends it with one
 * mremap, a shrink or a split only cuts it.
 *
 * Hardened (KALLOC_HARDEN, the default), free moves the area's pages to a
 * fresh place at once (area_move) and keeps the freed range reserved with
 * no access for the next VMAP_QUARANTINE frees, so an access after free
 * faults; the cache then works as above, on the moved pages.
 *
 * Locking: vmap_lock, a leaf, protects the hash table, the cache, the
 * quarantine ring and the free area records; no syscall is made with it
 * held.  Areas are taken out of the table (or the cache) before they are
 * unmapped, resized or moved.  The area records come from pools of their
 * own between guard pages (area_new).
 */
#include "vmalloc.h"

#include <errno.h>
#include <string.h>

#define VMAP_ALIGN   (2UL << 20)
#define VMAP_BUCKETS 1024

#define VMAP_CACHE_SLOTS 16
#define VMAP_CACHE_FRACTION 4               /* of the huge bytes in use, at most */
#define VMAP_TAIL_MIN (KMAX_ORDER_SIZE / 2) /* a smaller tail is unmapped, not kept */

#define VMAP_PIECES 16   /* mappings (VMAs) one area may be made of */

struct vmap_area {
	uintptr_t addr;
	size_t size;            /* usable bytes (page multiple); the guard follows */
	struct vmap_area *next; /* hash chain, or the cache list */
	uint64_t freed_ns;      /* in the cache: when it was freed */
	unsigned npieces;       /* the VMAs it is made of, 1..VMAP_PIECES */
	size_t end[VMAP_PIECES];   /* where each ends, in bytes from addr; the last at size */
};

/* Hardened: the address ranges of the last VMAP_QUARANTINE freed areas
 * stay reserved, PROT_NONE and empty (their pages moved to the cache), so
 * no mapping (a later huge block) lands there while they wait. */
#define VMAP_QUARANTINE 16

struct vmap_range {
	uintptr_t addr;
	size_t len;
};

static klock_t vmap_lock = KLOCK_INIT;
static struct vmap_area *vmap_table[VMAP_BUCKETS];
static size_t vmap_count, vmap_bytes;
static struct vmap_area *vcache;   /* freed areas, most recent first */
static size_t vcache_count, vcache_bytes;
static struct vmap_area *vrec_free;   /* free area records */
static struct vmap_range vquar[VMAP_QUARANTINE];   /* a ring, oldest at vquar_head */
static unsigned vquar_head, vquar_count;

static inline unsigned bucket(uintptr_t addr)
{
	uint64_t h = (uint64_t)(addr >> 21) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 54) & (VMAP_BUCKETS - 1);
}

/* KALLOC_DEBUG's fault reporter asks, in its signal handler, whether addr
 * lies in a quarantined range: the ring is read without the lock (a range
 * being replaced may be missed, or named as the fault ends the process). */
static bool freed_lookup(uintptr_t addr, uintptr_t *start, size_t *len)
{
	for (unsigned i = 0; i < VMAP_QUARANTINE; i++) {
		uintptr_t s = __atomic_load_n(&vquar[i].addr, __ATOMIC_RELAXED);
		size_t n = __atomic_load_n(&vquar[i].len, __ATOMIC_RELAXED);
		if (n > PAGE_SIZE && addr - s < n - PAGE_SIZE) {
			*start = s;
			*len = n - PAGE_SIZE;
			return true;
		}
	}
	return false;
}

void kvm_init(void)
{
	if ((ktune.debug_flags && ktune.harden != KHARDEN_OFF) || ktune.harden == KHARDEN_FULL)
		kreport_fault_freed(freed_lookup);
}

/* Area records come from pools of their own, each mapped between guard
 * pages (kos_map_guarded), not from a slab: slab pages lie among the
 * program's objects, and a run off the end of one could rewrite an area's
 * address and size, which free would then unmap.  A free list under
 * vmap_lock; pools are never unmapped (a few KiB per hundred areas). */
#define VREC_POOL (64UL << 10)

static struct vmap_area *area_new(void)
{
	for (;;) {
		klock(&vmap_lock);
		struct vmap_area *a = vrec_free;
		if (a)
			vrec_free = a->next;
		kunlock(&vmap_lock);
		if (a)
			return a;
		struct vmap_area *pool = kos_map_guarded(VREC_POOL, PAGE_SIZE, true);
		if (!pool)
			return NULL;
		klock(&vmap_lock);
		for (size_t i = 0; i < VREC_POOL / sizeof *pool; i++) {
			pool[i].next = vrec_free;
			vrec_free = &pool[i];
		}
		kunlock(&vmap_lock);
	}
}

static void area_free(struct vmap_area *a)
{
	klock(&vmap_lock);
	a->next = vrec_free;
	vrec_free = a;
	kunlock(&vmap_lock);
}

static void insert(struct vmap_area *a)
{
	unsigned b = bucket(a->addr);
	klock(&vmap_lock);
	a->next = vmap_table[b];
	vmap_table[b] = a;
	vmap_count++;
	vmap_bytes += a->size;
	kunlock(&vmap_lock);
}

/* Takes the area starting at p out of the table; NULL if none. */
static struct vmap_area *take(uintptr_t p)
{
	unsigned b = bucket(p);
	klock(&vmap_lock);
	struct vmap_area **pp = &vmap_table[b];
	while (*pp && (*pp)->addr != p)
		pp = &(*pp)->next;
	struct vmap_area *a = *pp;
	if (a) {
		*pp = a->next;
		vmap_count--;
		vmap_bytes -= a->size;
	}
	kunlock(&vmap_lock);
	return a;
}

static void cache_put(struct vmap_area *a);

/* The memory limit (page_alloc.h) charges the usable bytes of every area
 * mapped, in use or cached: charged before they are mapped (vm_charge
 * fails above the limit, after the reclaim the GFP flags allow), uncharged
 * when they are unmapped. */
static bool vm_charge(size_t bytes, gfp_t gfp)
{
	size_t pages = bytes >> PAGE_SHIFT;
	unsigned tries = 0;
	while (!kmem_reserve(pages, gfp))
		if (!kmem_retry(gfp, pages, &tries))
			return false;
	kmem_vm_charge((long)pages);
	kmem_unreserve(pages);
	return true;
}

static void vm_uncharge(size_t bytes)
{
	kmem_vm_charge(-(long)(bytes >> PAGE_SHIFT));
}

/* Unmaps areas (no lock held) and frees their records. */
static void unmap_list(struct vmap_area *a)
{
	while (a) {
		struct vmap_area *next = a->next;
		kos_unmap((void *)a->addr, a->size + PAGE_SIZE);
		vm_uncharge(a->size);
		area_free(a);
		a = next;
	}
}

/* Under vmap_lock: takes out of the cache what is beyond its bounds or
 * older than KDECAY_NS (everything when `all`), chained for unmap_list. */
static struct vmap_area *cache_trim_locked(bool all)
{
	struct vmap_area *dead = NULL, **pp = &vcache;
	uint64_t now = all ? 0 : kos_now_ns();
	size_t budget = KMAX(ktune.dirty_max / 4, vmap_bytes / VMAP_CACHE_FRACTION);
	size_t count = 0, bytes = 0;
	while (*pp) {
		struct vmap_area *a = *pp;
		bool keep = !all && now - a->freed_ns < KDECAY_NS && count < VMAP_CACHE_SLOTS &&
		            bytes + a->size <= budget;
		if (keep) {
			count++;
			bytes += a->size;
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		vcache_count--;
		vcache_bytes -= a->size;
		a->next = dead;
		dead = a;
	}
	return dead;
}

/* The pieces: an area is one mapping when made, and stays one when cut or
 * grown (a grow moves and extends it with one mremap); one built out of
 * cached areas (assemble) is several, whose bounds are kept, since before
 * Linux 6.17 one mremap moves a range within one VMA only. */
static void pieces_one(struct vmap_area *a)
{
	a->npieces = 1;
	a->end[0] = a->size;
}

/* Cuts a's pieces at len (0 < len <= size). */
static void pieces_cut(struct vmap_area *a, size_t len)
{
	unsigned i = 0;
	while (a->end[i] < len)
		i++;
	a->end[i] = len;
	a->npieces = i + 1;
}

/* Takes a's first `from` bytes away (0 < from < size): a starts there. */
static void pieces_drop_front(struct vmap_area *a, size_t from)
{
	unsigned k = 0;
	for (unsigned i = 0; i < a->npieces; i++)
		if (a->end[i] > from)
			a->end[k++] = a->end[i] - from;
	a->npieces = k;
	a->addr += from;
	a->size -= from;
}

/* Gives area a (out of every list) exactly len usable bytes: the tail goes
 * back (a new guard, the rest unmapped), or the mapping grows by mremap,
 * moving to a new aligned place (an area of several pieces is copied
 * instead).  False, with a intact, when the OS refuses. */
static bool area_resize(struct vmap_area *a, size_t len)
{
	char *p = (char *)a->addr;
	if (len > a->size && !vm_charge(len - a->size, GFP_KERNEL))
		return false;
	if (len < a->size) {
		/* New guard first, then drop the rest (the old guard with it). */
		kos_protect_none(p + len, PAGE_SIZE);
		kos_unmap(p + len + PAGE_SIZE, a->size - len);
		vm_uncharge(a->size - len);
		pieces_cut(a, len);
	} else if (len > a->size && a->npieces > 1) {
		/* Several mappings: one mremap cannot move them together. */
		char *n = kos_map(len + PAGE_SIZE, VMAP_ALIGN, false, 0);
		if (!n) {
			vm_uncharge(len - a->size);
			return false;
		}
		memcpy(n, p, a->size);
		kos_protect_none(n + len, PAGE_SIZE);
		kos_unmap(p, a->size + PAGE_SIZE);
		a->addr = (uintptr_t)n;
		a->size = len;
		pieces_one(a);
	} else if (len > a->size) {
		/* The pages move (page tables, no copy) into a new 2 MiB
		 * aligned reservation of len bytes and a guard: aligned at
		 * both ends, the kernel moves whole page-table pages instead
		 * of every entry.  The data's mapping only: the old guard
		 * page is a mapping of its own (another protection). */
		char *t = kos_map(len + PAGE_SIZE, VMAP_ALIGN, true, 0);
		if (!t) {
			vm_uncharge(len - a->size);
			return false;
		}
		char *n = kos_remap_to(p, a->size, len, t);
		if (!n) {
			kos_unmap(t + len, PAGE_SIZE);
			vm_uncharge(len - a->size);
			return false;
		}
		kos_protect_none(n + len, PAGE_SIZE);
		kos_unmap(p + a->size, PAGE_SIZE);   /* the old guard */
		a->addr = (uintptr_t)n;
		a->end[0] = len;
	}
	a->size = len;
	return true;
}

/* Cached areas for len bytes aligned to align: the smallest that is large
 * enough, else (when 2 MiB alignment will do: they are moved into a new
 * aligned place) the largest ones, largest first, while they do not cover
 * len and their pieces, with one for the fresh rest, number at most
 * VMAP_PIECES; chained by ->next.  Their pages are reused (a fresh mapping
 * would fault in all of them).  Taken out of the cache, or NULL. */
static struct vmap_area *cache_take(size_t len, size_t align, struct vmap_area **dead)
{
	klock(&vmap_lock);
	*dead = cache_trim_locked(false);
	struct vmap_area **best = NULL;
	for (struct vmap_area **pp = &vcache; *pp; pp = &(*pp)->next) {
		struct vmap_area *a = *pp;
		if ((a->addr & (align - 1)) == 0 && a->size >= len && (!best || a->size < (*best)->size))
			best = pp;
	}
	struct vmap_area *chain = NULL, **tail = &chain;
	size_t got = 0;
	unsigned pieces = 0;
	while (got < len && (best || align <= VMAP_ALIGN)) {
		struct vmap_area **pick = best;
		for (struct vmap_area **pp = &vcache; !best && *pp; pp = &(*pp)->next)
			if (pieces + (*pp)->npieces + 1 <= VMAP_PIECES && (!pick || (*pp)->size > (*pick)->size))
				pick = pp;
		if (!pick)
			break;
		struct vmap_area *a = *pick;
		*pick = a->next;
		vcache_count--;
		vcache_bytes -= a->size;
		a->next = NULL;
		*tail = a;
		tail = &a->next;
		got += a->size;
		pieces += a->npieces;
		best = NULL;
	}
	kunlock(&vmap_lock);
	return chain;
}

/* Builds a huge area of len bytes out of cached areas (a chain from
 * cache_take, together smaller than len, or about len): a new 2 MiB aligned
 * mapping, into which their pieces move, one mremap each (page tables move;
 * nothing is copied or faulted in); what the last one has beyond len goes
 * back to the cache, or the last piece grows over the rest, which is fresh
 * (so one cached area too small makes an area of one mapping).  The area,
 * in the table; NULL, with what was not moved back in the cache, where the
 * OS refuses (the pieces hold no data: nothing is lost). */
static struct vmap_area *assemble(struct vmap_area *chain, size_t len)
{
	struct vmap_area *a = area_new();
	char *t = a ? kos_map(len + PAGE_SIZE, VMAP_ALIGN, false, 0) : NULL;
	size_t off = 0;
	unsigned np = 0;
	while (chain && t && off < len) {
		struct vmap_area *b = chain;
		chain = b->next;
		b->next = NULL;
		size_t used = 0;   /* of b, moved */
		for (unsigned i = 0; i < b->npieces && off < len; i++) {
			size_t n = KMIN(b->end[i] - used, len - off);
			/* the last piece of all grows over the fresh rest:
			 * one mapping less */
			size_t grow = !chain && i == b->npieces - 1 ? len - off - n : 0;
			kmem_vm_charge((long)(grow >> PAGE_SHIFT));
			if (!kos_remap_to((char *)b->addr + used, n, n + grow, t + off)) {
				/* The hole at t + off is dealt with; the
				 * pages moved are unmapped (free pages:
				 * nothing is lost). */
				vm_uncharge(off + grow);
				if (off)
					kos_unmap(t, off);
				kos_unmap(t + off + n + grow, len + PAGE_SIZE - off - n - grow);
				t = NULL;
				break;
			}
			a->end[np++] = off + n + grow;
			off += n + grow;
			used += n;
		}
		if (used == b->size) {
			kos_unmap((char *)b->addr + used, PAGE_SIZE);   /* its guard */
			area_free(b);
			continue;
		}
		/* the rest of it, after its own guard, stays cached */
		if (used)
			pieces_drop_front(b, used);
		if (b->size < VMAP_TAIL_MIN)
			unmap_list(b);
		else
			cache_put(b);
	}
	while (chain) {
		struct vmap_area *b = chain;
		chain = b->next;
		b->next = NULL;
		cache_put(b);
	}
	if (!t) {
		if (a)
			area_free(a);
		return NULL;
	}
	if (off < len) {
		a->end[np++] = len;   /* the fresh rest */
		kmem_vm_charge((long)((len - off) >> PAGE_SHIFT));
	}
	a->npieces = np;
	kos_protect_none(t + len, PAGE_SIZE);
	a->addr = (uintptr_t)t;
	a->size = len;
	insert(a);
	return a;
}

void *kvm_alloc(size_t size, size_t align, gfp_t gfp, bool *zeroed)
{
	if (!(gfp & __GFP_DIRECT_RECLAIM))
		return NULL;   /* mapping is a syscall */
	if (size == 0)
		size = 1;
	if (size > (size_t)PTRDIFF_MAX - 2 * PAGE_SIZE)
		return NULL;
	size_t len = KALIGN_UP(size, PAGE_SIZE);
	/* A reused area need only be aligned as asked; a fresh one is at
	 * least 2 MiB aligned (huge-page friendly). */
	align = KMAX(align, PAGE_SIZE);
	struct vmap_area *dead, *a = cache_take(len, align, &dead);
	unmap_list(dead);
	if (a && !a->next && a->size >= len && (a->addr & (align - 1)) == 0) {
		/* A large tail stays cached as an area of its own, after a new
		 * guard page (the old guard stays its guard): its pages are not
		 * faulted in again. */
		struct vmap_area *t = a->size >= len + PAGE_SIZE + VMAP_TAIL_MIN ? area_new() : NULL;
		if (t) {
			kos_protect_none((char *)a->addr + len, PAGE_SIZE);
			*t = *a;
			t->next = NULL;
			pieces_drop_front(t, len + PAGE_SIZE);
			a->size = len;
			pieces_cut(a, len);
			cache_put(t);
		}
		area_resize(a, len);   /* shrinking does not fail */
		insert(a);
		*zeroed = false;
		return (void *)a->addr;
	}
	if (a && atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed) != 0) {
		/* Under a limit, areas are not assembled (its fresh part
		 * would be charged without a reservation): back they go. */
		while (a) {
			struct vmap_area *b = a;
			a = b->next;
			b->next = NULL;
			cache_put(b);
		}
	}
	if (a) {
		a = assemble(a, len);
		if (a) {
			*zeroed = false;
			return (void *)a->addr;
		}
	}
	if (!vm_charge(len, gfp))
		return NULL;
	a = area_new();
	void *p = a ? kos_map(len + PAGE_SIZE, KMAX(align, VMAP_ALIGN), false, 0) : NULL;
	if (!p) {
		if (a)
			area_free(a);
		vm_uncharge(len);
		return NULL;
	}
	kos_protect_none((char *)p + len, PAGE_SIZE);
	a->addr = (uintptr_t)p;
	a->size = len;
	pieces_one(a);
	insert(a);
	*zeroed = true;
	return p;
}

/* Puts area a (out of the table) in the cache, and unmaps what that
 * pushes beyond the cache's bounds. */
static void cache_put(struct vmap_area *a)
{
	klock(&vmap_lock);
	a->next = vcache;
	vcache = a;
	vcache_count++;
	vcache_bytes += a->size;
	struct vmap_area *dead = cache_trim_locked(false);
	kunlock(&vmap_lock);
	unmap_list(dead);
}

/* Quarantines the range [addr, addr + len), reserved PROT_NONE: the
 * oldest one goes (unmapped) when the ring is full. */
static void quarantine(uintptr_t addr, size_t len)
{
	struct vmap_range out = { 0, 0 };
	klock(&vmap_lock);
	if (vquar_count == VMAP_QUARANTINE) {
		out = vquar[vquar_head];
		__atomic_store_n(&vquar[vquar_head].len, 0, __ATOMIC_RELAXED);
		vquar_head = (vquar_head + 1) % VMAP_QUARANTINE;
		vquar_count--;
	}
	struct vmap_range *r = &vquar[(vquar_head + vquar_count++) % VMAP_QUARANTINE];
	__atomic_store_n(&r->len, 0, __ATOMIC_RELAXED);   /* (freed_lookup reads without the lock) */
	__atomic_store_n(&r->addr, addr, __ATOMIC_RELAXED);
	__atomic_store_n(&r->len, len, __ATOMIC_RELAXED);
	kunlock(&vmap_lock);
	if (out.len)
		kos_unmap((void *)out.addr, out.len);
}

/* Hardened free: moves the pages of area a (out of every list) to a fresh
 * 2 MiB aligned place behind a new guard page, one mremap per piece (page
 * tables move, nothing is copied or faulted in); the freed range is
 * reserved again, empty and PROT_NONE, and quarantined with its guard, so
 * any access through a pointer into it faults, no mapping lands there for
 * the next VMAP_QUARANTINE frees, and the cached pages sit where no
 * pointer of the program points.  (An area too large for the cache is
 * moved too, then unmapped by cache_put: a reservation and a mremap per
 * piece wasted, no page touched.)  False when the OS refuses (the
 * reservation, a move): then a is partly moved, and the caller unmaps it
 * (no data is lost: it is free). */
static bool area_move(struct vmap_area *a)
{
	char *t = kos_map(a->size + PAGE_SIZE, VMAP_ALIGN, true, 0);
	if (!t)
		return false;
	char *old = (char *)a->addr;
	size_t from = 0;
	for (unsigned i = 0; i < a->npieces; i++) {
		size_t n = a->end[i] - from;
		if (!kos_remap_to(old + from, n, n, t + from)) {
			kos_unmap(t, a->size + PAGE_SIZE);   /* what moved, and the rest */
			return false;
		}
		from = a->end[i];
	}
	kos_protect_none(t + a->size, PAGE_SIZE);
	/* The old range, emptied, is reserved again with its guard (a
	 * mapping another thread made in the moment between is left alone:
	 * the guard goes and the range stays theirs). */
	if (kos_reserve_at(old, a->size))
		quarantine((uintptr_t)old, a->size + PAGE_SIZE);
	else
		kos_unmap(old + a->size, PAGE_SIZE);
	a->addr = (uintptr_t)t;
	return true;
}

bool kvm_free(const void *p)
{
	if (((uintptr_t)p & (PAGE_SIZE - 1)) != 0)
		return false;
	struct vmap_area *a = take((uintptr_t)p);
	if (!a)
		return false;
	a->next = NULL;
	/* Hardened: the pages leave the freed range at once (which then
	 * faults); where the OS refuses, the area is unmapped instead. */
	if (ktune.harden != KHARDEN_OFF && !area_move(a)) {
		unmap_list(a);
		return true;
	}
	a->freed_ns = kos_now_ns();
	cache_put(a);
	return true;
}

size_t kvm_purge(void)
{
	struct vmap_range q[VMAP_QUARANTINE];
	unsigned nq;
	klock(&vmap_lock);
	struct vmap_area *dead = cache_trim_locked(true);
	for (nq = 0; vquar_count; nq++, vquar_count--) {
		q[nq] = vquar[vquar_head];
		__atomic_store_n(&vquar[vquar_head].len, 0, __ATOMIC_RELAXED);
		vquar_head = (vquar_head + 1) % VMAP_QUARANTINE;
	}
	kunlock(&vmap_lock);
	size_t bytes = 0;
	/* (address space only: the reclaim hook counts it, since a mapping
	 * refused under RLIMIT_AS may fit again) */
	for (unsigned i = 0; i < nq; i++) {
		kos_unmap((void *)q[i].addr, q[i].len);
		bytes += q[i].len;
	}
	for (struct vmap_area *a = dead; a; a = a->next)
		bytes += a->size + PAGE_SIZE;
	unmap_list(dead);
	return bytes;
}

size_t kvm_usable(const void *p)
{
	if (((uintptr_t)p & (PAGE_SIZE - 1)) != 0)
		return 0;
	size_t n = 0;
	unsigned b = bucket((uintptr_t)p);
	klock(&vmap_lock);
	for (struct vmap_area *a = vmap_table[b]; a; a = a->next)
		if (a->addr == (uintptr_t)p) {
			n = a->size;
			break;
		}
	kunlock(&vmap_lock);
	return n;
}

bool kvm_contains(const void *p)
{
	bool found = false;
	klock(&vmap_lock);
	for (unsigned b = 0; b < VMAP_BUCKETS && !found; b++)
		for (struct vmap_area *a = vmap_table[b]; a; a = a->next)
			if ((uintptr_t)p >= a->addr && (uintptr_t)p < a->addr + a->size + PAGE_SIZE) {
				found = true;
				break;
			}
	kunlock(&vmap_lock);
	return found;
}

void *kvm_start(const void *p)
{
	uintptr_t start = 0;
	klock(&vmap_lock);
	for (unsigned b = 0; b < VMAP_BUCKETS && !start; b++)
		for (struct vmap_area *a = vmap_table[b]; a; a = a->next)
			if ((uintptr_t)p >= a->addr && (uintptr_t)p < a->addr + a->size) {
				start = a->addr;
				break;
			}
	kunlock(&vmap_lock);
	return (void *)start;
}

void *kvm_realloc(void *p, size_t size)
{
	struct vmap_area *a = take((uintptr_t)p);
	if (!a)
		kbad_pointer(p, "realloc", "not allocated by kalloc");
	bool ok = area_resize(a, KALIGN_UP(size, PAGE_SIZE));
	insert(a);
	return ok ? (void *)a->addr : NULL;   /* on failure the old area is intact */
}

void kvm_totals(size_t *count, size_t *bytes, size_t *cached)
{
	klock(&vmap_lock);
	*count = vmap_count;
	*bytes = vmap_bytes;
	*cached = vcache_bytes;
	kunlock(&vmap_lock);
}

void kvm_fork_prepare(void) { klock(&vmap_lock); }
void kvm_fork_parent(void) { kunlock(&vmap_lock); }
void kvm_fork_child(void) { klock_reinit(&vmap_lock); }

void kvm_foreach(void (*fn)(uintptr_t addr, size_t size, void *arg), void *arg)
{
	klock(&vmap_lock);
	for (unsigned b = 0; b < VMAP_BUCKETS; b++)
		for (struct vmap_area *a = vmap_table[b]; a; a = a->next)
			fn(a->addr, a->size, arg);
	kunlock(&vmap_lock);
}

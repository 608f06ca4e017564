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
 * Growing (realloc) resizes the data's mapping with mremap(MREMAP_MAYMOVE)
 * to the new size plus one page, which becomes the new guard: page tables
 * move, the data is not copied, and the kernel chooses the place (a moved
 * area is page aligned, not necessarily 2 MiB aligned).  The old guard page
 * stays behind and is unmapped.  No MREMAP_FIXED into a reserved range: it
 * unmaps its target before it can fail, and another thread could map into
 * that hole before the reservation is cleaned up.  Shrinking protects the
 * new guard page and unmaps the tail in place.
 *
 * Locking: vmap_lock, a leaf, protects the hash table; no syscall is made
 * with it held.  Areas are taken out of the table before they are unmapped
 * or moved.  The area records come from a static slab cache set up at
 * initialisation (kvm_init).
 */
#include "vmalloc.h"

#include <errno.h>
#include <string.h>

#define VMAP_ALIGN   (2UL << 20)
#define VMAP_BUCKETS 1024

struct vmap_area {
	uintptr_t addr;
	size_t size;            /* usable bytes (page multiple); the guard follows */
	struct vmap_area *next;
};

static klock_t vmap_lock = KLOCK_INIT;
static struct vmap_area *vmap_table[VMAP_BUCKETS];
static size_t vmap_count, vmap_bytes;
static struct kmem_cache vmap_cache;

static inline unsigned bucket(uintptr_t addr)
{
	uint64_t h = (uint64_t)(addr >> 21) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 54) & (VMAP_BUCKETS - 1);
}

void kvm_init(void)
{
	kcache_init(&vmap_cache, "vmap_area", sizeof(struct vmap_area), 0, 0, NULL);
}

static struct vmap_area *area_new(void)
{
	void *obj;
	return kslab_alloc_bulk(&vmap_cache, GFP_KERNEL, 1, &obj) == 1 ? obj : NULL;
}

static void area_free(struct vmap_area *a)
{
	kslab_free_bulk(&vmap_cache, 1, (void *const *)&a);
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

void *kvm_alloc(size_t size, size_t align, gfp_t gfp)
{
	if (!(gfp & __GFP_DIRECT_RECLAIM))
		return NULL;   /* mapping is a syscall */
	if (size == 0)
		size = 1;
	if (size > (size_t)PTRDIFF_MAX - 2 * PAGE_SIZE)
		return NULL;
	size_t len = KALIGN_UP(size, PAGE_SIZE);
	align = KMAX(align, VMAP_ALIGN);
	struct vmap_area *a = area_new();
	if (!a)
		return NULL;
	void *p = kos_map(len + PAGE_SIZE, align, false, 0);
	if (!p) {
		area_free(a);
		return NULL;
	}
	kos_protect_none((char *)p + len, PAGE_SIZE);
	a->addr = (uintptr_t)p;
	a->size = len;
	insert(a);
	return p;
}

bool kvm_free(const void *p)
{
	if (((uintptr_t)p & (PAGE_SIZE - 1)) != 0)
		return false;
	struct vmap_area *a = take((uintptr_t)p);
	if (!a)
		return false;
	kos_unmap((void *)a->addr, a->size + PAGE_SIZE);
	area_free(a);
	return true;
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

void *kvm_realloc(void *p, size_t size)
{
	struct vmap_area *a = take((uintptr_t)p);
	if (!a)
		kbad_pointer(p, "realloc", "not allocated by kalloc");
	size_t len = KALIGN_UP(size, PAGE_SIZE);
	if (len <= a->size) {
		if (len < a->size) {
			/* New guard first, then drop the rest. */
			kos_protect_none((char *)p + len, PAGE_SIZE);
			kos_unmap((char *)p + len + PAGE_SIZE, a->size - len);
			a->size = len;
		}
		insert(a);
		return p;
	}
	/* The data's mapping only: the guard page after it is a mapping of its
	 * own (another protection), which mremap could not take along. */
	void *n = kos_remap(p, a->size, len + PAGE_SIZE);
	if (!n) {
		insert(a);
		return NULL;   /* the old area is intact */
	}
	kos_protect_none((char *)n + len, PAGE_SIZE);
	if (n != p)
		kos_unmap((char *)p + a->size, PAGE_SIZE);   /* the old guard */
	a->addr = (uintptr_t)n;
	a->size = len;
	insert(a);
	return n;
}

void kvm_totals(size_t *count, size_t *bytes)
{
	klock(&vmap_lock);
	*count = vmap_count;
	*bytes = vmap_bytes;
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

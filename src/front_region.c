/* SPDX-License-Identifier: MIT */
/*
 * front_region.c - front caches: the layout of a region, the views, and
 * flushing a stack back to the slabs.  (front.h has the design; rseq.h the
 * layout the sequences read.)
 *
 * Every region has the same layout, in both modes: KPCPU_HDR_WORDS words
 * of headers and accounting, then for each front index a NULL sentinel word
 * and its reserved slots.  Reserved slots per index: per CPU, a kmalloc
 * class's hold KFRONT_CPU_BYTES worth of objects (clamped to
 * [KFRONT_SLOTS_MIN, KFRONT_CPU_SLOTS_MAX]: a 64-byte class 2048 objects, a
 * 32 KiB class 4); per thread KFRONT_THREAD_BYTES worth (at most
 * KFRONT_THREAD_SLOTS_MAX); a custom cache's slot KFRONT_CUSTOM_SLOTS_MAX,
 * of which it uses KFRONT_CUSTOM_BYTES worth.  The slot arrays take about
 * 160 KiB of address space per region, touched as they fill.
 */
#include "front_region.h"

/* Region -1 of the initial view: zeroed headers, on which every pop and
 * push misses. */
static uint64_t ksentinel[KFRONT_NR];
#define KPCPU_VIEW_INIT                                               \
	{                                                               \
		.cid_rel = offsetof(struct kfront_thread, none),          \
		.cs_rel = offsetof(struct kfront_thread, cs),             \
		.base = (char *)ksentinel + KPCPU_REGION,                 \
	}
struct kpcpu_view kpcpu __attribute__((aligned(32))) = KPCPU_VIEW_INIT;
struct kpcpu_view kpcpu_slow = KPCPU_VIEW_INIT;
__thread struct kfront_thread kfront_thr = { .slot = -1, .none = -1 };

int kfront_mode;   /* set by kfront_init (front.c) */
struct kmem_cache *kfront_cache[KFRONT_NR];
unsigned kfront_cap[KFRONT_NR];
unsigned kfront_thread_cap[KFRONT_CLASSES];
uint16_t kfront_begin[KFRONT_NR];
size_t kfront_layout_words;
unsigned kfront_nr_regions;

static unsigned clamp_slots(size_t bytes, size_t size, unsigned min, unsigned max)
{
	return (unsigned)KMIN(KMAX(bytes / size, (size_t)min), (size_t)max);
}

bool kfront_layout_setup(struct kmem_cache *classes, unsigned n)
{
	size_t words = KPCPU_HDR_WORDS;
	if (n > KFRONT_CLASSES)
		return false;
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		unsigned cap = KFRONT_CUSTOM_SLOTS_MAX;
		if (i < n) {
			struct kmem_cache *c = &classes[i];
			kfront_cache[i] = c;
			c->front_idx = (int16_t)i;
			if (c->pages) {
				/* Page blocks: a few slots reserved, none granted
				 * at first (kfront_initial_cap): a CPU's stacks
				 * grow within a budget of their own.  A thread
				 * keeps one block up to KFRONT_THREAD_PAGE_MAX
				 * (it holds its stacks until it exits). */
				cap = clamp_slots(KFRONT_PAGE_BYTES, c->size, 1, KFRONT_SLOTS_MIN * 2);
				kfront_thread_cap[i] = c->size <= KFRONT_THREAD_PAGE_MAX;
			} else if (kslab_debug(c)) {
				/* A debug class: no slots, so its pops and
				 * pushes always miss and go through the slab
				 * layer's checks (slab.c, "debugging"). */
				cap = 0;
				kfront_thread_cap[i] = 0;
			} else {
				cap = clamp_slots(KFRONT_CPU_BYTES, c->size, KFRONT_SLOTS_MIN, KFRONT_CPU_SLOTS_MAX);
				kfront_thread_cap[i] = clamp_slots(KFRONT_THREAD_BYTES, c->size, KFRONT_SLOTS_MIN,
				                                   KFRONT_THREAD_SLOTS_MAX);
			}
		} else if (i < KFRONT_CLASSES) {
			cap = 0;   /* a class index nobody registered */
		}
		kfront_cap[i] = cap;
		words += 1;   /* NULL sentinel */
		kfront_begin[i] = (uint16_t)words;
		words += cap;
	}
	kfront_layout_words = words;
	return words * sizeof(void *) <= KPCPU_REGION;
}

/* 8 KiB worth of objects, at least 2 and at most a quarter of the reserved
 * slots; none for page classes. */
unsigned kfront_initial_cap(unsigned idx)
{
	unsigned max = kfront_cap[idx];
	if (kfront_cache[idx]->pages || max == 0)
		return 0;   /* page blocks: granted on use, within their budget */
	size_t by_bytes = KFRONT_INITIAL_BYTES / kfront_cache[idx]->size;
	return (unsigned)KMIN(KMAX(by_bytes, (size_t)KMIN(2u, max)), (size_t)KMAX(max / 4, 1u));
}

/* A guard page below region -1: a run off the end of a mapping below
 * cannot reach its headers (the sentinel every thread without a region
 * uses).  None above: the per-thread mode grows the regions in place,
 * right after the last (front_thread.c). */
char *kfront_regions_map(unsigned n)
{
	char *m = kos_map(((size_t)(n + 1) << KPCPU_SHIFT) + PAGE_SIZE, PAGE_SIZE, true, 0);
	if (!m)
		return NULL;
	kos_protect_none(m, PAGE_SIZE);
	return m + PAGE_SIZE + KPCPU_REGION;
}

void kfront_regions_unmap(char *base, unsigned n)
{
	kos_unmap(base - KPCPU_REGION - PAGE_SIZE, ((size_t)(n + 1) << KPCPU_SHIFT) + PAGE_SIZE);
}

void kfront_region_flush(unsigned r, unsigned idx, bool put)
{
	struct kpcpu_hdr *h = kfront_hdr(r, idx);
	unsigned cur = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE), b = kfront_begin[idx];
	struct kmem_cache *c = kfront_cache[idx];
	/* Empty first, free after: a fork while the objects go back gives a
	 * child that sees their frees a stack that no longer lists them (it
	 * would free them again); fork copies a running thread's stores in
	 * order. */
	__atomic_store_n(&h->cur, (uint16_t)b, __ATOMIC_RELEASE);
	if (cur > b && c) {
		if (put)
			kslab_put_bulk(c, cur - b, kfront_slots(r) + b);
		else
			kslab_free_bulk(c, cur - b, kfront_slots(r) + b);
	}
}

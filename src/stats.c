/* SPDX-License-Identifier: MIT */
/*
 * stats.c - introspection: slabinfo, buddyinfo, vmallocinfo, front caches,
 * and the totals mallinfo reports.
 *
 * Each layer gives its numbers (a snapshot taken under its own lock, or a
 * walk under it with a callback that only formats); the text is formatted
 * into a kout buffer, memory mapped from the OS, and written after every
 * lock is dropped, so the report never allocates from the structures it
 * describes and never writes with a lock held.
 */
#include "stats.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* totals                                                              */
/* ------------------------------------------------------------------ */

struct slab_totals {
	size_t slab_bytes, obj_bytes, cached_blocks;
};

static void add_cache(struct kmem_cache *c, void *arg)
{
	struct slab_totals *t = arg;
	size_t live = kslab_live(c);
	size_t cached = c->front_idx >= 0 ? kfront_cached((unsigned)c->front_idx) : 0;
	if (c->pages) {
		/* page blocks, counted in the pages in use: less those cached */
		t->cached_blocks += cached * c->size;
		return;
	}
	t->slab_bytes += (c->nr_slabs * PAGE_SIZE) << c->order;
	t->obj_bytes += (live - KMIN(cached, live)) * c->size;
}

void kstats_totals(size_t *present, size_t *in_use, size_t *free_blocks)
{
	size_t p = 0, f = 0, b = 0;
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++) {
		struct kzone_stats z;
		kpage_zone_stats(i / KNR_ZONES, i % KNR_ZONES, &z);
		p += z.present;
		f += z.free;
		for (unsigned o = 0; o <= MAX_ORDER; o++)
			b += z.nr_free[o];
	}
	/* Pages not free are slabs or page blocks; of the slabs only the
	 * objects handed out (and not sitting in a front cache) are in use. */
	struct slab_totals t = { 0, 0, 0 };
	kslab_foreach(add_cache, &t);
	size_t used_pages = (p - f) << PAGE_SHIFT;
	*present = p << PAGE_SHIFT;
	size_t blocks = used_pages - KMIN(t.slab_bytes, used_pages);
	*in_use = blocks - KMIN(t.cached_blocks, blocks) + t.obj_bytes;
	*free_blocks = b;
}

/* ------------------------------------------------------------------ */
/* the report                                                          */
/* ------------------------------------------------------------------ */

static void slabinfo_line(struct kmem_cache *c, void *arg)
{
	struct kout *o = arg;
	size_t alloc = atomic_load(&c->nr_alloc_total), freed = atomic_load(&c->nr_free_total);
	size_t total = c->nr_slabs * c->objects;
	if (!total && alloc == 0)
		return;
	kout_printf(o, "slabinfo: %s %lu %lu %u %u %u\n", c->name, (unsigned long)(alloc - freed),
	            (unsigned long)total, c->size, (unsigned)c->objects, 1u << c->order);
}

static void slabinfo(struct kout *o)
{
	kout_printf(o, "slabinfo: # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>\n");
	size_t mark;
	do {
		mark = kout_mark(o);
		kslab_foreach(slabinfo_line, o);
	} while (kout_again(o, mark));
}

/* buddyinfo, as /proc/buddyinfo prints it (free blocks per order, one
 * line per node and zone that has memory), plus page counters. */
static void buddyinfo(struct kout *o)
{
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++) {
		struct kzone_stats z;
		kpage_zone_stats(i / KNR_ZONES, i % KNR_ZONES, &z);
		if (!z.present)
			continue;
		kout_printf(o, "buddyinfo: Node %u, zone %8s", i / KNR_ZONES, z.name);
		for (unsigned ord = 0; ord <= MAX_ORDER; ord++)
			kout_printf(o, " %6lu", (unsigned long)z.nr_free[ord]);
		kout_printf(o, "  (present %lu KiB, free %lu KiB, free backed <= %lu KiB, released %lu KiB)\n",
		            (unsigned long)(z.present << 2), (unsigned long)(z.free << 2),
		            (unsigned long)(z.dirty << 2), (unsigned long)(z.released << 2));
	}
}

struct vm_walk {
	struct kout *o;
	size_t count, bytes;
};

static void vmalloc_line(uintptr_t addr, size_t size, void *arg)
{
	struct vm_walk *w = arg;
	kout_printf(w->o, "vmallocinfo: %p-%p %lu bytes (+ guard page)\n", (void *)addr, (void *)(addr + size),
	            (unsigned long)size);
	w->count++;
	w->bytes += size;
}

/* vmallocinfo: one line per area, as /proc/vmallocinfo, then a total. */
static void vmallocinfo(struct kout *o)
{
	struct vm_walk w;
	size_t mark;
	do {
		mark = kout_mark(o);
		w = (struct vm_walk){ o, 0, 0 };
		kvm_foreach(vmalloc_line, &w);
	} while (kout_again(o, mark));
	size_t count, bytes, cached;
	kvm_totals(&count, &bytes, &cached);
	kout_printf(o, "vmallocinfo: %lu areas, %lu bytes; freed areas kept for reuse: %lu bytes\n",
	            (unsigned long)w.count, (unsigned long)w.bytes, (unsigned long)cached);
}

static void frontinfo(struct kout *o)
{
	bool rseq = kfront_mode == KF_RSEQ;
	kout_printf(o, "front caches: %s\n", kfront_mode_name());
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		struct kfront_stats st;
		kfront_stats(i, &st);
		if (!st.cache || (!st.cached && !st.allocs && !st.frees))
			continue;
		kout_printf(o, "front cache %s: capacity %u (max %u per %s), cached %lu objects on %lu %s", st.cache->name,
		            st.capacity, st.max, rseq ? "CPU" : "thread", (unsigned long)st.cached,
		            (unsigned long)st.regions, rseq ? "CPUs" : "threads (this one)");
		if (st.allocs || st.frees) {
			uint64_t a = st.allocs, f = st.frees;
			unsigned long ah = a ? (unsigned long)((a - st.alloc_misses) * 1000 / a) : 0;
			unsigned long fh = f ? (unsigned long)((f - st.free_misses) * 1000 / f) : 0;
			kout_printf(o, ", alloc %lu hit %lu.%lu%%, free %lu hit %lu.%lu%%", (unsigned long)a, ah / 10, ah % 10,
			            (unsigned long)f, fh / 10, fh % 10);
		}
		kout_printf(o, "\n");
	}
}

/* One cgroup v2 memory file of this process's cgroup ("max", a number, or
 * "" when there is none), into buf. */
static void cgroup_value(const char *file, char *buf, size_t len)
{
	char cg[512], path[640];
	buf[0] = '\0';
	if (!kos_read_file("/proc/self/cgroup", cg, sizeof cg))
		return;
	/* v2: the line "0::/path" */
	const char *p = cg;
	while (*p && !(p[0] == '0' && p[1] == ':' && p[2] == ':'))
		while (*p && *p++ != '\n')
			;
	if (!*p)
		return;
	p += 3;
	size_t n = 0;
	const char *pre = "/sys/fs/cgroup";
	while (*pre && n < sizeof path - 1)
		path[n++] = *pre++;
	while (*p && *p != '\n' && n < sizeof path - 1)
		path[n++] = *p++;
	if (n && path[n - 1] != '/' && n < sizeof path - 1)
		path[n++] = '/';
	for (const char *f = file; *f && n < sizeof path - 1;)
		path[n++] = *f++;
	path[n] = '\0';
	size_t got = kos_read_file(path, buf, len);
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
}

/* The memory limit, what is charged against it, and the cgroup's limits
 * (reported, not applied: a cgroup counts all of the process's memory, not
 * only kalloc's, so kalloc does not take it as its own limit). */
static void limitinfo(struct kout *o)
{
	size_t limit = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed);
	kout_printf(o, "memory: charged %lu KiB, limit ", (unsigned long)(kmem_charged() << 2));
	if (limit)
		kout_printf(o, "%lu KiB", (unsigned long)(limit << 2));
	else
		kout_printf(o, "none");
	char max[64], high[64];
	cgroup_value("memory.max", max, sizeof max);
	cgroup_value("memory.high", high, sizeof high);
	if ((max[0] && strcmp(max, "max")) || (high[0] && strcmp(high, "max")))
		kout_printf(o, "; cgroup memory.max %s, memory.high %s (not applied: KALLOC_LIMIT sets kalloc's)",
		            max[0] ? max : "-", high[0] ? high : "-");
	kout_printf(o, "\n");
}

void kstats_print(int fd)
{
	struct kout o;
	kout_init(&o);
	slabinfo(&o);
	buddyinfo(&o);
	vmallocinfo(&o);
	frontinfo(&o);
	limitinfo(&o);
	kout_flush(&o, fd);
	kout_done(&o);
}

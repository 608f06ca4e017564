/* SPDX-License-Identifier: MIT */
/*
 * stats.c - introspection: one snapshot of every layer's numbers
 * (stats_snap.h), and the reports made from it: slabinfo, buddyinfo,
 * vmallocinfo, the front caches, the memory limit and the totals, as text
 * or JSON; mallinfo2, malloc_stats and malloc_info (malloc.c) and the
 * shared-memory segment kalloc-top reads (prof.c) take the same snapshot.
 *
 * Each layer gives its numbers (a snapshot taken under its own lock, or a
 * walk under it with a callback that only copies); the snapshot lives in
 * memory mapped from the OS (kos_map), residency is asked of the OS
 * (mincore) after every lock is dropped, and the text is formatted into a
 * kout buffer, also mapped from the OS, and written with no lock held.  So
 * a report never allocates from the structures it describes and never
 * makes a system call under a lock.
 *
 * Definitions (docs/introspection.md):
 *   active_objs  objects handed out to the program (taken from the slabs,
 *                less those sitting in front caches);
 *   mapped       pages of the chunks present, plus huge areas and the huge
 *                areas kept for reuse;
 *   resident     of the mapped bytes, those in memory, from mincore(2) over
 *                kalloc's own ranges (not /proc/self/smaps_rollup, which
 *                counts the whole process);
 *   in use       slab objects and page blocks handed out, and huge areas;
 *   cached       objects and page blocks held in front caches;
 *   fragmentation  1 - in use / resident.
 */
#include "stats.h"

#include <string.h>

_Static_assert(KSNAP_ORDERS == MAX_ORDER + 1, "the snapshot has every buddy order");
_Static_assert(KSNAP_NAME >= KCACHE_NAME_LEN, "a cache name fits the snapshot");

/* ------------------------------------------------------------------ */
/* the snapshot                                                        */
/* ------------------------------------------------------------------ */

static void snap_copy(char *dst, size_t len, const char *src)
{
	size_t n = 0;
	while (src && src[n] && n + 1 < len) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

/* Under kcache_list_lock: copies one cache. */
static void snap_cache(struct kmem_cache *c, void *arg)
{
	struct ksnap *s = arg;
	size_t live = kslab_live(c);
	/* a page class has no slabs: its objects are the blocks it has out
	 * (to the program or in front caches) */
	size_t total = c->pages ? live : c->nr_slabs * c->objects;
	size_t cached = c->front_idx >= 0 ? kfront_cached((unsigned)c->front_idx) : 0;
	if (!total && atomic_load(&c->nr_alloc_total) == 0 && !cached)
		return;   /* never used */
	if (s->nr_caches >= KSNAP_MAX_CACHES) {
		s->nr_caches_omitted++;
		return;
	}
	struct ksnap_cache *e = &s->caches[s->nr_caches++];
	memset(e, 0, sizeof *e);
	snap_copy(e->name, sizeof e->name, c->name);
	if (c->front_idx >= 0) {
		struct kfront_stats st;
		kfront_stats((unsigned)c->front_idx, &st);
		if (st.cache == c) {
			cached = st.cached;
			e->front_capacity = st.capacity;
			e->front_max = st.max;
			e->front_regions = st.regions;
			e->front_allocs = st.allocs;
			e->front_alloc_misses = st.alloc_misses;
			e->front_frees = st.frees;
			e->front_free_misses = st.free_misses;
		}
	}
	e->cpu_cached = cached;
	e->active_objs = live - KMIN(cached, live);
	e->num_objs = total;
	e->objsize = c->size;
	e->objperslab = c->objects;
	e->pagesperslab = 1u << c->order;
	e->slabs = c->nr_slabs;
	e->slab_allocs = atomic_load(&c->nr_alloc_total);
	e->slab_frees = atomic_load(&c->nr_free_total);
	e->page_blocks = c->pages ? 1 : 0;
}

struct snap_walk {
	struct ksnap *s;
	size_t count, bytes, beyond;   /* beyond: bytes of areas not listed */
};

/* Under vmap_lock: one huge area. */
static void snap_area(uintptr_t addr, size_t size, void *arg)
{
	struct snap_walk *w = arg;
	w->count++;
	w->bytes += size;
	if (w->s->nr_areas < KSNAP_MAX_AREAS)
		w->s->areas[w->s->nr_areas++] = (struct ksnap_area){ addr, size };
	else
		w->beyond += size;
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

/* Residency of kalloc's ranges: the chunks of every zone and the huge
 * areas listed (those beyond the list count as resident). */
static size_t snap_resident(const struct ksnap *s, size_t beyond)
{
	uintptr_t r[2 * 256];
	size_t res = beyond;
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++) {
		unsigned n = kpage_zone_ranges(i / KNR_ZONES, i % KNR_ZONES, r, 256);
		for (unsigned k = 0; k < n; k++)
			res += kos_resident(r[2 * k], r[2 * k + 1]);
	}
	for (unsigned k = 0; k < s->nr_areas; k++)
		res += kos_resident(s->areas[k].addr, s->areas[k].size);
	return res;
}

void kstats_snapshot(struct ksnap *s, bool resident)
{
	memset(s, 0, offsetof(struct ksnap, caches));
	s->magic = KSNAP_MAGIC;
	s->version = KSNAP_VERSION;
	s->size = (uint32_t)sizeof *s;
	s->pid = kos_getpid();
	s->time_ms = kos_realtime_ms();
	snap_copy(s->front_mode, sizeof s->front_mode, kfront_mode_name());

	size_t present = 0, free_pages = 0;
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++) {
		struct kzone_stats z;
		kpage_zone_stats(i / KNR_ZONES, i % KNR_ZONES, &z);
		present += z.present;
		free_pages += z.free;
		for (unsigned o = 0; o <= MAX_ORDER; o++)
			s->buddy_free_blocks += z.nr_free[o];
		if (!z.present || s->nr_zones >= KSNAP_MAX_ZONES)
			continue;
		struct ksnap_zone *e = &s->zones[s->nr_zones++];
		memset(e, 0, sizeof *e);
		snap_copy(e->name, sizeof e->name, z.name);
		e->node = i / KNR_ZONES;
		for (unsigned o = 0; o <= MAX_ORDER; o++)
			e->nr_free[o] = z.nr_free[o];
		e->present = z.present;
		e->free = z.free;
		e->backed = z.dirty;
		e->released = z.released;
		e->chunks = z.chunks;
	}

	kslab_foreach(snap_cache, s);
	struct snap_walk w = { s, 0, 0, 0 };
	kvm_foreach(snap_area, &w);
	size_t hcount, hbytes, hkept;
	kvm_totals(&hcount, &hbytes, &hkept);
	s->nr_areas_omitted = w.count - s->nr_areas;
	s->huge_count = w.count;
	s->huge_bytes = w.bytes;
	s->huge_kept = hkept;

	/* Pages not free are slabs or page blocks; of the slabs only the
	 * objects handed out (and not sitting in a front cache) are in use. */
	size_t slab_bytes = 0, obj_bytes = 0, cached_bytes = 0, cached_blocks = 0;
	for (unsigned k = 0; k < s->nr_caches; k++) {
		const struct ksnap_cache *e = &s->caches[k];
		cached_bytes += e->cpu_cached * e->objsize;
		if (e->page_blocks) {
			cached_blocks += e->cpu_cached * e->objsize;
			continue;
		}
		slab_bytes += (e->slabs * PAGE_SIZE) * e->pagesperslab;
		obj_bytes += e->active_objs * e->objsize;
		s->slab_free += (e->num_objs - KMIN(e->num_objs, e->active_objs + e->cpu_cached)) * e->objsize;
	}
	size_t used_pages = (present - free_pages) << PAGE_SHIFT;
	size_t blocks = used_pages - KMIN(slab_bytes, used_pages);
	s->in_use = blocks - KMIN(cached_blocks, blocks) + obj_bytes + w.bytes;
	s->cached = cached_bytes;
	s->buddy_free = free_pages << PAGE_SHIFT;
	s->mapped = (present << PAGE_SHIFT) + w.bytes + hkept;

	s->charged = kmem_charged() << PAGE_SHIFT;
	s->limit = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed) << PAGE_SHIFT;
	cgroup_value("memory.max", s->cgroup_max, sizeof s->cgroup_max);
	cgroup_value("memory.high", s->cgroup_high, sizeof s->cgroup_high);

	if (resident) {
		s->resident = snap_resident(s, w.beyond);
		if (s->resident)
			s->frag_permille = s->in_use >= s->resident ? 0 : 1000 - s->in_use * 1000 / s->resident;
	}
}

struct ksnap *kstats_snapshot_new(bool resident)
{
	struct ksnap *s = kos_map(sizeof *s, PAGE_SIZE, false, 0);
	if (s)
		kstats_snapshot(s, resident);
	return s;
}

void kstats_snapshot_free(struct ksnap *s)
{
	if (s)
		kos_unmap(s, sizeof *s);
}

/* ------------------------------------------------------------------ */
/* text                                                                */
/* ------------------------------------------------------------------ */

#define KIB(x) ((unsigned long)((x) >> 10))

static void text_slabinfo(struct kout *o, const struct ksnap *s)
{
	kout_printf(o, "slabinfo: # %-22s %10s %10s %8s %6s %5s %8s %8s\n", "name", "<active>", "<num_objs>", "<objsize>",
	            "<perslab>", "<pgs>", "<slabs>", "<cpu>");
	for (unsigned k = 0; k < s->nr_caches; k++) {
		const struct ksnap_cache *e = &s->caches[k];
		kout_printf(o, "slabinfo: %-24s %10lu %10lu %8lu %6lu %5lu %8lu %8lu\n", e->name,
		            (unsigned long)e->active_objs, (unsigned long)e->num_objs, (unsigned long)e->objsize,
		            (unsigned long)e->objperslab, (unsigned long)e->pagesperslab, (unsigned long)e->slabs,
		            (unsigned long)e->cpu_cached);
	}
	if (s->nr_caches_omitted)
		kout_printf(o, "slabinfo: (%u more caches not listed)\n", s->nr_caches_omitted);
}

/* buddyinfo, as /proc/buddyinfo prints it (free blocks per order, one
 * line per node and zone that has memory), plus page counters. */
static void text_buddyinfo(struct kout *o, const struct ksnap *s)
{
	kout_printf(o, "buddyinfo: # free blocks of order 0 (4 KiB) .. %u (%lu KiB)\n", MAX_ORDER,
	            (unsigned long)(PAGE_SIZE << MAX_ORDER) >> 10);
	for (unsigned k = 0; k < s->nr_zones; k++) {
		const struct ksnap_zone *z = &s->zones[k];
		kout_printf(o, "buddyinfo: Node %lu, zone %8s", (unsigned long)z->node, z->name);
		for (unsigned ord = 0; ord <= MAX_ORDER; ord++)
			kout_printf(o, " %6lu", (unsigned long)z->nr_free[ord]);
		kout_printf(o, "  (present %lu KiB, free %lu KiB, free backed <= %lu KiB, released %lu KiB)\n",
		            (unsigned long)(z->present << 2), (unsigned long)(z->free << 2),
		            (unsigned long)(z->backed << 2), (unsigned long)(z->released << 2));
	}
}

/* vmallocinfo: one line per area, as /proc/vmallocinfo, then a total. */
static void text_vmallocinfo(struct kout *o, const struct ksnap *s)
{
	for (unsigned k = 0; k < s->nr_areas; k++)
		kout_printf(o, "vmallocinfo: %p-%p %lu bytes (+ guard page)\n", (void *)(uintptr_t)s->areas[k].addr,
		            (void *)(uintptr_t)(s->areas[k].addr + s->areas[k].size), (unsigned long)s->areas[k].size);
	if (s->nr_areas_omitted)
		kout_printf(o, "vmallocinfo: (%lu more areas not listed)\n", (unsigned long)s->nr_areas_omitted);
	kout_printf(o, "vmallocinfo: %lu areas, %lu bytes; freed areas kept for reuse: %lu bytes\n",
	            (unsigned long)s->huge_count, (unsigned long)s->huge_bytes, (unsigned long)s->huge_kept);
}

static void text_front(struct kout *o, const struct ksnap *s)
{
	bool rseq = strncmp(s->front_mode, "rseq", 4) == 0;
	kout_printf(o, "front caches: %s\n", s->front_mode);
	for (unsigned k = 0; k < s->nr_caches; k++) {
		const struct ksnap_cache *e = &s->caches[k];
		if (!e->front_max && !e->front_capacity && !e->cpu_cached && !e->front_allocs && !e->front_frees)
			continue;
		if (!e->cpu_cached && !e->front_allocs && !e->front_frees)
			continue;
		kout_printf(o, "front cache %s: capacity %lu (max %lu per %s), cached %lu objects on %lu %s", e->name,
		            (unsigned long)e->front_capacity, (unsigned long)e->front_max, rseq ? "CPU" : "thread",
		            (unsigned long)e->cpu_cached, (unsigned long)e->front_regions,
		            rseq ? "CPUs" : "threads (this one)");
		if (e->front_allocs || e->front_frees) {
			uint64_t a = e->front_allocs, f = e->front_frees;
			unsigned long ah = a ? (unsigned long)((a - e->front_alloc_misses) * 1000 / a) : 0;
			unsigned long fh = f ? (unsigned long)((f - e->front_free_misses) * 1000 / f) : 0;
			kout_printf(o, ", alloc %lu hit %lu.%lu%%, free %lu hit %lu.%lu%%", (unsigned long)a, ah / 10, ah % 10,
			            (unsigned long)f, fh / 10, fh % 10);
		}
		kout_printf(o, "\n");
	}
}

/* The memory limit, what is charged against it, and the cgroup's limits
 * (reported, not applied: a cgroup counts all of the process's memory, not
 * only kalloc's, so kalloc does not take it as its own limit). */
static void text_limit(struct kout *o, const struct ksnap *s)
{
	kout_printf(o, "memory: charged %lu KiB, limit ", KIB(s->charged));
	if (s->limit)
		kout_printf(o, "%lu KiB", KIB(s->limit));
	else
		kout_printf(o, "none");
	const char *max = s->cgroup_max, *high = s->cgroup_high;
	if ((max[0] && strcmp(max, "max")) || (high[0] && strcmp(high, "max")))
		kout_printf(o, "; cgroup memory.max %s, memory.high %s (not applied: KALLOC_LIMIT sets kalloc's)",
		            max[0] ? max : "-", high[0] ? high : "-");
	kout_printf(o, "\n");
}

static void text_totals(struct kout *o, const struct ksnap *s)
{
	kout_printf(o, "totals: mapped %lu KiB, resident %lu KiB (mincore), in use %lu KiB, front-cached %lu KiB, "
	               "free in slabs %lu KiB, free pages %lu KiB, fragmentation %lu.%lu%%\n",
	            KIB(s->mapped), KIB(s->resident), KIB(s->in_use), KIB(s->cached), KIB(s->slab_free),
	            KIB(s->buddy_free), (unsigned long)s->frag_permille / 10, (unsigned long)s->frag_permille % 10);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* A string as JSON: quoted, with '"', '\\' and control bytes escaped. */
static void json_str(struct kout *o, const char *str)
{
	char buf[2 * KSNAP_NAME + 8];
	size_t n = 0;
	buf[n++] = '"';
	for (const char *p = str; *p && n + 8 < sizeof buf; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += kformat(buf + n, sizeof buf - n, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
	kout_printf(o, "%s", buf);
}

static void json(struct kout *o, const struct ksnap *s)
{
	kout_printf(o, "{\"pid\": %ld, \"time_ms\": %lu, \"front_mode\": ", (long)s->pid, (unsigned long)s->time_ms);
	json_str(o, s->front_mode);
	kout_printf(o, ",\n \"totals\": {\"mapped\": %lu, \"resident\": %lu, \"resident_source\": \"mincore\", "
	               "\"in_use\": %lu, \"cached\": %lu, \"slab_free\": %lu, \"buddy_free\": %lu, "
	               "\"buddy_free_blocks\": %lu, \"fragmentation\": %lu.%03lu, \"charged\": %lu, \"limit\": %lu},\n",
	            (unsigned long)s->mapped, (unsigned long)s->resident, (unsigned long)s->in_use,
	            (unsigned long)s->cached, (unsigned long)s->slab_free, (unsigned long)s->buddy_free,
	            (unsigned long)s->buddy_free_blocks, (unsigned long)s->frag_permille / 1000,
	            (unsigned long)s->frag_permille % 1000, (unsigned long)s->charged, (unsigned long)s->limit);
	kout_printf(o, " \"slabinfo\": [");
	for (unsigned k = 0; k < s->nr_caches; k++) {
		const struct ksnap_cache *e = &s->caches[k];
		kout_printf(o, "%s\n  {\"name\": ", k ? "," : "");
		json_str(o, e->name);
		kout_printf(o, ", \"active_objs\": %lu, \"num_objs\": %lu, \"objsize\": %lu, \"objperslab\": %lu, "
		               "\"pagesperslab\": %lu, \"slabs\": %lu, \"cpu_cached\": %lu, \"page_blocks\": %s, "
		               "\"front\": {\"capacity\": %lu, \"max\": %lu, \"regions\": %lu, \"allocs\": %lu, "
		               "\"alloc_misses\": %lu, \"frees\": %lu, \"free_misses\": %lu}}",
		            (unsigned long)e->active_objs, (unsigned long)e->num_objs, (unsigned long)e->objsize,
		            (unsigned long)e->objperslab, (unsigned long)e->pagesperslab, (unsigned long)e->slabs,
		            (unsigned long)e->cpu_cached, e->page_blocks ? "true" : "false",
		            (unsigned long)e->front_capacity, (unsigned long)e->front_max, (unsigned long)e->front_regions,
		            (unsigned long)e->front_allocs, (unsigned long)e->front_alloc_misses,
		            (unsigned long)e->front_frees, (unsigned long)e->front_free_misses);
	}
	kout_printf(o, "],\n \"slabinfo_omitted\": %u,\n \"buddyinfo\": [", s->nr_caches_omitted);
	for (unsigned k = 0; k < s->nr_zones; k++) {
		const struct ksnap_zone *z = &s->zones[k];
		kout_printf(o, "%s\n  {\"node\": %lu, \"zone\": ", k ? "," : "", (unsigned long)z->node);
		json_str(o, z->name);
		kout_printf(o, ", \"free_blocks\": [");
		for (unsigned ord = 0; ord <= MAX_ORDER; ord++)
			kout_printf(o, "%s%lu", ord ? ", " : "", (unsigned long)z->nr_free[ord]);
		kout_printf(o, "], \"present_pages\": %lu, \"free_pages\": %lu, \"backed_pages\": %lu, "
		               "\"released_pages\": %lu, \"chunks\": %lu}",
		            (unsigned long)z->present, (unsigned long)z->free, (unsigned long)z->backed,
		            (unsigned long)z->released, (unsigned long)z->chunks);
	}
	kout_printf(o, "],\n \"vmallocinfo\": {\"count\": %lu, \"bytes\": %lu, \"kept_bytes\": %lu, "
	               "\"omitted\": %lu, \"areas\": [",
	            (unsigned long)s->huge_count, (unsigned long)s->huge_bytes, (unsigned long)s->huge_kept,
	            (unsigned long)s->nr_areas_omitted);
	for (unsigned k = 0; k < s->nr_areas; k++)
		kout_printf(o, "%s{\"addr\": \"%p\", \"size\": %lu}", k ? ", " : "", (void *)(uintptr_t)s->areas[k].addr,
		            (unsigned long)s->areas[k].size);
	kout_printf(o, "]}}\n");
}

/* ------------------------------------------------------------------ */
/* the report                                                          */
/* ------------------------------------------------------------------ */

void kstats_format(struct kout *o, const struct ksnap *s, int format)
{
	size_t mark;
	do {
		mark = kout_mark(o);
		if (format == KALLOC_STATS_JSON) {
			json(o, s);
		} else {
			text_slabinfo(o, s);
			text_buddyinfo(o, s);
			text_vmallocinfo(o, s);
			text_front(o, s);
			text_limit(o, s);
			text_totals(o, s);
		}
	} while (kout_again(o, mark));
}

void kstats_write(void (*fn)(void *opaque, const char *text, size_t len), void *opaque, int fd, int format)
{
	struct ksnap *s = kstats_snapshot_new(true);
	struct kout o;
	kout_init(&o);
	if (!s) {
		kout_printf(&o, "kalloc: no memory for the statistics snapshot\n");
	} else {
		kstats_format(&o, s, format);
		kstats_snapshot_free(s);
	}
	if (fn) {
		fn(opaque, o.buf, o.len);
		o.len = 0;
	} else {
		kout_flush(&o, fd);
	}
	kout_done(&o);
}

void kstats_print(int fd)
{
	kstats_write(NULL, NULL, fd, KALLOC_STATS_TEXT);
}

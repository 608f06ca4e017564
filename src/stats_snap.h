/* SPDX-License-Identifier: MIT */
/*
 * stats_snap.h - the numbers every report is made from (stats.c), in a
 * layout with no pointers, so that the same struct is the shared-memory
 * segment kalloc-top reads (KALLOC_SHM, prof.c; tools/kalloc-top.c).
 *
 * One snapshot is taken (stats.c: kstats_snapshot), and the text report,
 * the JSON report, mallinfo2, malloc_stats, malloc_info and the segment
 * are all formatted from it, so they agree.  Sizes are bytes unless a name
 * says pages; counters are 64-bit.  The header is plain C (no kalloc
 * types) for the tool, which is built without the library.
 */
#ifndef KALLOC_STATS_SNAP_H
#define KALLOC_STATS_SNAP_H

#include <stdint.h>

#define KSNAP_MAGIC      0x70616e73636c616bULL   /* "kalcsnap", little-endian */
#define KSNAP_VERSION    1
#define KSNAP_NAME       32
#define KSNAP_ORDERS     11      /* buddy orders 0..MAX_ORDER */
#define KSNAP_MAX_CACHES 192     /* caches beyond are counted in nr_caches_omitted */
#define KSNAP_MAX_ZONES  24      /* 8 nodes x 3 zones */
#define KSNAP_MAX_AREAS  256     /* huge areas listed; all are in the totals */

/* slabinfo: one cache (a kmalloc class, a named cache, a page class). */
struct ksnap_cache {
	char name[KSNAP_NAME];
	uint64_t active_objs;      /* handed out to the program: not free, not front-cached */
	uint64_t num_objs;         /* slots in its slabs: slabs * objperslab */
	uint64_t objsize;          /* object stride */
	uint64_t objperslab, pagesperslab, slabs;
	uint64_t cpu_cached;       /* objects held in the per-CPU (or this thread's) front caches */
	uint64_t slab_allocs, slab_frees;   /* objects taken from / given back to its slabs, ever */
	uint64_t page_blocks;      /* a page class: its objects are page blocks, not slab slots */
	/* the front cache (KALLOC_STATS counting mode for the four counters) */
	uint64_t front_capacity, front_max, front_regions;
	uint64_t front_allocs, front_alloc_misses, front_frees, front_free_misses;
};

/* buddyinfo: one zone of one node. */
struct ksnap_zone {
	char name[16];
	uint64_t node;
	uint64_t nr_free[KSNAP_ORDERS];   /* free blocks per order */
	uint64_t present, free, backed, released;   /* pages; backed: free and maybe backed (an upper estimate) */
	uint64_t chunks;
};

/* vmallocinfo: one huge area (the guard page after it is not counted). */
struct ksnap_area {
	uint64_t addr, size;
};

struct ksnap {
	uint64_t magic;
	uint32_t version, size;    /* KSNAP_VERSION, sizeof(struct ksnap) */
	/* Even when the snapshot is whole; odd while it is being written (the
	 * shared segment: a reader retries while odd or changed). */
	uint64_t seq;
	int64_t pid;
	uint64_t time_ms;          /* wall clock when taken */
	uint64_t updates;          /* snapshots written to the segment so far */
	char front_mode[80];     /* the front caches' mode, as the text report names it */
	/* totals */
	uint64_t mapped;           /* chunk pages present + huge areas + huge areas kept for reuse */
	uint64_t resident;         /* of those, in memory (mincore) */
	uint64_t in_use;           /* handed out to the program: slab objects, page blocks, huge areas */
	uint64_t cached;           /* held in front caches (objects and page blocks) */
	uint64_t slab_free;        /* free slots in slabs */
	uint64_t buddy_free;       /* free pages of the buddy allocator, bytes */
	uint64_t buddy_free_blocks;
	uint64_t frag_permille;    /* 1000 * (1 - in_use / resident) */
	uint64_t huge_count, huge_bytes, huge_kept;
	uint64_t charged, limit;   /* KALLOC_LIMIT's charge and limit (0: none) */
	char cgroup_max[24], cgroup_high[24];   /* this cgroup's memory.max/.high ("" when none) */
	/* the tables */
	uint32_t nr_caches, nr_caches_omitted;
	uint32_t nr_zones, nr_areas;
	uint64_t nr_areas_omitted;
	struct ksnap_cache caches[KSNAP_MAX_CACHES];
	struct ksnap_zone zones[KSNAP_MAX_ZONES];
	struct ksnap_area areas[KSNAP_MAX_AREAS];
};

#endif /* KALLOC_STATS_SNAP_H */

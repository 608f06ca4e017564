/* SPDX-License-Identifier: MIT */
/*
 * stats.c - introspection: slabinfo, buddyinfo, vmallocinfo, front caches.
 *
 * Everything is formatted into stack buffers and written with write(2): the
 * report never allocates from the structures it describes.  KALLOC_STATS=1
 * prints it to stderr at exit, KALLOC_STATS=/path appends it to a file.
 */
#include "internal.h"

#include <fcntl.h>
#include <unistd.h>

void kstats_totals(size_t *present, size_t *in_use, size_t *free_blocks)
{
	size_t p = 0, f = 0, b = 0;
	for (unsigned zi = 0; zi < KNR_ZONES; zi++) {
		struct kzone *z = &knode0.zones[zi];
		klock(&z->lock);
		p += z->nr_present_pages;
		f += z->nr_free_pages;
		for (unsigned o = 0; o <= MAX_ORDER; o++)
			b += z->free_area[o].nr_free;
		kunlock(&z->lock);
	}
	/* Pages not free are slabs or page blocks; of the slabs only the
	 * objects handed out (and not sitting in a front cache) are in use. */
	size_t slab_bytes = 0, obj_bytes = 0;
	klock(&kcache_list_lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next) {
		size_t live = atomic_load(&c->nr_alloc_total) - atomic_load(&c->nr_free_total);
		size_t cached = c->front_idx >= 0 ? kfront_cached((unsigned)c->front_idx) : 0;
		slab_bytes += (c->nr_slabs * PAGE_SIZE) << c->order;
		obj_bytes += (live - KMIN(cached, live)) * c->size;
	}
	kunlock(&kcache_list_lock);
	size_t used_pages = (p - f) << PAGE_SHIFT;
	*present = p << PAGE_SHIFT;
	*in_use = used_pages - KMIN(slab_bytes, used_pages) + obj_bytes;
	*free_blocks = b;
}

static void slabinfo(int fd)
{
	char line[256];
	size_t n = kformat(line, sizeof line,
	                   "slabinfo: # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>\n");
	kwrite_all(fd, line, n);
	klock(&kcache_list_lock);
	for (struct kmem_cache *c = kcache_list; c; c = c->next) {
		size_t alloc = atomic_load(&c->nr_alloc_total), freed = atomic_load(&c->nr_free_total);
		size_t total = c->nr_slabs * c->objects;
		if (!total && alloc == 0)
			continue;
		n = kformat(line, sizeof line, "slabinfo: %s %lu %lu %u %u %u\n", c->name,
		            (unsigned long)(alloc - freed), (unsigned long)total, c->size, (unsigned)c->objects,
		            1u << c->order);
		kwrite_all(fd, line, n);
	}
	kunlock(&kcache_list_lock);
}

void kstats_print_fd(int fd)
{
	slabinfo(fd);
	kpage_print(fd);
	kvm_print(fd);
	kfront_print(fd);
}

KEXPORT void kalloc_stats_print(int fd)
{
	kalloc_ensure_init();
	kstats_print_fd(fd);
}

__attribute__((destructor)) static void stats_at_exit(void)
{
	const char *v = kos_getenv("KALLOC_STATS");
	if (!v || !*v || (v[0] == '0' && v[1] == '\0'))
		return;
	if (atomic_load(&kalloc_init_state) != 2)
		return;
	if (v[0] == '1' && v[1] == '\0') {
		kstats_print_fd(2);
		return;
	}
	int fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		kreport("KALLOC_STATS: cannot open %s; printing to stderr", v);
		kstats_print_fd(2);
		return;
	}
	kstats_print_fd(fd);
	close(fd);
}

/* SPDX-License-Identifier: MIT */
/*
 * example_kernel_api.c - every name of the kernel-style API beyond the
 * common subset, used the way a kernel programmer would, from the public
 * header alone: built with `cc -std=c11 -Wall -Wextra -Werror
 * example_kernel_api.c $(pkg-config --cflags --libs kalloc)`
 * (tests/unit/pkgconfig.sh), and checked.  Without liburcu in the process,
 * the RCU frees happen at once (no reader can exist).  Exit status: the
 * number of failed checks.
 */
#include <kalloc.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                        \
		}                                                                          \
	} while (0)

/* 1. GFP flags, each composed as in the kernel */
static void gfp_flags(void)
{
	const gfp_t flags[] = {
		GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT, GFP_NOIO, GFP_NOFS, GFP_USER, GFP_HIGHUSER,
		GFP_KERNEL | __GFP_ZERO, GFP_KERNEL | __GFP_NOWARN, GFP_KERNEL | __GFP_NORETRY,
		GFP_KERNEL | __GFP_RETRY_MAYFAIL, GFP_KERNEL | __GFP_REPEAT, GFP_KERNEL | __GFP_NOFAIL,
		GFP_KERNEL | __GFP_COMP, GFP_KERNEL | __GFP_COLD, GFP_KERNEL | __GFP_HIGH,
		__GFP_WAIT | __GFP_IO | __GFP_FS, __GFP_DIRECT_RECLAIM | __GFP_HIGHMEM,
		GFP_KERNEL | GFP_DMA32, GFP_KERNEL | __GFP_DMA32,
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		unsigned char *p = kmalloc(100, flags[i]);
		EXPECT(p != NULL);
		if (p && (flags[i] & __GFP_ZERO))
			EXPECT(p[0] == 0 && p[99] == 0);
		kfree(p);
	}
	EXPECT(__GFP_WAIT == __GFP_DIRECT_RECLAIM && __GFP_REPEAT == __GFP_RETRY_MAYFAIL);
	EXPECT(!(GFP_NOFS & __GFP_FS) && (GFP_NOFS & __GFP_IO) && !(GFP_NOIO & __GFP_IO));
	EXPECT(!(GFP_ATOMIC & __GFP_DIRECT_RECLAIM) && (GFP_ATOMIC & __GFP_HIGH) && !(GFP_NOWAIT & __GFP_HIGH));
}

/* 2. zones */
static void zones(void)
{
	struct page *pg = alloc_pages(GFP_KERNEL | GFP_DMA32, 2);
	EXPECT(pg != NULL && page_zonenum(pg) == ZONE_DMA32);
	EXPECT(pg && (uintptr_t)page_address(pg) + 4 * PAGE_SIZE <= (1ULL << 32));
	__free_pages(pg, 2);
	void *small = kmalloc(48, GFP_KERNEL | GFP_DMA32);
	EXPECT(small != NULL && (uintptr_t)small < (1ULL << 32));
	EXPECT(page_zonenum(virt_to_page(small)) == ZONE_DMA32);
	kfree(small);
	pg = alloc_pages(GFP_KERNEL | __GFP_HIGHMEM, 0);
	EXPECT(pg != NULL && page_zonenum(pg) == ZONE_NORMAL);
	__free_pages(pg, 0);
	/* ZONE_DMA where the low 16 MiB is free (it is, in a PIE program) */
	pg = alloc_pages(GFP_KERNEL | __GFP_DMA | __GFP_NOWARN, 0);
	if (pg) {
		EXPECT(page_zonenum(pg) == ZONE_DMA && (uintptr_t)page_address(pg) < (16u << 20));
		__free_pages(pg, 0);
	}
	enum zone_type zt = ZONE_NORMAL;
	EXPECT(zt < __MAX_NR_ZONES);
	struct kmem_cache *c32 = kmem_cache_create("example_dma32", 200, 0, SLAB_CACHE_DMA32, NULL);
	struct kmem_cache *c16 = kmem_cache_create("example_dma", 200, 0, SLAB_CACHE_DMA, NULL);
	EXPECT(c32 != NULL && c16 != NULL);
	void *o = c32 ? kmem_cache_alloc(c32, GFP_KERNEL) : NULL;
	EXPECT(o != NULL && (uintptr_t)o < (1ULL << 32));
	if (c32) {
		kmem_cache_free(c32, o);
		kmem_cache_destroy(c32);
	}
	o = c16 ? kmem_cache_alloc(c16, GFP_KERNEL | __GFP_NOWARN) : NULL;
	if (o)
		EXPECT((uintptr_t)o < (16u << 20));
	if (c16) {
		kmem_cache_free(c16, o);
		kmem_cache_destroy(c16);
	}
}

/* 3. a memory limit and a shrinker holding a cache */
struct item {
	struct item *next;
	char data[4000];
};
static struct item *items;
static unsigned long nitems, scans;
static gfp_t seen_mask;

static unsigned long items_count(struct shrinker *s, struct shrink_control *sc)
{
	(void)s, (void)sc;
	return nitems ? nitems : SHRINK_EMPTY;
}

static unsigned long items_scan(struct shrinker *s, struct shrink_control *sc)
{
	(void)s;
	scans++;
	seen_mask = sc->gfp_mask;
	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	unsigned long n = 0;
	while (n < sc->nr_to_scan && items) {
		struct item *it = items;
		items = it->next;
		kfree(it);
		nitems--;
		n++;
	}
	return n;
}

static struct shrinker items_shrinker = {
	.count_objects = items_count,
	.scan_objects = items_scan,
	.seeks = DEFAULT_SEEKS,
};

static void limit_and_shrinker(void)
{
	EXPECT(kalloc_set_limit(32u << 20) == 0);
	EXPECT(kalloc_get_limit() == (32u << 20));
	EXPECT(register_shrinker(&items_shrinker, "example-items") == 0);
	for (int i = 0; i < 40000; i++) {   /* 160 MiB in all, 32 MiB at most held */
		struct item *it = kmalloc(sizeof *it, GFP_KERNEL);
		EXPECT(it != NULL);
		if (!it)
			break;
		it->data[0] = 1;
		it->next = items;
		items = it;
		nitems++;
	}
	EXPECT(scans > 0 && kalloc_charged() <= (32u << 20));
	unsigned long before = scans;
	void *p = kmalloc(8u << 20, GFP_NOFS | __GFP_NOWARN);
	EXPECT(scans > before && !(seen_mask & __GFP_FS));   /* the shrinker saw GFP_NOFS and declined */
	kfree(p);
	unregister_shrinker(&items_shrinker);
	while (items) {
		struct item *it = items;
		items = it->next;
		kfree(it);
	}
	nitems = 0;
	EXPECT(kalloc_set_limit(0) == 0);
}

/* 4. static per-CPU variables */
DECLARE_PER_CPU(long, example_events);
DEFINE_PER_CPU(long, example_events);
static DEFINE_PER_CPU(long, example_unsafe);

static void *bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++) {
		this_cpu_inc(example_events);
		long *v = &get_cpu_var(example_unsafe);
		*v = *v + 1;   /* not atomic: the get_cpu section makes it safe */
		put_cpu_var(example_unsafe);
	}
	return NULL;
}

static void percpu(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, bump, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	long sum = 0, unsafe = 0;
	unsigned cpu;
	for_each_possible_cpu(cpu) {
		sum += per_cpu(example_events, cpu);
		unsafe += per_cpu(example_unsafe, cpu);
	}
	EXPECT(sum == 40000 && unsafe == 40000);
	int me = get_cpu();
	EXPECT(me >= 0 && (unsigned)me < nr_cpu_ids && smp_processor_id() == me);
	this_cpu_write(example_events, 7);
	this_cpu_add(example_events, 3);
	this_cpu_sub(example_events, 1);
	this_cpu_dec(example_events);
	put_cpu();
	long *dyn = alloc_percpu(long);
	EXPECT(dyn != NULL);
	this_cpu_inc(*dyn);
	EXPECT(this_cpu_read(*dyn) <= 1);
	EXPECT(*this_cpu_ptr(dyn) <= 1 && *per_cpu_ptr(dyn, 0) <= 1);
	free_percpu(dyn);
}

/* 5. the kmap family */
static void kmaps(void)
{
	struct page *pg = alloc_page(GFP_KERNEL);
	EXPECT(pg != NULL);
	char *a = kmap(pg);
	EXPECT(a == page_address(pg));
	a[0] = 'k';
	kunmap(pg);
	char *b = kmap_atomic(pg);
	EXPECT(b == a && b[0] == 'k');
	kunmap_atomic(b);
	char *c = kmap_local_page(pg);
	EXPECT(c == a);
	kunmap_local(c);
	__free_page(pg);
}

/* 6. RCU freeing */
struct node {
	int key;
	struct kalloc_rcu_head rcu;
};

static void rcu(void)
{
	struct node *n = kmalloc(sizeof *n, GFP_KERNEL);
	EXPECT(n != NULL);
	kfree_rcu(n, rcu);
	struct kmem_cache *c = kmem_cache_create("example_rcu", sizeof(struct node), 0, SLAB_TYPESAFE_BY_RCU, NULL);
	EXPECT(c != NULL);
	struct node *m = c ? kmem_cache_alloc(c, GFP_KERNEL) : NULL;
	EXPECT(m != NULL);
	if (c) {
		kmem_cache_free_rcu(c, m, rcu);
		kvfree_rcu_barrier();
		EXPECT(kmem_cache_destroy(c) == 0);
	}
}

/* 7. bulk, shrink, exact pages */
static void bulk_and_exact(void)
{
	struct kmem_cache *c = kmem_cache_create("example_bulk", 64, 0, 0, NULL);
	EXPECT(c != NULL);
	if (!c)
		return;
	void *v[300];
	EXPECT(kmem_cache_alloc_bulk(c, GFP_KERNEL, 300, v) == 300);
	kmem_cache_free_bulk(c, 300, v);
	EXPECT(kmem_cache_shrink(c) == 0);
	EXPECT(kmem_cache_destroy(c) == 0);
	void *e = alloc_pages_exact(5 * PAGE_SIZE, GFP_KERNEL | __GFP_ZERO);
	EXPECT(e != NULL && ((unsigned char *)e)[5 * PAGE_SIZE - 1] == 0);
	free_pages_exact(e, 5 * PAGE_SIZE);
}

int main(void)
{
	gfp_flags();
	zones();
	limit_and_shrinker();
	percpu();
	kmaps();
	rcu();
	bulk_and_exact();
	printf("example_kernel_api: %d failure%s\n", failures, failures == 1 ? "" : "s");
	return failures;
}

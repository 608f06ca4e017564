/* SPDX-License-Identifier: MIT */
/*
 * kmalloc_zero: kzalloc, kcalloc and kmalloc(__GFP_ZERO) return zeroed
 * memory on every path (slab classes, page blocks, huge blocks), also when
 * the memory they reuse was just dirtied and freed; krealloc(__GFP_ZERO)
 * keeps the old contents and zeroes what it adds; kmemdup and kstrdup copy.
 * kmalloc(0), kzalloc(0), kcalloc(0, n) and kmalloc_array(n, 0) return
 * unique pointers of the zero-size region (KALLOC_HARDEN): a write faults,
 * ksize is 0, kfree and kvfree take them.
 */
#include "internal.h"
#include "ktest.h"

#include <signal.h>

#define REPEAT 16

static const size_t sizes[] = { 1, 8, 15, 16, 24, 100, 128, 1000, 1024, 4000, 4096, 20000, 32768,
                                32769, 40000, 100000, 1UL << 20, KMAX_ORDER_SIZE, KMAX_ORDER_SIZE + 1,
                                5UL << 20 };

/* Allocates and frees dirty blocks of this size, so that the next
 * allocations reuse dirty memory. */
static void dirty(size_t size)
{
	void *p[REPEAT];
	for (int i = 0; i < REPEAT; i++) {
		p[i] = kmalloc(size, GFP_KERNEL);
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], 0xdb, ksize(p[i]));
	}
	for (int i = REPEAT; i-- > 0;)
		kfree(p[i]);
}

static void zeroed(size_t size, int how)
{
	static const char *const names[] = { "kzalloc", "kcalloc", "kmalloc(__GFP_ZERO)", "kmalloc_array+zero" };
	void *p[REPEAT];
	for (int i = 0; i < REPEAT; i++) {
		switch (how) {
		case 0:
			p[i] = kzalloc(size, GFP_KERNEL);
			break;
		case 1:
			p[i] = kcalloc(size, 1, GFP_KERNEL);
			break;
		case 2:
			p[i] = kmalloc(size, GFP_KERNEL | __GFP_ZERO);
			break;
		default:
			p[i] = kmalloc_array(1, size, GFP_KERNEL | __GFP_ZERO);
			break;
		}
		CHECKF(p[i] != NULL, "%s(%zu) failed", names[how], size);
		if (!p[i])
			continue;
		size_t nz = first_nonzero(p[i], size);
		CHECKF(nz == size, "%s(%zu) = %p: byte %zu is %#x", names[how], size, p[i], nz, ((uint8_t *)p[i])[nz]);
		memset(p[i], 0xd1, size);
	}
	for (int i = REPEAT; i-- > 0;)
		kfree(p[i]);
}

static void calloc_shapes(void)
{
	/* n * size over many shapes, after dirtying the same classes */
	static const size_t shapes[][2] = { { 3, 7 }, { 100, 24 }, { 7, 1000 }, { 4096, 3 }, { 9, 4097 },
	                                     { 1000, 1000 }, { 3, 2000000 } };
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		size_t total = shapes[i][0] * shapes[i][1];
		dirty(total);
		char *p = kcalloc(shapes[i][0], shapes[i][1], GFP_KERNEL);
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECKF(first_nonzero(p, total) == total, "kcalloc(%zu, %zu) not zero", shapes[i][0], shapes[i][1]);
		CHECK(ksize(p) >= total);
		kfree(p);
	}
}

static void krealloc_zero(void)
{
	/* Start from a size equal to its class, so that ksize == size. */
	static const size_t steps[] = { 128, 1024, 8192, 32768, 65536, 1UL << 20, 6UL << 20 };
	size_t old = steps[0];
	dirty(old);
	char *p = kmalloc(old, GFP_KERNEL);
	CHECK(p != NULL && ksize(p) == old);
	if (!p)
		return;
	pattern_fill(p, old, 77);
	for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
		size_t sz = steps[i];
		dirty(sz);
		char *q = krealloc(p, sz, GFP_KERNEL | __GFP_ZERO);
		CHECKF(q != NULL, "krealloc(%zu, __GFP_ZERO) failed", sz);
		if (!q)
			break;
		CHECKF(pattern_check(q, old, 77) == old, "krealloc %zu -> %zu lost the contents", old, sz);
		size_t nz = first_nonzero(q + old, sz - old);
		CHECKF(nz == sz - old, "krealloc %zu -> %zu (__GFP_ZERO): byte %zu not zero", old, sz, old + nz);
		pattern_fill(q, sz, 77);
		p = q;
		old = sz;
	}
	kfree(p);
}

static void dups(void)
{
	char *s = kstrdup("kalloc unit test", GFP_KERNEL);
	CHECK(s && strcmp(s, "kalloc unit test") == 0);
	kfree(s);
	CHECK(kstrdup(NULL, GFP_KERNEL) == NULL);
	char buf[3000];
	pattern_fill(buf, sizeof buf, 5);
	char *d = kmemdup(buf, sizeof buf, GFP_KERNEL);
	CHECK(d && pattern_check(d, sizeof buf, 5) == sizeof buf);
	kfree(d);
}

static int write_byte(void *p)
{
	*(volatile char *)p = 1;
	return 0;
}

static void zero_size(void)
{
	void *p[4] = { kmalloc(0, GFP_KERNEL), kzalloc(0, GFP_KERNEL), kcalloc(0, 8, GFP_KERNEL),
		       kmalloc_array(8, 0, GFP_KERNEL) };
	for (int i = 0; i < 4; i++) {
		CHECKF(p[i] != NULL && kzero_owns(p[i]), "zero-size call %d: %p, not in the zero-size region", i, p[i]);
		for (int j = 0; j < i; j++)
			CHECK(p[i] != p[j]);
		if (!p[i])
			continue;
		CHECK(ksize(p[i]) == 0);
		static struct child_result r;
		run_child(write_byte, p[i], 10000, &r);
		CHECKF(child_signal(&r) == SIGSEGV, "write through zero-size call %d: signal %d", i, child_signal(&r));
	}
	kfree(p[0]);
	kfree(p[1]);
	kfree(p[2]);
	kvfree(p[3]);
}

int main(void)
{
	zero_size();
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (int how = 0; how < 4; how++) {
			dirty(sizes[i]);
			zeroed(sizes[i], how);
		}
	calloc_shapes();
	krealloc_zero();
	dups();
	return check_done();
}

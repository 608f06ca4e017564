/* SPDX-License-Identifier: MIT */
/*
 * Operation-sequence fuzzer against a shadow model.
 *
 * Input bytes are decoded into a sequence of operations on 64 slots: malloc,
 * calloc, realloc, free, memalign/posix_memalign, kmalloc/krealloc/kfree
 * (some with GFP_DMA32: such a block must stay below 4 GiB through its
 * kreallocs), and a custom cache's alloc/free.  The shadow remembers each live block's
 * size and fill byte; every block is filled when it is created or resized
 * and checked before it is freed or resized, so overlapping blocks, lost
 * contents, wrong alignment or a usable size below the request are caught.
 *
 * Built two ways:
 *  - as a test (default): main() feeds seeded pseudo-random inputs
 *    (deterministic: `ops [iterations] [seed]`);
 *  - as a libFuzzer target with clang: tests/fuzz/run-libfuzzer.sh.
 */
#define _GNU_SOURCE
#include <kalloc.h>

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64

enum kind { K_NONE, K_MALLOC, K_KMALLOC, K_CACHE };

struct slot {
	unsigned char *p;
	size_t size;
	unsigned char fill;
	enum kind kind;
	int low;   /* kmalloc'd with GFP_DMA32 */
};

#define LOW_LIMIT (4UL << 30)
#define LOW_MAX (4UL << 20)   /* zone blocks come from the buddy allocator */

static struct kmem_cache *cache;
#define CACHE_SIZE 72

static void fail(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "ops: %s (%zu, %zu)\n", what, a, b);
	abort();
}

static void fill(struct slot *s)
{
	memset(s->p, s->fill, s->size);
}

static void verify(const struct slot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s->p[i] != s->fill)
			fail("block contents changed", i, s->size);
}

static void release(struct slot *s)
{
	if (!s->p)
		return;
	verify(s, s->size);
	switch (s->kind) {
	case K_MALLOC: free(s->p); break;
	case K_KMALLOC: kfree(s->p); break;
	case K_CACHE: kmem_cache_free(cache, s->p); break;
	default: break;
	}
	s->p = NULL;
	s->kind = K_NONE;
	s->low = 0;
}

static size_t decode_size(const uint8_t *d)
{
	unsigned r = (unsigned)d[0] | (unsigned)d[1] << 8 | (unsigned)d[2] << 16;
	switch (d[0] & 15) {
	case 0: case 1: return r % 17;                       /* tiny, 0 included */
	case 2: case 3: case 4: case 5: case 6: case 7: return r % 1025;
	case 8: case 9: return r % 40000;                    /* larger classes, page blocks */
	case 10: return r % (600u << 10);                    /* page blocks */
	case 11: return (d[1] & 7) ? r % 70000 : (4u << 20) + (r & 0x1fffff);   /* sometimes huge */
	default: return r % 256;
	}
}

static void check_new(struct slot *s, size_t align)
{
	if (!s->p)
		fail("allocation failed", s->size, align);
	if ((uintptr_t)s->p % (align > 16 ? align : 16) && s->kind == K_MALLOC)
		fail("misaligned block", (uintptr_t)s->p, align);
	/* ksize for kmalloc'd blocks: in a sanitizer build malloc_usable_size
	 * is the sanitizer's (tests/sanitize). */
	size_t usable = s->kind == K_MALLOC ? malloc_usable_size(s->p) : s->kind == K_KMALLOC ? ksize(s->p) : s->size;
	if (usable < s->size)
		fail("usable size below the request", usable, s->size);
	if (s->low && (uintptr_t)s->p + s->size > LOW_LIMIT)
		fail("GFP_DMA32 block above 4 GiB", (uintptr_t)s->p, s->size);
	fill(s);
}

static void run(const uint8_t *data, size_t len)
{
	static struct slot slots[SLOTS];
	unsigned char next_fill = 1;
	if (!cache)
		cache = kmem_cache_create("fuzz", CACHE_SIZE, 0, 0, NULL);
	for (size_t i = 0; i + 5 <= len; i += 5) {
		const uint8_t *d = data + i;
		struct slot *s = &slots[d[1] % SLOTS];
		size_t size = decode_size(d + 2);
		unsigned op = d[0] % 10;
		next_fill = (unsigned char)(next_fill * 31 + 7) | 1;
		switch (op) {
		case 0: case 1:
			release(s);
			s->p = malloc(size);
			s->size = size;
			s->kind = K_MALLOC;
			s->fill = next_fill;
			check_new(s, 16);
			break;
		case 2: {
			release(s);
			s->p = calloc(1, size);
			s->size = size;
			s->kind = K_MALLOC;
			if (!s->p)
				fail("calloc failed", size, 0);
			for (size_t k = 0; k < size; k++)
				if (s->p[k])
					fail("calloc memory not zero", k, size);
			s->fill = next_fill;
			check_new(s, 16);
			break;
		}
		case 3: case 4:
			if (s->low && size > LOW_MAX)
				break;
			if (s->kind == K_MALLOC || s->kind == K_KMALLOC) {
				size_t keep = s->size < size ? s->size : size;
				unsigned char *n = s->kind == K_MALLOC ? realloc(s->p, size ? size : 1)
				                                       : krealloc(s->p, size ? size : 1, GFP_KERNEL);
				if (!n)
					fail("realloc failed", s->size, size);
				s->p = n;
				verify(s, keep);
				s->size = size;
				s->fill = next_fill;
				if (s->low && (uintptr_t)s->p + size > LOW_LIMIT)
					fail("krealloc moved a GFP_DMA32 block above 4 GiB", (uintptr_t)s->p, size);
				fill(s);
			}
			break;
		case 5:
			release(s);
			break;
		case 6: {
			release(s);
			size_t align = (size_t)1 << (4 + d[2] % 13);   /* 16 .. 64 KiB */
			if (d[0] & 0x80) {
				void *p = NULL;
				if (posix_memalign(&p, align, size) != 0)
					fail("posix_memalign failed", align, size);
				s->p = p;
			} else {
				s->p = memalign(align, size);
			}
			s->size = size;
			s->kind = K_MALLOC;
			s->fill = next_fill;
			check_new(s, align);
			if ((uintptr_t)s->p % align)
				fail("memalign misaligned", (uintptr_t)s->p, align);
			break;
		}
		case 7:
			release(s);
			s->low = (d[0] & 0x80) && size <= LOW_MAX;
			s->p = kmalloc(size ? size : 1, GFP_KERNEL | (s->low ? GFP_DMA32 : 0));
			s->size = size;
			s->kind = K_KMALLOC;
			s->fill = next_fill;
			check_new(s, 8);
			break;
		case 8:
			release(s);
			s->p = kmem_cache_alloc(cache, GFP_KERNEL);
			s->size = CACHE_SIZE;
			s->kind = K_CACHE;
			s->fill = next_fill;
			check_new(s, 8);
			break;
		default:
			/* verify a random slot in full */
			if (s->p)
				verify(s, s->size);
			break;
		}
	}
	for (unsigned k = 0; k < SLOTS; k++)
		release(&slots[k]);
}

#ifdef KALLOC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	run(data, len);
	return 0;
}
#else
int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 100;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x6b616c6c6f63ull;
	static uint8_t buf[20000];
	for (long it = 0; it < iters; it++) {
		size_t len = 5 * (1 + (seed >> 33) % (sizeof buf / 5 - 1));
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[i] = (uint8_t)(seed >> 56);
		}
		run(buf, len);
	}
	malloc_trim(0);
	printf("ops: %ld random sequences passed\n", iters);
	return 0;
}
#endif

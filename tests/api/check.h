/* SPDX-License-Identifier: MIT */
/*
 * check.h - the little harness shared by the API tests in tests/api/.
 *
 * Each test is one standalone program.  CHECK(cond) prints file:line and the
 * failed expression to stderr and counts the failure; the program ends with
 * `return check_done();`, which prints the count and returns 0 when nothing
 * failed, 1 otherwise.
 *
 * check_allocator() must be called first in main().  When the environment
 * holds KALLOC_EXPECT=1 it fails the test unless the malloc in use really is
 * kalloc's (the library exports kalloc_stats_print and the malloc symbol the
 * program binds to lives in a file named after kalloc), so a test cannot
 * pass silently on glibc's malloc when the preload library was not loaded.
 * expect_kalloc() tells a test whether to also require kalloc-specific
 * behaviour (the wording of error reports, for instance) on top of the
 * glibc rules every test asserts.
 *
 * The helpers never allocate with malloc (fill/verify patterns, formatted
 * output through stdio to stderr, which is unbuffered).
 */
#ifndef KALLOC_TESTS_API_CHECK_H
#define KALLOC_TESTS_API_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
#define CHECK_UNUSED [[maybe_unused]]
#else
#define CHECK_UNUSED __attribute__((unused))
#endif

static int check_failures;

#define CHECK(cond)                                                            \
	do {                                                                       \
		if (!(cond)) {                                                         \
			check_failures++;                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
			        #cond);                                                    \
		}                                                                      \
	} while (0)

/* CHECK with a printf-style explanation appended on failure. */
#define CHECKF(cond, ...)                                                      \
	do {                                                                       \
		if (!(cond)) {                                                         \
			check_failures++;                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__,   \
			        #cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                      \
	} while (0)

/* True when the test runs under kalloc and must hold kalloc to its own
 * documented behaviour as well (KALLOC_EXPECT=1). */
CHECK_UNUSED static int expect_kalloc(void)
{
	const char *e = getenv("KALLOC_EXPECT");
	return e != NULL && strcmp(e, "1") == 0;
}

/* Fails the test when KALLOC_EXPECT=1 and the allocator is not kalloc. */
CHECK_UNUSED static void check_allocator(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!expect_kalloc())
		return;
	void *stats = dlsym(RTLD_DEFAULT, "kalloc_stats_print");
	CHECKF(stats != NULL, "KALLOC_EXPECT=1 but kalloc_stats_print is not "
	                      "defined: the allocator under test is not kalloc");
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;
	int found = m != NULL && dladdr(m, &info) != 0 && info.dli_fname != NULL;
	CHECKF(found && strstr(info.dli_fname, "kalloc") != NULL,
	       "KALLOC_EXPECT=1 but malloc comes from %s",
	       found ? info.dli_fname : "(unknown)");
}

/* Prints the result and gives main() its exit status. */
CHECK_UNUSED static int check_done(void)
{
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	else
		fprintf(stderr, "all checks passed\n");
	return check_failures ? 1 : 0;
}

/* ---- deterministic patterns ------------------------------------------ */

/* The byte expected at offset i of a block tagged `tag`: depends on both,
 * so a block copied to the wrong offset or overlapping another is seen. */
CHECK_UNUSED static inline unsigned char pattern_byte(uint64_t tag, size_t i)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + tag * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 13) ^ (i >> 8));
}

CHECK_UNUSED static void pattern_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = (unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		c[i] = pattern_byte(tag, i);
}

/* Index of the first byte that differs from the pattern, or n. */
CHECK_UNUSED static size_t pattern_check(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != pattern_byte(tag, i))
			return i;
	return n;
}

/* For stress tests: fill a block with its pattern, completely up to 4 KiB;
 * above that the first and last 256 bytes and one byte every 64 KiB (cheap
 * for huge blocks, still catching overlap and lost data). */
CHECK_UNUSED static void block_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = (unsigned char *)p;
	if (n <= 4096) {
		pattern_fill(c, n, tag);
		return;
	}
	pattern_fill(c, 256, tag);
	for (size_t i = 256; i < n - 256; i += 65536)
		c[i] = pattern_byte(tag, i);
	for (size_t i = n - 256; i < n; i++)
		c[i] = pattern_byte(tag, i);
}

/* True when the block still holds what block_fill wrote. */
CHECK_UNUSED static int block_ok(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = (const unsigned char *)p;
	if (n <= 4096)
		return pattern_check(c, n, tag) == n;
	if (pattern_check(c, 256, tag) != 256)
		return 0;
	for (size_t i = 256; i < n - 256; i += 65536)
		if (c[i] != pattern_byte(tag, i))
			return 0;
	for (size_t i = n - 256; i < n; i++)
		if (c[i] != pattern_byte(tag, i))
			return 0;
	return 1;
}

/* A size for stress tests: mostly small, some page blocks, a few huge. */
CHECK_UNUSED static size_t stress_size(uint64_t r)
{
	unsigned pick = (unsigned)(r % 1000);
	r >>= 10;
	if (pick < 700)
		return 1 + (size_t)(r % 256);
	if (pick < 900)
		return 257 + (size_t)(r % 3840);
	if (pick < 997)
		return 4097 + (size_t)(r % 61440);
	return (256u << 10) + (size_t)(r % (5u << 20));
}

/* Index of the first nonzero byte, or n. */
CHECK_UNUSED static size_t first_nonzero(const void *p, size_t n)
{
	const unsigned char *c = (const unsigned char *)p;
	size_t i = 0;
	for (; i < n && ((uintptr_t)(c + i) & 7); i++)
		if (c[i])
			return i;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, c + i, 8);
		if (w)
			break;
	}
	for (; i < n; i++)
		if (c[i])
			return i;
	return n;
}

/* Seeded xorshift for deterministic stress tests. */
CHECK_UNUSED static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Stops the compiler from treating a size or pointer as known, so that
 * calls with absurd sizes are really made and malloc/free pairs are not
 * folded away. */
CHECK_UNUSED static size_t opaque_size(size_t n)
{
	volatile size_t v = n;
	return v;
}

CHECK_UNUSED static void *opaque_ptr(void *p)
{
	void *volatile v = p;
	return v;
}

/* Tells the compiler that the memory at p may be read from here on, so
 * stores into a block just before it is freed are not removed. */
CHECK_UNUSED static inline void escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Resident set size of this process in bytes (from /proc/self/statm). */
CHECK_UNUSED static size_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif /* KALLOC_TESTS_API_CHECK_H */

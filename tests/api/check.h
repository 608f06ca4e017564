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

#endif /* KALLOC_TESTS_API_CHECK_H */

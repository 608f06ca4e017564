/* SPDX-License-Identifier: MIT */
/*
 * ktest.h - the helpers every test program of kalloc shares (tests/lib,
 * linked into each test as the static library ktest).
 *
 * Each test is one standalone program: CHECK(cond) and CHECKF(cond, fmt, ...)
 * count a failure and print file:line, the expression and the explanation;
 * main() ends with `return check_done();`, which prints the count and returns
 * it (capped at 100, so it never wraps to 0).  Messages are formatted with
 * snprintf and written with write(2): no stdio buffer, so printing does not
 * allocate, which matters in tests that walk the allocator's own structures
 * or run under it.
 *
 * Also here: a seeded random generator (splitmix64: every seed works, 0
 * too), fill patterns that depend on a block's tag and the offset (so a
 * block copied to the wrong place or overlapping another is seen), RSS and
 * peak RSS, a child runner that captures stderr and tells how the child
 * ended (for reports that abort, and for faults), an in-process stderr
 * capture (for reports that do not abort), and the check that the malloc
 * under test really is kalloc's (KALLOC_EXPECT=1).
 */
#ifndef KALLOC_TESTS_KTEST_H
#define KALLOC_TESTS_KTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- checks ------------------------------------------------------------ */

extern int check_failures;
/* While set, failures are counted but not printed (a test that checks that a
 * checker of its own fires). */
extern int check_quiet;

void check_fail(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define CHECK(expr)                                                                 \
	do {                                                                        \
		if (!(expr))                                                        \
			check_fail(__FILE__, __LINE__, #expr, "%s", "");            \
	} while (0)

#define CHECKF(expr, ...)                                                           \
	do {                                                                        \
		if (!(expr))                                                        \
			check_fail(__FILE__, __LINE__, #expr, __VA_ARGS__);         \
	} while (0)

/* Prints "<program>: ok" or the failure count; returns the count, at most
 * 100: main's exit status. */
int check_done(void);
/* One line on stderr, formatted without allocating. */
void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when the environment says KALLOC_EXPECT=1: the test runs under
 * kalloc and holds it to its own documented behaviour as well. */
int expect_kalloc(void);
/* Fails the test when KALLOC_EXPECT=1 and the malloc in use is not kalloc's
 * (kalloc_stats_print is not defined, or malloc lives in a file not named
 * after kalloc).  Call first in main(). */
void check_allocator(void);

/* ---- random numbers ------------------------------------------------------ */

/* splitmix64: the next number of the sequence at *state. */
uint64_t rng_next(uint64_t *state);
/* Uniform in [lo, hi]. */
uint64_t rng_range(uint64_t *state, uint64_t lo, uint64_t hi);

/* ---- memory contents ----------------------------------------------------- */

/* The byte expected at offset i of a block tagged `tag`. */
static inline unsigned char pattern_byte(uint64_t tag, size_t i)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + tag * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 13) ^ (i >> 8));
}
void pattern_fill(void *p, size_t n, uint64_t tag);
/* Index of the first byte that differs from the pattern, or n. */
size_t pattern_check(const void *p, size_t n, uint64_t tag);
/* For stress tests: the pattern in full up to 4 KiB; above that the first
 * and last 256 bytes and one byte every 64 KiB (cheap for huge blocks,
 * still catching overlap and lost data). */
void block_fill(void *p, size_t n, uint64_t tag);
int block_ok(const void *p, size_t n, uint64_t tag);
/* Index of the first nonzero byte, or n. */
size_t first_nonzero(const void *p, size_t n);
/* A size for stress tests: mostly small, some page blocks, a few huge. */
size_t stress_size(uint64_t r);

/* Stop the compiler from treating a size or pointer as known, so calls with
 * absurd sizes are really made and malloc/free pairs are not folded away. */
size_t opaque_size(size_t n);
void *opaque_ptr(void *p);
/* The memory at p may be read from here on: stores just before a free are
 * kept. */
static inline void escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- the process --------------------------------------------------------- */

/* Resident set size in bytes (/proc/self/statm), 0 if unknown. */
size_t rss_bytes(void);
/* Peak RSS in bytes (VmHWM of /proc/self/status), 0 if unknown. */
size_t peak_rss_bytes(void);
/* Resets the peak RSS to the current RSS (Linux >= 4.0); 0 on success. */
int reset_peak_rss(void);
/* The text print(fd) writes (kalloc_stats_print), taken in a forked child
 * (so the report is of this process's state and printing it changes nothing
 * here); NUL-terminated in buf. */
void stats_text(void (*print)(int fd, int format), char *buf, size_t size);

/* ---- time, signals, fork -------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds. */
long long now_ms(void);
/* sigaction(sig) with handler fn and flags (SA_RESTART, ...). */
void set_handler(int sig, void (*fn)(int), int flags);
/* SIGALRM every us microseconds (ITIMER_REAL); 0 stops it. */
void alarm_every_us(long us);
/* Forks a child that exits 0 at once and waits for it.  Async-signal-safe,
 * errno kept: for signal handlers.  1 when the child ran, 0 otherwise. */
int fork_and_reap(void);

/* ---- text ---------------------------------------------------------------- */

static inline int contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}
int count_lines(const char *s);
/* "%p" of an address, as kalloc's reports print it. */
const char *addr_text(const void *p, char buf[32]);

/* ---- stderr in this process (for reports that do not abort) -------------- */

struct capture {
	int saved;
	int fd;
};
/* Redirects stderr to a temporary file. */
void capture_begin(struct capture *c);
/* Restores stderr and returns what was written (NUL-terminated, cut to
 * len - 1 bytes). */
const char *capture_end(struct capture *c, char *buf, size_t len);

/* ---- children (for reports that abort, and for faults) ------------------- */

struct child_result {
	int status;      /* from waitpid; meaningless when hung */
	int hung;        /* still running at the deadline: killed */
	size_t len;      /* bytes of stderr captured */
	char err[8192];  /* its stderr, NUL-terminated (cut short) */
};
/* Runs fn(arg) in a child with stderr on a pipe and no core dump; the child
 * exits with fn's return value.  Waits at most timeout_ms. */
void run_child(int (*fn)(void *), void *arg, int timeout_ms, struct child_result *r);
/* The signal that ended the child, or 0. */
int child_signal(const struct child_result *r);
/* The child's exit status, or -1 when it did not exit. */
int child_exit(const struct child_result *r);
int child_aborted(const struct child_result *r);
/* "exited with status 1", "killed by signal 6 (Aborted)", "hung ...". */
const char *child_describe(const struct child_result *r, char *buf, size_t len);
/* True when one line of the child's stderr contains "kalloc" and the
 * address written as 0x and lowercase hex digits (not as the prefix of a
 * longer number). */
int report_names(const struct child_result *r, const void *addr);

#ifdef __cplusplus
}
#endif

#endif /* KALLOC_TESTS_KTEST_H */

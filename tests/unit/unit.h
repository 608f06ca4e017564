/* SPDX-License-Identifier: MIT */
/*
 * unit.h - the small harness of the unit tests.
 *
 * Each test is one program that returns its failure count (capped so that
 * it never wraps to 0).  CHECK() prints file:line and the expression that
 * failed with snprintf + write(2): no stdio buffer, so no allocation, which
 * matters in tests that walk the allocator's own structures.
 *
 * Also here: a seeded random generator, RSS from /proc/self/statm, a child
 * runner that captures stderr (for reports that abort), and an in-process
 * stderr capture (for reports that do not).
 */
#ifndef KALLOC_TESTS_UNIT_H
#define KALLOC_TESTS_UNIT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UNIT_UNUSED __attribute__((unused))

static int unit_failures;
/* Set while a test checks that a checker fires: failures are counted by the
 * caller and not printed. */
static int unit_quiet;

static UNIT_UNUSED void unit_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Prints one line on stderr without allocating. */
static UNIT_UNUSED __attribute__((format(printf, 1, 2))) void unit_msg(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	unit_write(2, buf, (size_t)n);
}

/* Failure messages are limited, so that a broken invariant checked in a
 * loop does not flood the log. */
#define UNIT_MAX_MESSAGES 50

#define CHECK(expr) CHECKF(expr, "%s", "")

#define CHECKF(expr, ...)                                                              \
	do {                                                                           \
		if (!(expr)) {                                                         \
			unit_failures++;                                               \
			if (!unit_quiet && unit_failures <= UNIT_MAX_MESSAGES) {       \
				char unit_ctx_[512];                                   \
				snprintf(unit_ctx_, sizeof unit_ctx_, __VA_ARGS__);    \
				unit_msg("%s:%d: CHECK failed: %s%s%s", __FILE__,      \
				         __LINE__, #expr, unit_ctx_[0] ? " -- " : "",  \
				         unit_ctx_);                                   \
			}                                                              \
		}                                                                      \
	} while (0)

/* The exit status of a test: its failure count, at most 100. */
static UNIT_UNUSED int unit_done(const char *name)
{
	if (unit_failures)
		unit_msg("%s: %d failure%s", name, unit_failures, unit_failures == 1 ? "" : "s");
	else
		unit_msg("%s: ok", name);
	return unit_failures > 100 ? 100 : unit_failures;
}

/* ------------------------------------------------------------------ */
/* deterministic random numbers (splitmix64)                           */
/* ------------------------------------------------------------------ */

struct unit_rng {
	uint64_t s;
};

static UNIT_UNUSED uint64_t unit_rand(struct unit_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static UNIT_UNUSED uint64_t unit_range(struct unit_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + unit_rand(r) % (hi - lo + 1);
}

/* ------------------------------------------------------------------ */
/* memory                                                              */
/* ------------------------------------------------------------------ */

/* Resident set size in bytes (second field of /proc/self/statm). */
static UNIT_UNUSED size_t unit_rss(void)
{
	char buf[256];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long size = 0, resident = 0;
	if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
		return 0;
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Peak RSS in bytes (VmHWM of /proc/self/status), 0 if unknown. */
static UNIT_UNUSED size_t unit_peak_rss(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *l = strstr(buf, "VmHWM:");
	unsigned long kb = 0;
	if (!l || sscanf(l + 6, "%lu", &kb) != 1)
		return 0;
	return (size_t)kb << 10;
}

/* Resets the peak RSS to the current RSS (Linux >= 4.0); 0 on success. */
static UNIT_UNUSED int unit_reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, "5", 1);
	close(fd);
	return n == 1 ? 0 : -1;
}

/* Byte pattern of block `id` at offset i. */
static inline uint8_t unit_pat(uint64_t id, size_t i)
{
	uint64_t x = (id * 0x9e3779b97f4a7c15ull) ^ (uint64_t)i * 0x2545f4914f6cdd1dull;
	return (uint8_t)(x >> 56) ^ (uint8_t)i;
}

static UNIT_UNUSED void unit_fill(void *p, size_t n, uint64_t id)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = unit_pat(id, i);
}

/* Index of the first byte that differs from the pattern, or n. */
static UNIT_UNUSED size_t unit_verify(const void *p, size_t n, uint64_t id)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != unit_pat(id, i))
			return i;
	return n;
}

/* Index of the first nonzero byte, or n. */
static UNIT_UNUSED size_t unit_first_nonzero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		if (w)
			break;
	}
	for (; i < n; i++)
		if (b[i])
			return i;
	return n;
}

/* ------------------------------------------------------------------ */
/* text                                                                */
/* ------------------------------------------------------------------ */

static UNIT_UNUSED int unit_contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static UNIT_UNUSED int unit_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* "%p" of an address, as the reports print it. */
static UNIT_UNUSED const char *unit_addr(const void *p, char buf[32])
{
	snprintf(buf, 32, "%p", p);
	return buf;
}

/* ------------------------------------------------------------------ */
/* stderr capture in this process (for reports that do not abort)      */
/* ------------------------------------------------------------------ */

struct unit_capture {
	int saved;
	int fd;
	char path[64];
};

/* Redirects stderr to a temporary file. */
static UNIT_UNUSED void unit_capture_begin(struct unit_capture *c)
{
	snprintf(c->path, sizeof c->path, "/tmp/kalloc-unit-err.XXXXXX");
	c->fd = mkstemp(c->path);
	if (c->fd < 0) {
		unit_msg("mkstemp failed: %s", strerror(errno));
		abort();
	}
	unlink(c->path);
	c->saved = dup(2);
	dup2(c->fd, 2);
}

/* Restores stderr and returns what was written (NUL-terminated, truncated
 * to len - 1 bytes). */
static UNIT_UNUSED const char *unit_capture_end(struct unit_capture *c, char *buf, size_t len)
{
	dup2(c->saved, 2);
	close(c->saved);
	ssize_t n = pread(c->fd, buf, len - 1, 0);
	close(c->fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* children (for reports that abort, and for faults)                   */
/* ------------------------------------------------------------------ */

struct unit_child {
	int status;      /* waitpid status */
	int hung;        /* killed after the deadline */
	char err[8192];  /* its stderr, NUL-terminated */
};

/* Runs fn(arg) in a child with stderr on a pipe and no core dump; the child
 * exits with fn's return value.  Waits at most timeout_ms. */
static UNIT_UNUSED void unit_run_child(int (*fn)(void *), void *arg, int timeout_ms, struct unit_child *r)
{
	memset(r, 0, sizeof *r);
	int fds[2];
	if (pipe(fds) != 0) {
		unit_msg("pipe: %s", strerror(errno));
		r->hung = 1;
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		unit_msg("fork: %s", strerror(errno));
		r->hung = 1;
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		_exit(fn(arg));
	}
	close(fds[1]);
	size_t len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= timeout_ms) {
			r->hung = 1;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int n = poll(&pfd, 1, (int)(timeout_ms - ms));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		char tmp[1024];
		ssize_t got = read(fds[0], tmp, sizeof tmp);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;   /* EOF: the child is gone (or closed stderr) */
		size_t room = sizeof r->err - 1 - len;
		size_t take = (size_t)got < room ? (size_t)got : room;
		memcpy(r->err + len, tmp, take);
		len += take;
	}
	close(fds[0]);
	r->err[len] = '\0';
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
}

static UNIT_UNUSED int unit_child_signal(const struct unit_child *r)
{
	return !r->hung && WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0;
}

static UNIT_UNUSED int unit_child_exit(const struct unit_child *r)
{
	return !r->hung && WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

#endif /* KALLOC_TESTS_UNIT_H */

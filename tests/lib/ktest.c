/* SPDX-License-Identifier: MIT */
/*
 * ktest.c - the helpers every test program shares (ktest.h).
 */
#include "ktest.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int check_failures;
int check_quiet;

/* A broken invariant checked in a loop must not flood the log. */
#define MAX_MESSAGES 50

static void write_all(int fd, const char *s, size_t n)
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

static void vmsg(const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno;
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	if (n >= 0) {
		if ((size_t)n > sizeof buf - 2)
			n = (int)sizeof buf - 2;
		buf[n++] = '\n';
		write_all(2, buf, (size_t)n);
	}
	errno = saved;
}

void test_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void check_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	check_failures++;
	if (check_quiet || check_failures > MAX_MESSAGES)
		return;
	char ctx[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	test_msg("%s:%d: CHECK failed: %s%s%s", file, line, expr, ctx[0] ? " -- " : "", ctx);
}

int check_done(void)
{
	if (check_failures)
		test_msg("%s: %d check%s failed", program_invocation_short_name, check_failures,
		         check_failures == 1 ? "" : "s");
	else
		test_msg("%s: ok", program_invocation_short_name);
	return check_failures > 100 ? 100 : check_failures;
}

int expect_kalloc(void)
{
	const char *e = getenv("KALLOC_EXPECT");
	return e != NULL && strcmp(e, "1") == 0;
}

void check_allocator(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!expect_kalloc())
		return;
	void *stats = dlsym(RTLD_DEFAULT, "kalloc_stats_print");
	CHECKF(stats != NULL, "KALLOC_EXPECT=1 but kalloc_stats_print is not defined: "
	                      "the allocator under test is not kalloc");
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;
	int found = m != NULL && dladdr(m, &info) != 0 && info.dli_fname != NULL;
	CHECKF(found && strstr(info.dli_fname, "kalloc") != NULL, "KALLOC_EXPECT=1 but malloc comes from %s",
	       found ? info.dli_fname : "(unknown)");
}

/* ---- random numbers ------------------------------------------------------ */

uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rng_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + rng_next(state) % (hi - lo + 1);
}

/* ---- memory contents ----------------------------------------------------- */

void pattern_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = (unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		c[i] = pattern_byte(tag, i);
}

size_t pattern_check(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != pattern_byte(tag, i))
			return i;
	return n;
}

void block_fill(void *p, size_t n, uint64_t tag)
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

int block_ok(const void *p, size_t n, uint64_t tag)
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

size_t first_nonzero(const void *p, size_t n)
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

size_t stress_size(uint64_t r)
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

size_t opaque_size(size_t n)
{
	volatile size_t v = n;
	return v;
}

void *opaque_ptr(void *p)
{
	void *volatile v = p;
	return v;
}

/* ---- the process --------------------------------------------------------- */

/* Reads a small /proc file into buf without stdio; the length or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

size_t rss_bytes(void)
{
	char buf[256];
	unsigned long size = 0, resident = 0;
	if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0 || sscanf(buf, "%lu %lu", &size, &resident) != 2)
		return 0;
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t peak_rss_bytes(void)
{
	char buf[4096];
	unsigned long kb = 0;
	if (read_proc("/proc/self/status", buf, sizeof buf) <= 0)
		return 0;
	const char *l = strstr(buf, "VmHWM:");
	if (!l || sscanf(l + 6, "%lu", &kb) != 1)
		return 0;
	return (size_t)kb << 10;
}

int reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, "5", 1);
	close(fd);
	return n == 1 ? 0 : -1;
}

void stats_text(void (*print)(int, int), char *buf, size_t size)
{
	int fds[2];
	size_t n = 0;
	buf[0] = 0;
	if (!print || pipe(fds) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		print(1, 0);
		_exit(0);
	}
	close(fds[1]);
	ssize_t r;
	while (n < size - 1 && (r = read(fds[0], buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

/* ---- time, signals, fork -------------------------------------------------- */

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

void alarm_every_us(long us)
{
	struct itimerval it = { { 0, us }, { 0, us } };
	setitimer(ITIMER_REAL, &it, NULL);
}

int fork_and_reap(void)
{
	int saved = errno, ran = 0;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		ran = 1;
	}
	errno = saved;
	return ran;
}

/* ---- text ---------------------------------------------------------------- */

int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

const char *addr_text(const void *p, char buf[32])
{
	snprintf(buf, 32, "%p", p);
	return buf;
}

/* ---- stderr in this process ---------------------------------------------- */

void capture_begin(struct capture *c)
{
	char path[] = "/tmp/kalloc-test-err.XXXXXX";
	c->fd = mkstemp(path);
	if (c->fd < 0) {
		test_msg("mkstemp failed: %s", strerror(errno));
		abort();
	}
	unlink(path);
	c->saved = dup(2);
	dup2(c->fd, 2);
}

const char *capture_end(struct capture *c, char *buf, size_t len)
{
	dup2(c->saved, 2);
	close(c->saved);
	ssize_t n = pread(c->fd, buf, len - 1, 0);
	close(c->fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* ---- children ------------------------------------------------------------ */

void run_child(int (*fn)(void *), void *arg, int timeout_ms, struct child_result *r)
{
	memset(r, 0, sizeof *r);
	int fds[2];
	if (pipe(fds) != 0) {
		test_msg("pipe: %s", strerror(errno));
		r->hung = 1;
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		test_msg("fork: %s", strerror(errno));
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
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			r->hung = 1;
			break;
		}
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int n = poll(&pfd, 1, (int)left);
		if (n <= 0)
			continue;
		char tmp[1024];
		ssize_t got = read(fds[0], tmp, sizeof tmp);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;   /* EOF: the child is gone (or closed stderr) */
		size_t room = sizeof r->err - 1 - r->len;
		size_t take = (size_t)got < room ? (size_t)got : room;
		memcpy(r->err + r->len, tmp, take);
		r->len += take;
	}
	close(fds[0]);
	r->err[r->len] = '\0';
	if (r->hung) {
		kill(pid, SIGKILL);
		waitpid(pid, &r->status, 0);
		return;
	}
	/* EOF seen: the child ends soon; still bound the wait. */
	for (;;) {
		pid_t w = waitpid(pid, &r->status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r->hung = 1;
			break;
		}
		if (now_ms() > deadline) {
			r->hung = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			break;
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

int child_signal(const struct child_result *r)
{
	return !r->hung && WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0;
}

int child_exit(const struct child_result *r)
{
	return !r->hung && WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

int child_aborted(const struct child_result *r)
{
	return child_signal(r) == SIGABRT;
}

const char *child_describe(const struct child_result *r, char *buf, size_t len)
{
	if (r->hung)
		snprintf(buf, len, "hung (killed after the deadline)");
	else if (WIFEXITED(r->status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	else
		snprintf(buf, len, "status %#x", r->status);
	return buf;
}

int report_names(const struct child_result *r, const void *addr)
{
	char want[32];
	snprintf(want, sizeof want, "0x%lx", (unsigned long)(uintptr_t)addr);
	const char *line = r->err;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char one[1024];
		if (n >= sizeof one)
			n = sizeof one - 1;
		memcpy(one, line, n);
		one[n] = '\0';
		if (strstr(one, "kalloc")) {
			for (const char *hit = strstr(one, want); hit; hit = strstr(hit + 1, want)) {
				char after = hit[strlen(want)];
				int before_ok = hit == one || !isalnum((unsigned char)hit[-1]);
				if (before_ok && !isxdigit((unsigned char)after))
					return 1;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	return 0;
}

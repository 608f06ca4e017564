/* SPDX-License-Identifier: MIT */
/*
 * child.h - run a function in a forked child and collect how it ended and
 * what it wrote to stderr.  Used by the tests of misuse reports, which must
 * abort the process.
 */
#ifndef KALLOC_TESTS_API_CHILD_H
#define KALLOC_TESTS_API_CHILD_H

#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct child_result {
	int status;     /* from waitpid; meaningless when hung */
	int hung;       /* still running after the deadline: killed */
	size_t len;     /* bytes of stderr captured */
	char err[8192]; /* stderr, NUL-terminated (truncated) */
};

static long long child_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs fn(arg) in a child whose stderr goes to a pipe; the child exits 0 if
 * fn returns.  Waits at most timeout_ms. */
CHECK_UNUSED static void run_child(void (*fn)(void *), void *arg, int timeout_ms,
                                   struct child_result *r)
{
	memset(r, 0, sizeof *r);
	int fds[2];
	if (pipe(fds) != 0) {
		CHECK(!"pipe failed");
		r->hung = 1;
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		CHECK(!"fork failed");
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
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	long long deadline = child_now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - child_now_ms();
		if (left <= 0) {
			r->hung = 1;
			break;
		}
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		char tmp[1024];
		ssize_t got = read(fds[0], tmp, sizeof tmp);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* EOF: the child is gone (or closed stderr) */
		size_t room = sizeof r->err - 1 - r->len;
		size_t take = (size_t)got < room ? (size_t)got : room;
		memcpy(r->err + r->len, tmp, take);
		r->len += take;
	}
	close(fds[0]);
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
		if (child_now_ms() > deadline) {
			r->hung = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			break;
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	r->err[r->len] = '\0';
}

CHECK_UNUSED static const char *child_describe(const struct child_result *r, char *buf,
                                               size_t len)
{
	if (r->hung)
		snprintf(buf, len, "hung (killed after the deadline)");
	else if (WIFEXITED(r->status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(r->status),
		         strsignal(WTERMSIG(r->status)));
	else
		snprintf(buf, len, "status %#x", r->status);
	return buf;
}

/* True when one line of the captured stderr contains "kalloc" and the
 * address written as 0x followed by lowercase hex digits (and not as the
 * prefix of a longer number). */
CHECK_UNUSED static int report_names(const struct child_result *r, const void *addr)
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

CHECK_UNUSED static int child_aborted(const struct child_result *r)
{
	return !r->hung && WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

/* ---- control cases: prove the harness sees what it must see ---------- */

static void control_report_and_abort(void *addr)
{
	fprintf(stderr, "some other output\nkalloc: control report for %p\n", addr);
	abort();
}

static void control_exit(void *arg)
{
	(void)arg;
	fprintf(stderr, "kalloc 0x1234 but no abort\n");
}

/* The harness must tell an abort with a proper report from a normal exit
 * and from a report naming another address. */
CHECK_UNUSED static void check_harness(void)
{
	static struct child_result r;
	void *addr = (void *)(uintptr_t)0x7f12abcd1230ull;
	run_child(control_report_and_abort, addr, 5000, &r);
	CHECK(child_aborted(&r));
	CHECK(report_names(&r, addr));
	CHECK(!report_names(&r, (void *)(uintptr_t)0x7f12abcd123ull));
	CHECK(!report_names(&r, (void *)(uintptr_t)0x7f12abcd12300ull));
	run_child(control_exit, NULL, 5000, &r);
	CHECK(!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK(!child_aborted(&r));
	CHECK(report_names(&r, (void *)0x1234));
}

#endif /* KALLOC_TESTS_API_CHILD_H */

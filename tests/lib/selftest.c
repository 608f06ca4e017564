/* SPDX-License-Identifier: MIT */
/*
 * selftest: the test helpers (ktest.h) see what they must see, so that a
 * test built on them can fail:
 *   - run_child tells an abort with a report from a normal exit, a report
 *     naming another address from one naming the right one, and a hang
 *     from either;
 *   - the patterns catch a changed byte and a block copied one byte off;
 *   - the generator is deterministic per seed and differs between seeds;
 *   - capture_begin/end return what was written to stderr;
 *   - a failed CHECK counts (quietly here).
 */
#include "ktest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_and_abort(void *addr)
{
	fprintf(stderr, "some other output\nkalloc: control report for %p\n", addr);
	abort();
}

static int plain_exit(void *arg)
{
	(void)arg;
	fprintf(stderr, "kalloc 0x1234 but no abort\n");
	return 7;
}

static int hang(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		sleep(1);
	return 0;
}

static void children(void)
{
	static struct child_result r;
	void *addr = (void *)(uintptr_t)0x7f12abcd1230ull;
	run_child(report_and_abort, addr, 5000, &r);
	CHECK(child_aborted(&r));
	CHECK(child_signal(&r) == SIGABRT && child_exit(&r) == -1);
	CHECK(report_names(&r, addr));
	CHECK(!report_names(&r, (void *)(uintptr_t)0x7f12abcd123ull));
	CHECK(!report_names(&r, (void *)(uintptr_t)0x7f12abcd12300ull));
	run_child(plain_exit, NULL, 5000, &r);
	CHECK(!r.hung && child_exit(&r) == 7 && !child_aborted(&r));
	CHECK(report_names(&r, (void *)0x1234));
	run_child(hang, NULL, 200, &r);
	char how[128];
	CHECKF(r.hung && child_exit(&r) == -1, "%s", child_describe(&r, how, sizeof how));
}

static void patterns(void)
{
	unsigned char a[300], b[301];
	pattern_fill(a, sizeof a, 42);
	CHECK(pattern_check(a, sizeof a, 42) == sizeof a);
	CHECK(pattern_check(a, sizeof a, 43) < sizeof a);
	a[123] ^= 1;
	CHECK(pattern_check(a, sizeof a, 42) == 123);
	pattern_fill(b + 1, 300, 42);
	CHECK(pattern_check(b, 300, 42) < 300);   /* one byte off */
	CHECK(first_nonzero(a, sizeof a) < sizeof a);
	unsigned char z[100] = { 0 };
	CHECK(first_nonzero(z, sizeof z) == sizeof z);
	z[77] = 1;
	CHECK(first_nonzero(z, sizeof z) == 77);
}

static void random_numbers(void)
{
	uint64_t s1 = 5, s2 = 5, s3 = 6;
	int same = 1, differ = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t x = rng_next(&s1), y = rng_next(&s2), z = rng_next(&s3);
		same &= x == y;
		differ |= x != z;
		uint64_t r = rng_range(&s1, 10, 20);
		rng_range(&s2, 10, 20);
		CHECK(r >= 10 && r <= 20);
	}
	CHECK(same && differ);
	uint64_t zero = 0;
	CHECK(rng_next(&zero) != 0);
}

static void capture(void)
{
	struct capture c;
	char buf[256];
	capture_begin(&c);
	test_msg("captured line %d", 5);
	capture_end(&c, buf, sizeof buf);
	CHECK(contains(buf, "captured line 5\n") && count_lines(buf) == 1);
}

static void checks_count(void)
{
	int before = check_failures;
	check_quiet = 1;
	CHECK(1 == 2);
	CHECKF(0, "%d", 1);
	check_quiet = 0;
	int counted = check_failures - before;
	check_failures = before;
	CHECK(counted == 2);
}

int main(void)
{
	children();
	patterns();
	random_numbers();
	capture();
	checks_count();
	return check_done();
}

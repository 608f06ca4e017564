/* SPDX-License-Identifier: MIT */
/*
 * os_tune: the OS layer (os.c) and the tunables (tune.c), the two bottom
 * layers, against their contracts:
 *   - kos_map returns zeroed memory aligned as asked, NULL for an impossible
 *     size, and leaves errno alone either way; kos_map_at maps exactly there
 *     or refuses an occupied range;
 *   - kos_release makes pages read as zero, kos_protect_none makes them fault,
 *     kos_unmap makes them fault and returns an errno value for a bad
 *     range, kos_remap moves pages (data kept, old range gone) or fails
 *     leaving them;
 *   - kos_reserve gives address space that faults, kos_reserve_at reserves exactly there or refuses
 *     an occupied range; kos_map_guarded is aligned, writable inside, with a
 *     faulting page just before and just after; errno kept throughout;
 *   - when the OS refuses (RLIMIT_AS), kos_map calls the reclaim hook once and
 *     retries once if the hook gave something back;
 *   - kos_random, kos_now_ns, kos_parse_cpu_list, kos_mark_cpu_list,
 *     kos_map_min, kos_ncpus, kwrite_all, kos_open_append;
 *   - kenv_parse_size / kenv_parse_bool accept and refuse what they should
 *     (suffixes, overflow), and ktune_load applies good values and warns once
 *     per bad one, naming the variable, keeping the default.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MiB (1UL << 20)

static void map_basics(void)
{
	size_t aligns[] = { PAGE_SIZE, 64 << 10, 2 * MiB, 64 * MiB };
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		errno = 1234;
		char *p = kos_map(3 * MiB + 100, aligns[i], i & 1, 0);
		CHECKF(p && ((uintptr_t)p & (aligns[i] - 1)) == 0, "kos_map align %zu: %p", aligns[i], (void *)p);
		CHECK(errno == 1234);
		if (!p)
			continue;
		CHECK(first_nonzero(p, 3 * MiB + 100) == 3 * MiB + 100);
		pattern_fill(p, 3 * MiB + 100, i);   /* all of it (rounded to pages) is usable */
		CHECK(kos_unmap(p, 3 * MiB + 100) == 0);
	}
	errno = 1234;
	CHECK(kos_map((size_t)1 << 62, PAGE_SIZE, false, 0) == NULL);
	CHECK(errno == 1234);
	CHECK(kos_map(0, PAGE_SIZE, false, 0) == NULL);
	CHECK(errno == 1234);
	errno = 1234;
	CHECK(kos_unmap((void *)1, PAGE_SIZE) == EINVAL);   /* misaligned */
	CHECK(errno == 1234);
}

static void map_at(void)
{
	char *hole = kos_map(4 * PAGE_SIZE, PAGE_SIZE, false, 0);
	CHECK(hole != NULL);
	if (!hole)
		return;
	/* Occupied: refused, and the mapping there is intact. */
	hole[0] = 7;
	CHECK(kos_map_at(hole + PAGE_SIZE, PAGE_SIZE) == NULL);
	CHECK(hole[0] == 7);
	CHECK(kos_unmap(hole, 4 * PAGE_SIZE) == 0);
	char *p = kos_map_at(hole + PAGE_SIZE, 2 * PAGE_SIZE);
	CHECK(p == hole + PAGE_SIZE);
	if (p) {
		CHECK(first_nonzero(p, 2 * PAGE_SIZE) == 2 * PAGE_SIZE);
		p[2 * PAGE_SIZE - 1] = 1;
		kos_unmap(p, 2 * PAGE_SIZE);
	}
}

static int touch(void *p)
{
	*(volatile char *)p = 1;
	return 0;
}

static void release_protect_unmap_remap(void)
{
	char *p = kos_map(8 * PAGE_SIZE, PAGE_SIZE, false, 0);
	CHECK(p != NULL);
	if (!p)
		return;
	pattern_fill(p, 8 * PAGE_SIZE, 3);
	CHECK(kos_release(p + PAGE_SIZE, 2 * PAGE_SIZE) == 0);
	CHECK(first_nonzero(p + PAGE_SIZE, 2 * PAGE_SIZE) == 2 * PAGE_SIZE);
	CHECK(pattern_check(p, PAGE_SIZE, 3) == PAGE_SIZE);
	CHECK(p[3 * PAGE_SIZE] == (char)pattern_byte(3, 3 * PAGE_SIZE));

	CHECK(kos_protect_none(p + 7 * PAGE_SIZE, PAGE_SIZE) == 0);
	static struct child_result r;
	run_child(touch, p + 7 * PAGE_SIZE, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "write to a guard page: signal %d", child_signal(&r));
	run_child(touch, p + 6 * PAGE_SIZE, 10000, &r);
	CHECK(child_exit(&r) == 0);

	/* remap: the first 4 pages grow to 12; the next 4 are mapped, so the
	 * pages must move; data kept, the new tail zero, the old range gone */
	pattern_fill(p, 4 * PAGE_SIZE, 9);
	char *n = kos_remap(p, 4 * PAGE_SIZE, 12 * PAGE_SIZE);
	CHECK(n != NULL && n != p);
	if (n) {
		CHECK(pattern_check(n, 4 * PAGE_SIZE, 9) == 4 * PAGE_SIZE);
		CHECK(first_nonzero(n + 4 * PAGE_SIZE, 8 * PAGE_SIZE) == 8 * PAGE_SIZE);
		run_child(touch, p, 10000, &r);
		CHECK(child_signal(&r) == SIGSEGV);
		kos_unmap(n, 12 * PAGE_SIZE);
	}
	/* a failed remap (nothing mapped there) returns NULL, errno kept */
	errno = 1234;
	CHECK(kos_remap(p, PAGE_SIZE, 2 * PAGE_SIZE) == NULL);
	CHECK(errno == 1234);
	kos_unmap(p + 4 * PAGE_SIZE, 4 * PAGE_SIZE);
}

static void reserve_and_guard(void)
{
	static struct child_result r;
	errno = 4321;
	char *z = kos_reserve(16 * PAGE_SIZE);
	CHECK(z != NULL);
	if (!z)
		return;
	run_child(touch, z + 3 * PAGE_SIZE, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "write into a reservation: %d", child_signal(&r));
	CHECK(kos_reserve_at(z, PAGE_SIZE) == NULL);   /* occupied */
	CHECK(kos_unmap(z + 8 * PAGE_SIZE, 8 * PAGE_SIZE) == 0);
	CHECK(kos_reserve_at(z + 8 * PAGE_SIZE, 8 * PAGE_SIZE) == z + 8 * PAGE_SIZE);
	run_child(touch, z + 9 * PAGE_SIZE, 10000, &r);
	CHECK(child_signal(&r) == SIGSEGV);
	kos_unmap(z, 16 * PAGE_SIZE);

	char *g = kos_map_guarded(3 * PAGE_SIZE + 5, 2UL << 20, true);
	CHECK(g != NULL && ((uintptr_t)g & ((2UL << 20) - 1)) == 0);
	if (g) {
		CHECK(first_nonzero(g, 4 * PAGE_SIZE) == 4 * PAGE_SIZE);
		run_child(touch, g, 10000, &r);
		CHECK(child_exit(&r) == 0);
		run_child(touch, g + 4 * PAGE_SIZE - 1, 10000, &r);
		CHECK(child_exit(&r) == 0);
		run_child(touch, g - 1, 10000, &r);
		CHECKF(child_signal(&r) == SIGSEGV, "no guard page before a guarded mapping");
		run_child(touch, g + 4 * PAGE_SIZE, 10000, &r);
		CHECKF(child_signal(&r) == SIGSEGV, "no guard page after a guarded mapping");
		kos_unmap(g - PAGE_SIZE, 6 * PAGE_SIZE);
	}
	CHECK(errno == 4321);
}

/* ---- the reclaim hook, under an address-space limit (in a child) ------ */

static int hook_calls;
static size_t hook_gives;

static size_t hook(void)
{
	hook_calls++;
	return hook_gives;
}

static int reclaim_case(void *arg)
{
	(void)arg;
	struct rlimit lim = { 1UL << 30, 1UL << 30 };
	if (setrlimit(RLIMIT_AS, &lim) != 0)
		return 10;
	kos_set_reclaim(hook);
	hook_gives = 0;
	if (kos_map(2UL << 30, PAGE_SIZE, false, 0) != NULL || hook_calls != 1)
		return 1;   /* refused, the hook asked once */
	hook_gives = 4096;
	if (kos_map(2UL << 30, PAGE_SIZE, false, 0) != NULL || hook_calls != 2)
		return 2;   /* still refused after the one retry */
	hook_calls = 0;
	void *ok = kos_map(MiB, PAGE_SIZE, false, 0);
	if (!ok || hook_calls != 0)
		return 3;   /* a mapping that fits does not reclaim */
	return 0;
}

static void reclaim_hook(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return;   /* the sanitizer's shadow memory alone is far above any RLIMIT_AS */
#endif
	static struct child_result r;
	run_child(reclaim_case, NULL, 20000, &r);
	char how[128];
	CHECKF(child_exit(&r) == 0, "reclaim case: %s\n%s", child_describe(&r, how, sizeof how), r.err);
}

/* ---- the rest of os.c ---------------------------------------------------- */

static void odds_and_ends(void)
{
	uint64_t a[4] = { 0 }, b[4] = { 0 };
	kos_random(a, sizeof a);
	kos_random(b, sizeof b);
	CHECK(memcmp(a, b, sizeof a) != 0);
	CHECK(first_nonzero(a, sizeof a) < sizeof a);

	uint64_t t0 = kos_now_ns();
	usleep(2000);
	uint64_t t1 = kos_now_ns();
	CHECKF(t1 - t0 >= 2000000 && t1 - t0 < 2000000000ull, "%lu ns for a 2 ms sleep", (unsigned long)(t1 - t0));

	CHECK(kos_parse_cpu_list("0-3,8-11\n") == 12);
	CHECK(kos_parse_cpu_list("0\n") == 1);
	CHECK(kos_parse_cpu_list("5") == 6);
	CHECK(kos_parse_cpu_list("0-1") == 2);
	CHECK(kos_parse_cpu_list("") == 0);
	/* the node map's parser: ranges and singles, CPUs past the map left out */
	uint8_t map[12];
	memset(map, 9, sizeof map);
	CHECK(kos_mark_cpu_list("0-3,8,10-13\n", map, sizeof map, 1) == 7);
	CHECK(map[0] == 1 && map[3] == 1 && map[4] == 9 && map[7] == 9 && map[8] == 1 && map[9] == 9 && map[10] == 1 &&
	      map[11] == 1);
	CHECK(kos_mark_cpu_list("\n", map, sizeof map, 2) == 0);
	CHECK(kos_mark_cpu_list("5", map, sizeof map, 2) == 1 && map[5] == 2);
	/* the lowest address ZONE_DMA may map: page aligned, never page 0 */
	uintptr_t min = kos_map_min();
	CHECK(min >= PAGE_SIZE && (min & (PAGE_SIZE - 1)) == 0);
	unsigned n = kos_ncpus();
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
	unsigned highest = 0;
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			highest = c + 1;
	CHECKF(n >= 1 && n >= highest, "kos_ncpus %u, highest allowed CPU + 1 is %u", n, highest);
	CHECKF(sched_getcpu() < 0 || (unsigned)sched_getcpu() < n, "running on CPU %d of %u", sched_getcpu(), n);

	int fds[2];
	CHECK(pipe(fds) == 0);
	static char big[60000];
	pattern_fill(big, sizeof big, 11);
	if (fork() == 0) {
		close(fds[0]);
		kwrite_all(fds[1], big, sizeof big);
		_exit(0);
	}
	close(fds[1]);
	static char got[60000];
	size_t len = 0;
	ssize_t k;
	while (len < sizeof got && (k = read(fds[0], got + len, sizeof got - len)) > 0)
		len += (size_t)k;
	close(fds[0]);
	CHECK(len == sizeof big && memcmp(big, got, len) == 0);

	char path[] = "/tmp/kalloc-os-test.XXXXXX";
	int tmp = mkstemp(path);
	CHECK(tmp >= 0);
	close(tmp);
	for (int i = 0; i < 2; i++) {
		int fd = kos_open_append(path);
		CHECK(fd >= 0);
		kwrite_all(fd, "line\n", 5);
		kos_close(fd);
	}
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY);
	CHECK(read(fd, buf, sizeof buf - 1) == 10 && strcmp(buf, "line\nline\n") == 0);
	close(fd);
	unlink(path);
	errno = 1234;
	CHECK(kos_open_append("/nonexistent-dir/x") < 0 && errno == 1234);
}

/* ---- tune.c ------------------------------------------------------------- */

static void parse(void)
{
	static const struct {
		const char *s;
		bool ok;
		size_t v;
	} sizes[] = {
		{ "0", true, 0 },          { "123", true, 123 },
		{ "4K", true, 4096 },      { "4k", true, 4096 },
		{ "2M", true, 2 * MiB },   { "3g", true, 3UL << 30 },
		{ "", false, 0 },          { "K", false, 0 },
		{ "12x", false, 0 },       { "1 M", false, 0 },
		{ "-5", false, 0 },        { "1MB", false, 0 },
		{ "18446744073709551615", true, SIZE_MAX },
		{ "18446744073709551616", false, 0 },
		{ "17179869184G", false, 0 },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t v = 77;
		bool ok = kenv_parse_size(sizes[i].s, &v);
		CHECKF(ok == sizes[i].ok && (!ok || v == sizes[i].v) && (ok || v == 77), "kenv_parse_size(\"%s\"): %d %zu",
		       sizes[i].s, ok, v);
	}
	bool b = false;
	CHECK(kenv_parse_bool("1", &b) && b);
	CHECK(kenv_parse_bool("0", &b) && !b);
	CHECK(!kenv_parse_bool("2", &b) && !kenv_parse_bool("yes", &b) && !kenv_parse_bool("", &b) &&
	      !kenv_parse_bool("10", &b));
	setenv("KALLOC_TEST_VAR", "v1", 1);
	CHECK(kenv_get("KALLOC_TEST_VAR") && strcmp(kenv_get("KALLOC_TEST_VAR"), "v1") == 0);
	CHECK(kenv_get("KALLOC_TEST_VA") == NULL && kenv_get("KALLOC_TEST_VARX") == NULL);
}

static void load(void)
{
	struct ktunables saved = ktune;
	struct capture c;
	char out[2048];

	setenv("KALLOC_DIRTY_MAX", "64M", 1);
	setenv("KALLOC_PCPU_BUDGET", "1M", 1);
	setenv("KALLOC_RSEQ", "0", 1);
	setenv("KALLOC_STATS", "/tmp/x", 1);
	capture_begin(&c);
	ktune_load();
	capture_end(&c, out, sizeof out);
	CHECKF(out[0] == '\0', "good values warned: %s", out);
	CHECK(ktune.dirty_max == 64 * MiB && ktune.pcpu_budget == MiB && !ktune.rseq && ktune.stats &&
	      strcmp(ktune.stats, "/tmp/x") == 0);

	ktune = saved;
	setenv("KALLOC_DIRTY_MAX", "lots", 1);
	setenv("KALLOC_PCPU_BUDGET", "100", 1);   /* below its 4K minimum */
	setenv("KALLOC_RSEQ", "maybe", 1);
	setenv("KALLOC_STATS", "0", 1);
	capture_begin(&c);
	ktune_load();
	capture_end(&c, out, sizeof out);
	CHECKF(count_lines(out) == 3, "want 3 warnings:\n%s", out);
	CHECK(contains(out, "kalloc: KALLOC_DIRTY_MAX=lots: expected"));
	CHECK(contains(out, "kalloc: KALLOC_PCPU_BUDGET=100: expected"));
	CHECK(contains(out, "kalloc: KALLOC_RSEQ=maybe: expected 0 or 1; using the default"));
	CHECK(ktune.dirty_max == saved.dirty_max && ktune.pcpu_budget == saved.pcpu_budget &&
	      ktune.rseq == saved.rseq && ktune.stats == NULL);

	unsetenv("KALLOC_DIRTY_MAX");
	unsetenv("KALLOC_PCPU_BUDGET");
	unsetenv("KALLOC_RSEQ");
	unsetenv("KALLOC_STATS");
	ktune = saved;
}

int main(void)
{
	free(malloc(1));   /* kalloc initialised: its hook registered, which the child replaces */
	map_basics();
	map_at();
	release_protect_unmap_remap();
	reserve_and_guard();
	reclaim_hook();
	odds_and_ends();
	parse();
	load();
	return check_done();
}

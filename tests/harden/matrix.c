/* SPDX-License-Identifier: MIT */
/*
 * The planted-bug matrix (docs/debugging.md, "what each profile catches"):
 * every bug of the table below, planted in a forked child, in blocks of
 * 24, 100, 2048, 65536 (a page block) and 8 MiB (a huge area), under one
 * profile of kalloc (argv[1]; meson.build sets the environment):
 *   default   no variable: the default checks
 *   full      KALLOC_HARDEN=full: the hardened profile
 *   fzpu      KALLOC_DEBUG=FZPU
 * The expected outcome of each cell, for each profile, is one entry of
 * `cases` (one data table), printed as a matrix with what happened:
 *   C  caught: the child dies of SIGABRT after a report on stderr that
 *      names the planted address (under full and FZPU a "kalloc: BUG"
 *      report saying what happened; under FZPU, for a bug in a block,
 *      with the block's last allocation and free call sites)
 *   P  the poison shows: a read of the freed block sees 0x6b under FZPU,
 *      0 under full (freed blocks are zeroed); the child exits normally
 *   S  SIGSEGV at the bug, in the program, not inside kalloc
 *   m  missed: the child exits normally
 * No cell may crash inside kalloc: a SIGSEGV is reported by the child's
 * handler with the object its program counter is in, and one in kalloc
 * fails the cell whatever was expected.
 *
 * By default small slab objects have no canary (docs/design.md,
 * "Hardening": its cost), so overflows of them are missed; a 64 KiB block
 * is a whole page block with no slack to hold one.
 *
 * `./harden_matrix print` prints the table alone (for the docs).
 *
 * Guard slabs, after the matrix: under full some slabs are followed by an
 * inaccessible page (found in /proc/self/maps), and a linear overflow from
 * the last block before one faults there, in the program; by default there
 * are none.
 */
#include "ktest.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* C++ sized delete, exported by kalloc's preload library (the program is
 * C: the weak reference binds to it at run time). */
__attribute__((weak)) void _ZdlPvm(void *p, unsigned long n);

enum { DEF, FULL, FZPU, NPROF };
static const char *const prof_name[NPROF] = { "default", "full", "FZPU" };
enum { NSIZES = 5 };
static const size_t sizes[NSIZES] = { 24, 100, 2048, 65536, 8u << 20 };
static const char *const size_name[NSIZES] = { "24", "100", "2K", "64K", "8M" };

enum bug {
	DF_NOW, DF_LATER, INV_INTERIOR, INV_STACK, INV_WILD, OVF1, OVF8, OVF16, UAF_START, UAF_MID, READ_FREED,
	ZERO_SIZE, SIZED_DELETE, USABLE_FREED,
};

#define X '.'   /* not applicable: the bug has no block size */

struct bug_case {
	enum bug bug;
	const char *name;
	const char *text;   /* what a full or FZPU report says */
	bool sites;         /* FZPU reports name both call sites */
	char expect[NPROF][NSIZES];
};

static const struct bug_case cases[] = {
	{ DF_NOW, "double free at once", "double free", true,
	  { { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ DF_LATER, "double free after other allocs/frees", "double free", true,
	  { { 'C', 'C', 'C',
	      'C', 'C' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ INV_INTERIOR, "invalid free: interior pointer", "", false,
	  { { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ INV_STACK, "invalid free: stack address", "", false,
	  { { 'C', X, X, X, X }, { 'C', X, X, X, X }, { 'C', X, X, X, X } } },
	{ INV_WILD, "invalid free: wild pointer", "", false,
	  { { 'C', X, X, X, X }, { 'C', X, X, X, X }, { 'C', X, X, X, X } } },
	{ OVF1, "overflow by 1 byte", "buffer overflow", true,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ OVF8, "overflow by 8 bytes", "buffer overflow", true,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ OVF16, "overflow by 16 bytes", "buffer overflow", true,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ UAF_START, "write after free at offset 0", "write after free", true,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ UAF_MID, "write after free in the middle", "write after free", true,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ READ_FREED, "read of a freed block", "", false,
	  { { 'm', 'm', 'm', 'm', 'S' },
	    { 'P', 'P', 'P', 'P', 'P' }, { 'P', 'P', 'P', 'P', 'P' } } },
	{ ZERO_SIZE, "write through malloc(0)", "zero-size access", false,
	  { { 'S', X, X, X, X }, { 'C', X, X, X, X }, { 'C', X, X, X, X } } },
	{ SIZED_DELETE, "C++ sized delete, wrong size", "does not fit", false,
	  { { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
	{ USABLE_FREED, "malloc_usable_size of a freed block", "of a freed", true,
	  { { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' }, { 'C', 'C', 'C', 'C', 'C' } } },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---- the child ------------------------------------------------------------ */

struct job {
	enum bug bug;
	size_t size;
};

/* The allocation and free sites an FZPU report must name (exported by
 * -rdynamic, so the report resolves them). */
__attribute__((noinline)) void *planted_alloc(size_t n)
{
	void *p = malloc(opaque_size(n));
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void planted_free(void *p)
{
	free(opaque_ptr(p));
	__asm__ volatile("" ::: "memory");
}

/* Allocations and frees: `rounds` of 64 blocks of n bytes (two single
 * ones for a huge size), enough, with rounds = 8, to push a freed block
 * through any quarantine and out. */
static void churn(size_t n, int rounds)
{
	static void *keep[64];
	int per = n > (4u << 20) ? 1 : 64;
	if (n > (4u << 20))
		rounds = 2;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < per; i++)
			keep[i] = malloc(opaque_size(n));
		for (int i = 0; i < per; i++)
			free(opaque_ptr(keep[i]));
	}
}

/* Tells the parent the address the bug is planted at. */
static void planted(const void *p)
{
	char buf[32];
	test_msg("planted %s", addr_text(p, buf));
}

static struct sigaction old_segv;

/* A fault: say where the program counter was, then die of it. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	const void *pc = NULL;
#if defined(__x86_64__)
	pc = (const void *)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	pc = (const void *)((ucontext_t *)ctx)->uc_mcontext.pc;
#else
	(void)ctx;
#endif
	Dl_info info;
	const char *obj = pc && dladdr(pc, &info) && info.dli_fname ? info.dli_fname : "?";
	char a[32], b[32];
	test_msg("fault at %s, pc %s in %s", addr_text(si->si_addr, a), addr_text(pc, b), obj);
	/* A handler installed before this one (kalloc's fault reporter, when
	 * its region was reserved before the child started) has its say. */
	if ((old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_sigaction && sig == SIGSEGV) {
		sigaction(SIGSEGV, &old_segv, NULL);
		old_segv.sa_sigaction(sig, si, ctx);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int job_run(void *arg)
{
	const struct job *j = arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, NULL);

	size_t n = j->size;
	char *p;
	switch (j->bug) {
	case INV_STACK: {
		char buf[64];
		planted(buf + 16);
		escape(buf);
		free(opaque_ptr(buf + 16));
		return 0;
	}
	case INV_WILD: {
		void *w = (void *)(uintptr_t)0x5a5a5a5a5000ull;
		planted(w);
		free(opaque_ptr(w));
		return 0;
	}
	case ZERO_SIZE:
		p = planted_alloc(0);
		planted(p);
		((volatile char *)p)[0] = 0x42;
		planted_free(p);
		return 0;
	default:
		break;
	}
	p = planted_alloc(n);
	memset(opaque_ptr(p), 0x11, n);
	switch (j->bug) {
	case DF_NOW:
		planted(p);
		planted_free(p);
		planted_free(p);
		break;
	case DF_LATER:
		planted(p);
		planted_free(p);
		/* 64 blocks of the same size for slab objects (p among them: it
		 * is freed again, and not last); small blocks for page blocks
		 * and huge areas, which the same size would take the place of */
		churn(n <= 2048 ? n : 100, 1);
		planted_free(p);
		break;
	case INV_INTERIOR:
		planted(p + 16);
		planted_free(p + 16);
		break;
	case OVF1:
	case OVF8:
	case OVF16: {
		size_t by = j->bug == OVF1 ? 1 : j->bug == OVF8 ? 8 : 16;
		planted(p);
		/* each byte changed: a random canary may hold any fixed value */
		for (size_t i = 0; i < by; i++)
			((volatile unsigned char *)opaque_ptr(p))[n + i] ^= 0x5a;
		planted_free(p);
		break;
	}
	case UAF_START:
	case UAF_MID:
		planted(p);
		planted_free(p);
		((volatile char *)p)[j->bug == UAF_START ? 0 : n / 2] = 0x17;
		churn(n, 8);
		break;
	case READ_FREED: {
		planted(p);
		planted_free(p);
		unsigned v = ((volatile unsigned char *)p)[n / 2];
		test_msg("read 0x%02x", v);
		break;
	}
	case SIZED_DELETE:
		planted(p);
		if (!_ZdlPvm) {
			test_msg("no sized delete");
			return 3;
		}
		_ZdlPvm(opaque_ptr(p), n == 24 ? 200 : 24);
		break;
	case USABLE_FREED: {
		planted(p);
		planted_free(p);
		size_t u = malloc_usable_size(opaque_ptr(p));
		test_msg("usable %zu", u);
		break;
	}
	default:
		break;
	}
	return 0;
}

/* ---- the parent ----------------------------------------------------------- */

static struct child_result r;

/* The address the child planted its bug at, or NULL. */
static const void *planted_addr(void)
{
	const char *s = strstr(r.err, "planted 0x");
	return s ? (const void *)(uintptr_t)strtoull(s + 8, NULL, 16) : NULL;
}

/* What happened, as a matrix letter: C, P, S, m, or '!' for anything else
 * (a crash inside kalloc, a hang, another signal, a report without the
 * address...).  *why explains a '!'. */
static char observe(const struct bug_case *c, int prof, const struct job *j, const char **why)
{
	run_child(job_run, (void *)j, 60000, &r);
	*why = "";
	if (r.hung) {
		*why = "hung";
		return '!';
	}
	if (contains(r.err, "fault at ")) {
		if (contains(r.err, "libkalloc")) {
			*why = "SIGSEGV inside kalloc";
			return '!';
		}
		/* kalloc's fault reporter (full, KALLOC_DEBUG) reports the
		 * fault and aborts: caught, checked as any report below */
		if (!child_aborted(&r))
			return child_signal(&r) == SIGSEGV || child_signal(&r) == SIGBUS ? 'S' : '!';
	}
	if (child_aborted(&r)) {
		const void *a = planted_addr();
		if (!a || !report_names(&r, a)) {
			*why = "aborted without a report naming the address";
			return '!';
		}
		if (prof != DEF && c->text[0] && !contains(r.err, c->text)) {
			*why = "the report lacks the text of the bug";
			return '!';
		}
		if (prof == FZPU && c->sites &&
		    !(contains(r.err, "last allocated by 0x") && contains(r.err, "last freed by 0x") &&
		      contains(r.err, "planted_alloc+0x"))) {
			*why = "the FZPU report lacks the call sites";
			return '!';
		}
		return 'C';
	}
	if (child_exit(&r) == 0) {
		if (c->bug == READ_FREED && prof != DEF) {
			const char *s = strstr(r.err, "read 0x");
			unsigned v = s ? (unsigned)strtoul(s + 5, NULL, 16) : 0x100;
			if (v == (prof == FZPU ? 0x6bu : 0u))
				return 'P';
		}
		return 'm';
	}
	*why = "ended otherwise";
	return '!';
}

static void print_matrix(int only, const char got[][NSIZES])
{
	char line[256];
	int n = snprintf(line, sizeof line, "%-40s", only < 0 ? "bug \\ block size" : "bug \\ block size (want/got)");
	for (int p = 0; p < NPROF; p++) {
		if (only >= 0 && p != only)
			continue;
		n += snprintf(line + n, sizeof line - n, " | %-14s", prof_name[p]);
	}
	test_msg("%s", line);
	n = snprintf(line, sizeof line, "%-40s", "");
	for (int p = 0; p < NPROF; p++) {
		if (only >= 0 && p != only)
			continue;
		n += snprintf(line + n, sizeof line - n, " |");
		for (int s = 0; s < NSIZES; s++)
			n += snprintf(line + n, sizeof line - n, " %-3s", size_name[s]);
	}
	test_msg("%s", line);
	for (size_t i = 0; i < NCASES; i++) {
		n = snprintf(line, sizeof line, "%-40s", cases[i].name);
		for (int p = 0; p < NPROF; p++) {
			if (only >= 0 && p != only)
				continue;
			n += snprintf(line + n, sizeof line - n, " |");
			for (int s = 0; s < NSIZES; s++) {
				char want = cases[i].expect[p][s];
				if (got && want != X)
					n += snprintf(line + n, sizeof line - n, " %c%c%c", want, got[i][s] == want ? '=' : '/',
					              got[i][s]);
				else
					n += snprintf(line + n, sizeof line - n, " %-3c", want);
			}
		}
		test_msg("%s", line);
	}
}

/* ---- guard slabs ----------------------------------------------------------- */

#define GUARD_BLOCKS 20000
static char *guard_blocks[GUARD_BLOCKS];
static char maps[4 << 20];

static int guard_child(void *arg)
{
	(void)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	for (int i = 0; i < GUARD_BLOCKS; i++)
		guard_blocks[i] = malloc(opaque_size(100));
	int fd = open("/proc/self/maps", O_RDONLY);
	size_t len = 0;
	ssize_t k;
	while (fd >= 0 && len < sizeof maps - 1 && (k = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)k;
	maps[len] = '\0';
	if (fd >= 0)
		close(fd);
	/* single inaccessible pages right after one of our blocks (a slab's
	 * end); the last of our blocks before one */
	int guards = 0;
	char *last = NULL, *guard = NULL;
	for (char *l = maps; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		unsigned long a, b;
		char perm[8];
		if (sscanf(l, "%lx-%lx %7s", &a, &b, perm) != 3 || strcmp(perm, "---p") != 0 || b - a != 4096)
			continue;
		bool after_block = false;
		for (int i = 0; i < GUARD_BLOCKS; i++) {
			char *p = guard_blocks[i];
			if ((uintptr_t)p < a && a - (uintptr_t)p <= 4096) {
				after_block = true;
				if ((!last || p > last) && (!guard || (uintptr_t)guard == a)) {
					last = p;
					guard = (char *)a;
				}
			}
		}
		guards += after_block;   /* kalloc's metadata guards are not slab guards */
	}
	test_msg("guards %d", guards);
	if (!last)
		return 0;
	char buf[32];
	test_msg("overflow from %s", addr_text(last, buf));
	test_msg("guard at %s", addr_text(guard, buf));
	for (volatile char *q = last;; q++)
		*q = 0x42;
}

static void guard_slabs(int prof)
{
	run_child(guard_child, NULL, 60000, &r);
	char how[128];
	child_describe(&r, how, sizeof how);
	const char *g = strstr(r.err, "guards ");
	int guards = g ? atoi(g + 7) : -1;
	if (prof != FULL) {
		CHECKF(child_exit(&r) == 0 && guards == 0, "%s: %d guard pages, child %s; stderr:\n%s", prof_name[prof],
		       guards, how, r.err);
		return;
	}
	const char *at = strstr(r.err, "guard at ");
	char want[64] = "?";
	if (at) {
		const char *e = strchr(at + 9, '\n');
		snprintf(want, sizeof want, "fault at %.*s,", e ? (int)(e - at - 9) : 20, at + 9);
	}
	bool ok = guards > 0 && child_signal(&r) == SIGSEGV && at && contains(r.err, want) && !contains(r.err, "libkalloc");
	CHECKF(ok, "full: %d guard pages; a linear overflow off a slab's end must fault at the guard (%s), in the "
	           "program: child %s; stderr:\n%s", guards, want, how, r.err);
	if (ok)
		test_msg("guard slabs: %d guard pages after %d blocks of 100 bytes; the overflow faulted at the guard",
		         guards, GUARD_BLOCKS);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "print";
	if (strcmp(mode, "print") == 0) {
		print_matrix(-1, NULL);
		return 0;
	}
	check_allocator();
	int prof = strcmp(mode, "full") == 0 ? FULL : strcmp(mode, "fzpu") == 0 ? FZPU : DEF;
	static char got[NCASES][NSIZES];
	for (size_t i = 0; i < NCASES; i++) {
		const struct bug_case *c = &cases[i];
		for (int s = 0; s < NSIZES; s++) {
			char want = c->expect[prof][s];
			got[i][s] = X;
			if (want == X)
				continue;
			struct job j = { c->bug, sizes[s] };
			const char *why;
			got[i][s] = observe(c, prof, &j, &why);
			char how[128];
			child_describe(&r, how, sizeof how);
			CHECKF(got[i][s] == want, "%s, %s bytes, %s: want %c, got %c %s(child %s); stderr:\n%s", c->name,
			       size_name[s], prof_name[prof], want, got[i][s], why, how, r.err);
		}
	}
	print_matrix(prof, (const char (*)[NSIZES])got);
	guard_slabs(prof);
	return check_done();
}

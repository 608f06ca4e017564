/* SPDX-License-Identifier: MIT */
/*
 * Freed huge blocks are inaccessible at once, and every huge block has a
 * guard page after it (KALLOC_HARDEN, on by default).
 *
 * Cases (each fault in a forked child, whose SIGSEGV handler records the
 * fault address and the instruction's object, then lets the fault kill it):
 *   - the freed block's memory is reused by the next 8 MiB block without
 *     page faults (minor faults counted with getrusage around writing all
 *     of it), at another address, and the old address faults;
 *   - a read and a write after free of an 8 MiB block fault, at an address
 *     inside the freed block, in this program's code (not inside kalloc);
 *   - a block assembled from two freed ones (20 MiB) and a 9 MiB one taken
 *     from a cached 16 MiB one: a read through either old pointer faults,
 *     and a write one byte past the end faults on the guard page;
 *   - a write one byte past the end faults on the guard page: a fresh 8 MiB
 *     block, after realloc growth to 16 and 40 MiB (mremap), after a shrink
 *     to 5 MiB;
 *   - KALLOC_DEBUG=F (a fresh process): the read after free is reported,
 *     "access to a freed huge block at ADDR (offset N of the M-byte block
 *     at START)", and aborts;
 *   - KALLOC_HARDEN=0 (a fresh process): the read after free does not
 *     fault (the old behaviour), the guard page is still there.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <dlfcn.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define MiB (1UL << 20)

/* What the child's handler saw, in memory shared with the parent. */
struct fault {
	volatile uintptr_t addr;
	volatile int hit;
	volatile int in_kalloc;   /* the faulting instruction is in kalloc */
};
static struct fault *seen;
static const void *kalloc_base;   /* load address of the object with malloc */

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	Dl_info di;
	const void *ip = (const void *)uc->uc_mcontext.gregs[REG_RIP];
	seen->addr = (uintptr_t)si->si_addr;
	seen->in_kalloc = dladdr(ip, &di) && di.dli_fbase == kalloc_base;
	seen->hit = 1;
	signal(SIGSEGV, SIG_DFL);   /* the access runs again and ends the child */
}

static void arm(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	memset((void *)seen, 0, sizeof *seen);
}

enum op { READ, WRITE };
struct access {
	volatile char *at;
	enum op op;
};

static int do_access(void *arg)
{
	struct access *a = arg;
	arm();
	if (a->op == READ)
		return a->at[0] == 0x11 ? 2 : 3;
	a->at[0] = 1;
	return 4;
}

/* The child must die by SIGSEGV at `at`, outside kalloc. */
static void expect_fault(const char *what, volatile char *at, enum op op)
{
	static struct child_result r;
	struct access a = { at, op };
	char how[128];
	run_child(do_access, &a, 10000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "%s (%p): child %s, want SIGSEGV; stderr: %s", what, (void *)at,
	       child_describe(&r, how, sizeof how), r.err);
	CHECKF(seen->hit && seen->addr == (uintptr_t)at, "%s: fault at %p, want %p", what, (void *)seen->addr,
	       (void *)at);
	CHECKF(!seen->in_kalloc, "%s: the fault is inside kalloc", what);
}

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static char *huge(size_t n)
{
	char *p = malloc(opaque_size(n));
	CHECK(p != NULL);
	if (p)
		memset(p, 0x11, n);
	return p;
}

static void read_after_free(void)
{
	/* First, before any fork (which write-protects the parent's pages,
	 * so that writing them again faults): the pages of a freed block come
	 * back without faults, at another address. */
	char *p = huge(8 * MiB);
	if (!p)
		return;
	free(p);
	char *q = malloc(opaque_size(8 * MiB));
	CHECK(q != NULL);
	if (!q)
		return;
	long f0 = minor_faults();
	memset(q, 0x22, 8 * MiB);
	long f = minor_faults() - f0;
	CHECKF(f < 64, "reusing a freed 8 MiB block took %ld page faults", f);
	CHECKF(q != p, "the freed block's address was handed out again at once");
	expect_fault("read after free, after the next allocation", p, READ);
	free(q);

	/* a freed block waiting for reuse */
	p = huge(8 * MiB);
	if (!p)
		return;
	free(p);
	expect_fault("read after free of an 8 MiB block", p + 12345, READ);
	expect_fault("write after free of an 8 MiB block", p + 8 * MiB - 1, WRITE);
}

static void guard(const char *what, char *p)
{
	size_t n = malloc_usable_size(p);
	char msg[128];
	snprintf(msg, sizeof msg, "write past the end of %s (%zu bytes)", what, n);
	expect_fault(msg, p + n, WRITE);
}

static void guards(void)
{
	char *p = huge(8 * MiB);
	if (!p)
		return;
	guard("an 8 MiB block", p);
	p = realloc(p, opaque_size(16 * MiB));
	CHECK(p != NULL);
	guard("a block grown to 16 MiB", p);
	p = realloc(p, opaque_size(40 * MiB));
	CHECK(p != NULL);
	guard("a block grown to 40 MiB", p);
	CHECK(p[0] == 0x11 && p[8 * MiB - 1] == 0x11);   /* moved, not lost */
	p = realloc(p, opaque_size(5 * MiB));
	CHECK(p != NULL);
	guard("a block shrunk to 5 MiB", p);
	free(p);

	/* from cached pieces: two freed 8 MiB blocks make a 20 MiB one */
	char *a = huge(8 * MiB), *b = huge(8 * MiB);
	if (!a || !b)
		return;
	free(a);
	free(b);
	char *c = huge(20 * MiB);
	if (c) {
		guard("a 20 MiB block built from freed ones", c);
		expect_fault("read of a freed block used by a larger one", a + 100, READ);
		expect_fault("read of a freed block used by a larger one", b + 100, READ);
		free(c);
	}
	/* part of a cached one */
	char *d = huge(16 * MiB);
	if (d) {
		free(d);
		char *e = huge(9 * MiB);
		if (e) {
			guard("a 9 MiB block cut from a freed 16 MiB one", e);
			expect_fault("read of a freed 16 MiB block", d + 4096, READ);
			free(e);
		}
	}
}

/* mode "off": KALLOC_HARDEN=0, a read after free of a huge block does not
 * fault (exit 0), its guard page does (SIGSEGV). */
static int mode_off(void)
{
	char *p = malloc(opaque_size(8 * MiB));
	if (!p)
		return 2;
	memset(p, 0x33, 8 * MiB);
	free(p);
	volatile char *v = opaque_ptr(p);
	if (v[100] == 0x7e)
		return 3;
	p = malloc(opaque_size(8 * MiB));
	if (!p)
		return 4;
	((volatile char *)p)[8 * MiB] = 1;   /* the guard: SIGSEGV */
	return 0;
}

/* mode "debug": KALLOC_DEBUG=F, a read after free of a huge block is
 * reported, naming the address and the block. */
static int mode_debug(void)
{
	char *p = malloc(opaque_size(8 * MiB));
	if (!p)
		return 2;
	memset(p, 0x33, 8 * MiB);
	free(p);
	fprintf(stderr, "[test] block %p\n", (void *)p);
	volatile char *v = opaque_ptr(p);
	return v[5000] == 0x7e ? 3 : 4;
}

static const char *self;
static int exec_mode(void *arg)
{
	const char *mode = arg;
	if (!strcmp(mode, "off"))
		setenv("KALLOC_HARDEN", "0", 1);
	else   /* a cache list: huge areas keep the default checks, not the
	        * block debugging (which quarantines and poisons them instead) */
		setenv("KALLOC_DEBUG", "F,kmalloc-64", 1);
	execl(self, self, mode, (char *)NULL);
	return 99;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1)
		return !strcmp(argv[1], "off") ? mode_off() : !strcmp(argv[1], "debug") ? mode_debug() : 98;
	check_allocator();
	if (!expect_kalloc()) {
		printf("the freed-block cases are kalloc's: skipped under another allocator\n");
		return check_done();
	}
	seen = mmap(NULL, sizeof *seen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(seen != MAP_FAILED);
	Dl_info di;
	CHECK(dladdr((void *)(uintptr_t)malloc, &di) != 0);
	kalloc_base = di.dli_fbase;
	read_after_free();
	guards();

	static struct child_result r;
	char how[128];
	run_child(exec_mode, "debug", 20000, &r);
	{
		const char *blk = strstr(r.err, "[test] block 0x");
		unsigned long b = blk ? strtoul(blk + 13, NULL, 16) : 0;
		char at[32], start[32], want[160];
		snprintf(want, sizeof want, "kalloc: access to a freed huge block at %s (offset 5000 of the %lu-byte block at %s)",
		         addr_text((void *)(b + 5000), at), 8 * MiB, addr_text((void *)b, start));
		CHECKF(child_aborted(&r) && b && contains(r.err, want),
		       "KALLOC_DEBUG=F,kmalloc-64, read after free of a huge block: child %s; stderr: %s; want: %s",
		       child_describe(&r, how, sizeof how), r.err, want);
	}
	run_child(exec_mode, "off", 20000, &r);
	CHECKF(child_signal(&r) == SIGSEGV, "KALLOC_HARDEN=0: child %s, want the read after free to pass and "
	                                    "the guard page to fault (SIGSEGV); stderr: %s",
	       child_describe(&r, how, sizeof how), r.err);
	return check_done();
}

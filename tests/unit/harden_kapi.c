/* SPDX-License-Identifier: MIT */
/*
 * The free tag (KALLOC_HARDEN=1, the default) through the kernel-style API:
 * a double kfree of a kmalloc block after 1, 10 and 1,000 other blocks of
 * the same size were allocated and freed, for the 8-byte class (whose tag
 * is its first word, the free pointer while the block is on a slab list:
 * malloc_trim sends the blocks back to the slabs in one variant), 16, 512
 * and 4096 bytes, and a GFP_DMA32 block (a zone class:
 * no front cache, straight to its slab).  Each in a child that runs this
 * program again with KALLOC_HARDEN set: on, SIGABRT and the report; off
 * (KALLOC_HARDEN=0), no such report.
 */
#include "internal.h"
#include "ktest.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char self[4096];

static int run_case(size_t size, size_t n, int dma32, int trim)
{
	gfp_t gfp = GFP_KERNEL | (dma32 ? GFP_DMA32 : 0);
	void *p = kmalloc(size, gfp);
	void **q = calloc(n + 1, sizeof *q);
	if (!p || !q)
		return 3;
	memset(p, 0x5a, size);
	for (size_t i = 0; i < n; i++) {
		if (!(q[i] = kmalloc(size, gfp)))
			return 3;
		memset(q[i], 0x33, size);
	}
	fprintf(stderr, "[test] block %p\n", p);
	kfree(p);
	for (size_t i = 0; i < n; i++)
		if (!trim || i % 2 == 0)   /* trim: the odd ones keep the slabs */
			kfree(q[i]);
	for (size_t i = 0; i < n; i++) {
		void *r = kmalloc(size, gfp);
		if (r == p) {
			fprintf(stderr, "[test] the block came back before the double free\n");
			return 3;
		}
		kfree(r);
	}
	if (trim)
		malloc_trim(0);   /* the front caches back to the slabs */
	kfree(p);   /* the double free */
	return 0;
}

struct job {
	const char *harden;
	char *argv[8];
};

static int exec_case(void *arg)
{
	struct job *j = arg;
	setenv("KALLOC_HARDEN", j->harden, 1);
	execv(self, j->argv);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "case")) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
		sched_setaffinity(0, sizeof one, &one);
		return run_case(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), atoi(argv[4]), atoi(argv[5]));
	}
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(len > 0);
	if (len <= 0)
		return check_done();
	self[len] = '\0';
	static char *sizes[] = { "8", "16", "512", "4096" };
	static char *others[] = { "1", "10", "1000" };
	static struct child_result r;
	for (unsigned s = 0; s < 4; s++)
		for (unsigned o = 0; o < 3; o++)
			for (int v = 0; v < 3; v++) {   /* 0: plain, 1: GFP_DMA32, 2: after a trim */
				if (v == 2 && o == 0)
					continue;   /* a trim needs live neighbours to keep the slab */
				for (int on = 1; on >= 0; on--) {
					struct job j = { on ? "1" : "0",
					                 { self, "case", sizes[s], others[o], v == 1 ? "1" : "0",
					                   v == 2 ? "1" : "0", NULL } };
					run_child(exec_case, &j, 20000, &r);
					char how[128];
					child_describe(&r, how, sizeof how);
					const char *b = strstr(r.err, "[test] block ");
					void *blk = NULL;
					if (b)
						sscanf(b + 13, "%p", &blk);
					CHECKF(!r.hung && (!WIFEXITED(r.status) || WEXITSTATUS(r.status) < 2),
					       "kmalloc(%s%s), %s others%s: case could not run: %s; stderr: %s", sizes[s],
					       v == 1 ? ", GFP_DMA32" : "", others[o], v == 2 ? ", trimmed" : "", how, r.err);
					if (on)
						CHECKF(child_aborted(&r) && contains(r.err, "the object is free already") &&
						           blk && report_names(&r, blk),
						       "double kfree of kmalloc(%s%s) after %s others%s: child %s, want SIGABRT "
						       "and the report; stderr: %s",
						       sizes[s], v == 1 ? ", GFP_DMA32" : "", others[o], v == 2 ? ", trimmed" : "",
						       how, r.err);
					else
						CHECKF(!contains(r.err, "the object is free already"),
						       "KALLOC_HARDEN=0 reported anyway: %s", r.err);
				}
			}
	return check_done();
}

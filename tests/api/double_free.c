/* SPDX-License-Identifier: MIT */
/*
 * A double free aborts with a report: kalloc prints one line on stderr with
 * "kalloc" and the block's address (lowercase 0x... hex), then SIGABRT.
 *
 * Cases (each in its own forked child): a small block freed twice in a row;
 * a small calloc'd block; a small block freed again after realloc moved it
 * elsewhere; a small block freed by realloc(p, 0) and then by free; a
 * memalign'd block; a page block; a huge block.
 *
 * glibc aborts on the small cases too (its tcache check), so the SIGABRT
 * for the first small case is required everywhere; the report text and the
 * other cases are required under KALLOC_EXPECT=1.
 */
#include "ktest.h"

#include <sys/wait.h>
#include <unistd.h>
#include <malloc.h>

enum kind { D_SMALL, D_CALLOC, D_AFTER_REALLOC, D_REALLOC_ZERO, D_MEMALIGN, D_PAGE, D_HUGE, D_COUNT };
static const char *const kind_name[] = {
	"small block", "calloc'd small block", "small block moved by realloc",
	"small block freed by realloc(p, 0)", "memalign'd block", "page block", "huge block",
};

/* The parent allocates the block (so it knows the address the report must
 * name); the forked child frees its copy twice. */
struct job {
	enum kind kind;
	void *addr;
};

static int double_free(void *arg)
{
	struct job *j = arg;
	switch (j->kind) {
	case D_AFTER_REALLOC: {
		void *q = realloc(j->addr, opaque_size(200000));
		if (q == j->addr) {
			fprintf(stderr, "[test] realloc did not move the block\n");
			_exit(3);
		}
		free(opaque_ptr(j->addr));
		break;
	}
	case D_REALLOC_ZERO: {
		void *q = realloc(j->addr, opaque_size(0));
		if (q) {
			fprintf(stderr, "[test] realloc(p, 0) returned %p\n", q);
			_exit(3);
		}
		free(opaque_ptr(j->addr));
		break;
	}
	default:
		free(opaque_ptr(j->addr));
		free(opaque_ptr(j->addr));
		break;
	}
	return 0;
}

static void *make_block(enum kind k)
{
	void *p;
	switch (k) {
	case D_CALLOC: p = calloc(opaque_size(3), opaque_size(16)); break;
	case D_MEMALIGN: p = memalign(opaque_size(4096), opaque_size(100)); break;
	case D_PAGE: p = malloc(opaque_size(40000)); break;
	case D_HUGE: p = malloc(opaque_size(8u << 20)); break;
	default: p = malloc(opaque_size(32)); break;
	}
	if (p)
		memset(p, 0x61, 32);
	return p;
}

int main(void)
{
	check_allocator();
	static struct child_result r;
	for (int k = 0; k < D_COUNT; k++) {
		struct job j = { (enum kind)k, make_block((enum kind)k) };
		CHECK(j.addr != NULL);
		if (!j.addr)
			continue;
		run_child(double_free, &j, 10000, &r);
		char how[128];
		child_describe(&r, how, sizeof how);
		CHECKF(!r.hung, "double free of a %s: child hung", kind_name[k]);
		CHECKF(r.hung || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 3,
		       "double free of a %s: case could not be set up: %s", kind_name[k], r.err);
		if (k == D_SMALL || expect_kalloc())
			CHECKF(child_aborted(&r), "double free of a %s (%p): child %s, want SIGABRT; "
			                          "stderr: %s",
			       kind_name[k], j.addr, how, r.err);
		if (expect_kalloc())
			CHECKF(report_names(&r, j.addr),
			       "double free of a %s (%p): no stderr line with \"kalloc\" and the "
			       "address; stderr: %s",
			       kind_name[k], j.addr, r.err);
		else
			printf("double free of a %s: %s\n", kind_name[k], how);
		free(j.addr); /* the parent's copy is still live */
	}
	return check_done();
}

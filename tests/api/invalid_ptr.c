/* SPDX-License-Identifier: MIT */
/*
 * free, realloc and malloc_usable_size of a pointer kalloc never returned
 * must not be followed: kalloc prints a one-line report on stderr naming the
 * address (lowercase 0x... hex) and "kalloc", then aborts (SIGABRT).
 *
 * Pointers tried: interior pointers of a live small block (+16, +8, +1), of a
 * page block (+4096, +16), of a huge block (+2 MiB, +4096); a stack
 * address; a static variable; a page mapped with mmap behind the allocator's
 * back; a wild address (0x12345678000).  Each case runs in its own forked
 * child with stderr on a pipe.
 *
 * These are kalloc's documented behaviour, required under KALLOC_EXPECT=1.
 * glibc detects only some of them (and some crash with SIGSEGV), so without
 * KALLOC_EXPECT the outcome is printed and only the harness is checked.
 */
#include "ktest.h"

#include <malloc.h>
#include <sys/mman.h>

enum op { OP_FREE, OP_REALLOC, OP_USABLE };
static const char *const op_name[] = { "free", "realloc", "malloc_usable_size" };

enum kind {
	K_SMALL16,
	K_SMALL8,
	K_SMALL1,
	K_PAGE4096,
	K_PAGE16,
	K_HUGE2M,
	K_HUGE4096,
	K_STACK,
	K_STATIC,
	K_FOREIGN_MMAP,
	K_WILD,
	K_COUNT
};
static const char *const kind_name[] = {
	"small block + 16", "small block + 8", "small block + 1", "page block + 4096",
	"page block + 16",  "huge block + 2 MiB", "huge block + 4096", "stack address",
	"static variable", "foreign mmap page", "wild address",
};

static char static_area[256] __attribute__((aligned(64)));

struct job {
	enum op op;
	void *ptr;     /* the pointer handed to op in the child */
	char *block;   /* the live block it points into (freed by the parent) */
	void *mapping; /* or the foreign mapping (unmapped by the parent) */
};

static char *block_of(size_t n)
{
	char *p = malloc(opaque_size(n));
	if (p)
		memset(p, 0, n);
	return p;
}

/* Sets up a case in the parent, so that it knows the address the report
 * must name. */
static void make_pointer(enum kind k, char *stack_buf, struct job *j)
{
	j->block = NULL;
	j->mapping = NULL;
	j->ptr = NULL;
	switch (k) {
	case K_SMALL16:
	case K_SMALL8:
	case K_SMALL1:
		j->block = block_of(64);
		if (j->block)
			j->ptr = j->block + (k == K_SMALL16 ? 16 : k == K_SMALL8 ? 8 : 1);
		break;
	case K_PAGE4096:
	case K_PAGE16:
		j->block = block_of(40000);
		if (j->block)
			j->ptr = j->block + (k == K_PAGE4096 ? 4096 : 16);
		break;
	case K_HUGE2M:
	case K_HUGE4096:
		j->block = block_of(8u << 20);
		if (j->block)
			j->ptr = j->block + (k == K_HUGE2M ? (2u << 20) : 4096);
		break;
	case K_STACK:
		memset(stack_buf, 0, 64);
		j->ptr = stack_buf + 16;
		break;
	case K_STATIC:
		j->ptr = static_area + 64;
		break;
	case K_FOREIGN_MMAP: {
		void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			j->mapping = m;
			j->ptr = (char *)m + 4096;
		}
		break;
	}
	case K_WILD:
	default:
		j->ptr = (void *)(uintptr_t)0x12345678000ull;
		break;
	}
}

static int do_op(void *arg)
{
	struct job *j = arg;
	switch (j->op) {
	case OP_FREE:
		free(opaque_ptr(j->ptr));
		break;
	case OP_REALLOC: {
		void *q = realloc(opaque_ptr(j->ptr), opaque_size(100));
		fprintf(stderr, "[test] realloc returned %p\n", q);
		break;
	}
	case OP_USABLE: {
		size_t n = malloc_usable_size(opaque_ptr(j->ptr));
		fprintf(stderr, "[test] malloc_usable_size returned %zu\n", n);
		break;
	}
	}
	return 0;
}

int main(void)
{
	check_allocator();
	static struct child_result r;
	char stack_buf[128] __attribute__((aligned(64)));
	for (int k = 0; k < K_COUNT; k++) {
		for (int op = OP_FREE; op <= OP_USABLE; op++) {
			struct job j = { .op = (enum op)op };
			make_pointer((enum kind)k, stack_buf, &j);
			CHECKF(j.ptr != NULL, "could not set up case %s", kind_name[k]);
			if (!j.ptr)
				continue;
			run_child(do_op, &j, 10000, &r);
			char how[128];
			child_describe(&r, how, sizeof how);
			if (expect_kalloc()) {
				CHECKF(child_aborted(&r), "%s(%s %p): child %s, want SIGABRT; stderr: %s",
				       op_name[op], kind_name[k], j.ptr, how, r.err);
				CHECKF(report_names(&r, j.ptr),
				       "%s(%s %p): no stderr line with \"kalloc\" and the address; "
				       "stderr: %s",
				       op_name[op], kind_name[k], j.ptr, r.err);
			} else {
				printf("%s(%s %p): %s\n", op_name[op], kind_name[k], j.ptr, how);
			}
			CHECKF(!r.hung, "%s(%s): child hung", op_name[op], kind_name[k]);
			free(j.block);
			if (j.mapping)
				munmap(j.mapping, 65536);
		}
	}
	return check_done();
}

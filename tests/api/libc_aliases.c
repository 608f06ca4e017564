/* SPDX-License-Identifier: MIT */
/*
 * The glibc-internal entry points some programs call directly exist and
 * behave like their public names: __libc_malloc, __libc_calloc,
 * __libc_realloc, __libc_free, __libc_memalign, __libc_valloc,
 * __libc_pvalloc, __posix_memalign.  Blocks move freely between the aliases
 * and the public functions (malloc'd block freed by __libc_free and the
 * other way round).
 *
 * Under KALLOC_EXPECT=1 every alias must resolve into the kalloc library
 * (a program calling __libc_malloc must not get glibc's heap while free() is
 * kalloc's).  glibc 2.36 itself does not export __posix_memalign, so it is
 * only required under kalloc.
 */
#include "ktest.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);
typedef void *(*memalign_fn)(size_t, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);

static void *lookup(const char *name, int required)
{
	void *sym = dlsym(RTLD_DEFAULT, name);
	if (required)
		CHECKF(sym != NULL, "%s is not defined", name);
	if (sym && expect_kalloc()) {
		Dl_info info;
		int ok = dladdr(sym, &info) != 0 && info.dli_fname != NULL;
		CHECKF(ok && strstr(info.dli_fname, "kalloc") != NULL, "%s resolves to %s, not kalloc",
		       name, ok ? info.dli_fname : "(unknown)");
	}
	return sym;
}

int main(void)
{
	check_allocator();
	malloc_fn lmalloc;
	calloc_fn lcalloc;
	realloc_fn lrealloc;
	free_fn lfree;
	memalign_fn lmemalign;
	malloc_fn lvalloc, lpvalloc;
	posix_memalign_fn lposix;

	/* Function pointers from void * (POSIX guarantees this works). */
	*(void **)&lmalloc = lookup("__libc_malloc", 1);
	*(void **)&lcalloc = lookup("__libc_calloc", 1);
	*(void **)&lrealloc = lookup("__libc_realloc", 1);
	*(void **)&lfree = lookup("__libc_free", 1);
	*(void **)&lmemalign = lookup("__libc_memalign", 1);
	*(void **)&lvalloc = lookup("__libc_valloc", 1);
	*(void **)&lpvalloc = lookup("__libc_pvalloc", 1);
	*(void **)&lposix = lookup("__posix_memalign", expect_kalloc());

	if (lmalloc && lfree) {
		char *p = lmalloc(100);
		CHECK(p != NULL);
		if (p) {
			CHECK(((uintptr_t)p & 15) == 0);
			CHECK(malloc_usable_size(p) >= 100);
			pattern_fill(p, 100, 1);
			CHECK(pattern_check(p, 100, 1) == 100);
		}
		free(p); /* __libc_malloc -> free */
		p = malloc(opaque_size(5000));
		CHECK(p != NULL);
		lfree(p); /* malloc -> __libc_free */
		lfree(NULL);
		errno = 0;
		p = lmalloc((size_t)PTRDIFF_MAX + 1);
		CHECK(p == NULL && errno == ENOMEM);
		p = lmalloc(6u << 20);
		CHECK(p != NULL);
		if (p)
			memset(p, 3, 6u << 20);
		lfree(p);
	}
	if (lcalloc) {
		char *d = malloc(opaque_size(3000));
		CHECK(d != NULL);
		if (d) {
			memset(d, 0x77, 3000);
			escape(d);
		}
		free(d);
		char *p = lcalloc(30, 100);
		CHECK(p != NULL);
		if (p)
			CHECK(first_nonzero(p, 3000) == 3000);
		free(p);
		errno = 0;
		p = lcalloc(SIZE_MAX / 2 + 1, 2);
		CHECK(p == NULL && errno == ENOMEM);
	}
	if (lrealloc) {
		char *p = malloc(opaque_size(200));
		CHECK(p != NULL);
		if (p) {
			pattern_fill(p, 200, 2);
			char *q = lrealloc(p, 100000);
			CHECK(q != NULL);
			if (q) {
				CHECK(pattern_check(q, 200, 2) == 200);
				p = q;
			}
			q = lrealloc(p, 0);
			CHECK(q == NULL);
		}
		p = lrealloc(NULL, 50);
		CHECK(p != NULL);
		free(p);
	}
	if (lmemalign) {
		char *p = lmemalign(4096, 10000);
		CHECK(p != NULL && ((uintptr_t)p & 4095) == 0);
		if (p) {
			CHECK(malloc_usable_size(p) >= 10000);
			memset(p, 4, 10000);
		}
		free(p);
		p = lmemalign(1u << 21, 100);
		CHECK(p != NULL && ((uintptr_t)p & ((1u << 21) - 1)) == 0);
		free(p);
	}
	if (lvalloc) {
		char *p = lvalloc(5000);
		CHECK(p != NULL && ((uintptr_t)p & 4095) == 0);
		if (p)
			memset(p, 5, 5000);
		free(p);
	}
	if (lpvalloc) {
		char *p = lpvalloc(5000);
		CHECK(p != NULL && ((uintptr_t)p & 4095) == 0);
		if (p) {
			CHECK(malloc_usable_size(p) >= 8192);
			memset(p, 6, 8192);
		}
		free(p);
	}
	if (lposix) {
		void *p = (void *)0x77;
		CHECK(lposix(&p, 24, 100) == EINVAL && p == (void *)0x77);
		CHECK(lposix(&p, 64, (size_t)PTRDIFF_MAX + 1) == ENOMEM && p == (void *)0x77);
		CHECK(lposix(&p, 256, 1000) == 0);
		CHECK(p != NULL && ((uintptr_t)p & 255) == 0);
		if (p != (void *)0x77)
			free(p);
	}
	return check_done();
}

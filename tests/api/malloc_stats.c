/* SPDX-License-Identifier: MIT */
/*
 * malloc_stats and malloc_info:
 *  - malloc_stats() prints a report to stderr (not to stdout), does not
 *    crash, also while another thread is allocating, and leaves live blocks
 *    intact;
 *  - malloc_info(0, fp) returns 0 and writes an XML document starting with
 *    "<malloc version="; malloc_info with nonzero options fails (nonzero
 *    return).
 */
#include "ktest.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

static atomic_int stop;

static void *churner(void *arg)
{
	(void)arg;
	uint64_t rng = 99;
	void *keep[64] = { 0 };
	while (!atomic_load(&stop)) {
		uint64_t r = rng_next(&rng);
		int k = (int)(r % 64);
		free(keep[k]);
		keep[k] = malloc(1 + (r >> 8) % 5000);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

/* Runs fn with fd 1 and fd 2 going to two memory files; returns how many
 * bytes each received (the text of fd 2 in buf). */
static void capture(void (*fn)(void), size_t *out_len, size_t *err_len, char *buf, size_t bufsz)
{
	fflush(stdout);
	fflush(stderr);
	int out = memfd_create("stdout", 0), err = memfd_create("stderr", 0);
	CHECK(out >= 0 && err >= 0);
	int save1 = dup(1), save2 = dup(2);
	dup2(out, 1);
	dup2(err, 2);
	fn();
	fflush(stdout);
	fflush(stderr);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save1);
	close(save2);
	*out_len = (size_t)lseek(out, 0, SEEK_END);
	*err_len = (size_t)lseek(err, 0, SEEK_END);
	ssize_t got = pread(err, buf, bufsz - 1, 0);
	buf[got > 0 ? got : 0] = '\0';
	close(out);
	close(err);
}

static void call_malloc_stats(void) { malloc_stats(); }

int main(void)
{
	check_allocator();
	enum { N = 1000 };
	static unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = (i % 100 == 0) ? (5u << 20) : 1 + (size_t)i * 37 % 9000;
		p[i] = malloc(n);
		CHECK(p[i] != NULL);
		if (p[i])
			pattern_fill(p[i], n, (uint64_t)i);
	}

	pthread_t t;
	CHECK(pthread_create(&t, NULL, churner, NULL) == 0);

	static char text[1 << 16];
	size_t out_len = 0, err_len = 0;
	for (int round = 0; round < 3; round++) {
		capture(call_malloc_stats, &out_len, &err_len, text, sizeof text);
		CHECKF(err_len > 0, "malloc_stats() wrote nothing to stderr");
		CHECKF(out_len == 0, "malloc_stats() wrote %zu bytes to stdout", out_len);
	}

	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);

	/* malloc_info: XML to the given stream. */
	char *xml = NULL;
	size_t xml_len = 0;
	FILE *f = open_memstream(&xml, &xml_len);
	CHECK(f != NULL);
	if (f) {
		int rc = malloc_info(0, f);
		CHECKF(rc == 0, "malloc_info(0, fp) returned %d", rc);
		fclose(f);
		CHECKF(xml != NULL && strncmp(xml, "<malloc version=", 16) == 0,
		       "malloc_info output does not start with <malloc version=: %.40s",
		       xml ? xml : "(null)");
		CHECK(xml != NULL && strstr(xml, "</malloc>") != NULL);
		free(xml);
	}
	f = fopen("/dev/null", "w");
	CHECK(f != NULL);
	if (f) {
		int rc = malloc_info(1, f);
		CHECKF(rc != 0, "malloc_info(1, fp) returned 0: options must be 0");
		fclose(f);
	}

	int bad = 0;
	for (int i = 0; i < N; i++) {
		size_t n = (i % 100 == 0) ? (5u << 20) : 1 + (size_t)i * 37 % 9000;
		if (p[i] && pattern_check(p[i], n, (uint64_t)i) != n)
			bad++;
		free(p[i]);
	}
	CHECKF(bad == 0, "%d live blocks changed across malloc_stats/malloc_info", bad);
	return check_done();
}

/*
 * huge_realloc: grows one buffer from 4 MiB to 2 GiB by doubling with
 * realloc, checking after every step that the old contents survived, then
 * shrinks it back and frees it.  Run by huge_realloc.sh under strace with
 * the preload library: a huge-block realloc is expected to move page tables
 * with mremap instead of copying.
 *
 * The first 4 MiB are filled and checked completely; beyond that one 8-byte
 * word per 64 KiB (at an offset that varies per block) is written and
 * checked, so the resident set stays near 130 MiB while the address space
 * grows to 2 GiB.
 *
 * Output (stdout) is deterministic.  With KPROG_MAPS=path set, a copy of
 * /proc/self/maps is written there while the 2 GiB buffer is live.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)
#define START (4 * MiB)
#define END (2048 * MiB)
#define STRIDE (64 * 1024UL)

static uint64_t word_at(size_t off)
{
	uint64_t x = (uint64_t)off * 0x9E3779B97F4A7C15ULL + 0x1234567;
	x ^= x >> 29;
	return x;
}

/* The sampled offset inside the 64 KiB block starting at base. */
static size_t sample_off(size_t base)
{
	return base + ((base / STRIDE) * 4104 % (STRIDE - 8) & ~(size_t)7);
}

static void fill(unsigned char *p, size_t from, size_t to)
{
	for (size_t b = from; b < to; b += STRIDE) {
		if (b < START) {
			for (size_t o = b; o < b + STRIDE; o += 8) {
				uint64_t w = word_at(o);
				memcpy(p + o, &w, 8);
			}
		} else {
			size_t o = sample_off(b);
			uint64_t w = word_at(o);
			memcpy(p + o, &w, 8);
		}
	}
}

/* Returns the number of mismatching words in [0, to). */
static size_t check(const unsigned char *p, size_t to, size_t *first_bad)
{
	size_t bad = 0;
	for (size_t b = 0; b < to; b += STRIDE) {
		size_t lo = b < START ? b : sample_off(b);
		size_t hi = b < START ? b + STRIDE : lo + 8;
		for (size_t o = lo; o < hi; o += 8) {
			uint64_t w;
			memcpy(&w, p + o, 8);
			if (w != word_at(o)) {
				if (!bad)
					*first_bad = o;
				bad++;
			}
		}
	}
	return bad;
}

static void copy_maps(void)
{
	const char *path = getenv("KPROG_MAPS");
	if (!path)
		return;
	int in = open("/proc/self/maps", O_RDONLY);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0) {
		perror("maps");
		exit(2);
	}
	char buf[8192];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			perror("maps write");
			exit(2);
		}
	close(in);
	close(out);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned char *p = malloc(START);
	if (!p) {
		printf("malloc(%lu) failed\n", START);
		return 1;
	}
	if ((uintptr_t)p % 16) {
		printf("misaligned block %p\n", (void *)p);
		return 1;
	}
	fill(p, 0, START);
	size_t size = START;
	int steps = 0;
	while (size < END) {
		size_t nsize = size * 2;
		unsigned char *q = realloc(p, nsize);
		if (!q) {
			printf("realloc %lu -> %lu MiB failed: %s\n", size / MiB, nsize / MiB, strerror(errno));
			free(p);
			return 1;
		}
		p = q;
		size_t first = 0, bad = check(p, size, &first);
		if (bad) {
			printf("realloc %lu -> %lu MiB: %zu words lost, first at offset %zu\n",
			       size / MiB, nsize / MiB, bad, first);
			return 1;
		}
		fill(p, size, nsize);
		/* the last byte of the new block is usable */
		p[nsize - 1] = 0xA5;
		if (p[nsize - 1] != 0xA5)
			return 1;
		printf("grow %4lu -> %4lu MiB: contents intact\n", size / MiB, nsize / MiB);
		size = nsize;
		steps++;
	}
	copy_maps();
	size_t first = 0;
	if (check(p, size, &first)) {
		printf("final check failed at offset %zu\n", first);
		return 1;
	}
	/* Shrink back in two steps; the kept part must survive. */
	static const size_t shrink[] = {256 * MiB, 3 * MiB};
	for (int i = 0; i < 2; i++) {
		unsigned char *q = realloc(p, shrink[i]);
		if (!q) {
			printf("shrink to %lu failed\n", shrink[i]);
			return 1;
		}
		p = q;
		if (check(p, shrink[i], &first)) {
			printf("shrink to %lu bytes: contents lost at offset %zu\n", shrink[i], first);
			return 1;
		}
		printf("shrink to %lu KiB: contents intact\n", shrink[i] / 1024);
	}
	free(p);
	printf("ok: %d doublings from %lu MiB to %lu MiB\n", steps, START / MiB, END / MiB);
	return 0;
}

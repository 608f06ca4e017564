/* SPDX-License-Identifier: MIT */
/*
 * Grows one buffer from 4 MiB to 2 GiB by doubling with realloc, touching
 * every new page (as a program filling the buffer would); reports the time
 * spent inside realloc only.  With mremap the pages move and nothing is
 * copied; an allocator that copies pays for 2 GiB of memcpy.
 */
#include "common.h"

#include <unistd.h>

int main(void)
{
	size_t top = (size_t)(2048.0 * scale()) << 20;
	if (top < (8u << 20))
		top = 8u << 20;
	size_t size = 4u << 20;
	long pg = sysconf(_SC_PAGESIZE);
	char *p = malloc(size);
	for (size_t i = 0; i < size; i += (size_t)pg)
		p[i] = (char)i;
	double in_realloc = 0;
	int steps = 0;
	while (size < top) {
		size_t next = size * 2;
		double t0 = now_s();
		char *q = realloc(p, next);
		in_realloc += now_s() - t0;
		if (!q) {
			fprintf(stderr, "realloc_huge: realloc to %zu failed\n", next);
			return 1;
		}
		p = q;
		if (p[0] != 0 || p[size - (size_t)pg] != (char)(size - (size_t)pg)) {
			fprintf(stderr, "realloc_huge: contents lost\n");
			return 1;
		}
		for (size_t i = size; i < next; i += (size_t)pg)
			p[i] = (char)i;
		size = next;
		steps++;
	}
	free(p);
	result(in_realloc, steps);
	return 0;
}

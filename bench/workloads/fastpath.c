/* SPDX-License-Identifier: MIT */
/*
 * The fast-path loop: argv[1] (default 1000000) iterations of
 * p = malloc(32); free(p), after a warm-up.  Run under
 * `valgrind --tool=callgrind` by bench/fastpath.sh, which divides the
 * instructions of the measured loop by its iterations.
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void fastpath_loop(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = malloc(32);
		free(p);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	fastpath_loop(1000);   /* warm-up: the caches are filled */
	fastpath_loop(n);
	return 0;
}

// SPDX-License-Identifier: MIT
//
// fastpath.c's loop for C++'s operators: argv[2] selects the loop run for
// argv[1] iterations (default 1000000), after a warm-up:
//   sized    p = operator new(32); operator delete(p, 32)   (the default)
//   unsized  p = operator new(32); operator delete(p)
//   malloc   p = malloc(32); free(p)                        (fastpath.c's)
// bench/fastpath.sh runs it under callgrind, collecting fastpath_<mode>.
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
__attribute__((noinline)) void fastpath_sized(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = ::operator new(32);
		::operator delete(p, 32);
	}
}

__attribute__((noinline)) void fastpath_unsized(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = ::operator new(32);
		::operator delete(p);
	}
}

__attribute__((noinline)) void fastpath_malloc(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = std::malloc(32);
		std::free(p);
	}
}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::atol(argv[1]) : 1000000;
	const char *mode = argc > 2 ? argv[2] : "sized";
	void (*loop)(long) = !std::strcmp(mode, "unsized") ? fastpath_unsized
	                     : !std::strcmp(mode, "malloc") ? fastpath_malloc : fastpath_sized;
	loop(1000);   // warm-up: the caches are filled
	loop(n);
	return 0;
}

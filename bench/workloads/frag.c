/* SPDX-License-Identifier: MIT */
/*
 * Long-lived fragmentation: rounds of "allocate many blocks of one size
 * range, free a random 90% of everything live", each round with another
 * range (small, medium, page-sized, mixed), so memory freed by one round
 * can only be reused by later ones if the allocator does not strand it.
 * Prints peak and final RSS (VmHWM, VmRSS) as well as the time.
 */
#include "common.h"

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0) {
			v = atol(line + n + 1);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

int main(void)
{
	static const size_t lo[] = { 16, 200, 1000, 3000, 16, 64, 8000, 24 };
	static const size_t hi[] = { 128, 600, 4000, 20000, 64, 2048, 70000, 300 };
	size_t cap = 4u << 20, n = 0;
	void **live = malloc(cap * sizeof *live);
	uint64_t s = 42;
	long per_round = (long)(200000 * scale());
	double ops = 0, t0 = now_s();
	for (int round = 0; round < 24; round++) {
		int r = round % 8;
		for (long i = 0; i < per_round / (r == 6 ? 20 : r == 3 ? 5 : 1) && n < cap; i++) {
			size_t sz = lo[r] + rnd(&s) % (hi[r] - lo[r]);
			char *p = malloc(sz);
			p[0] = (char)i;
			p[sz - 1] = (char)i;
			live[n++] = p;
			ops++;
		}
		for (size_t i = 0; i < n;) {
			if (rnd(&s) % 10) {
				free(live[i]);
				live[i] = live[--n];
				ops++;
			} else {
				i++;
			}
		}
	}
	double t = now_s() - t0;
	long final = status_kib("VmRSS:");
	for (size_t i = 0; i < n; i++)
		free(live[i]);
	free(live);
	printf("frag: peak %ld KiB, final %ld KiB with %zu blocks live\n", status_kib("VmHWM:"), final, n);
	result(t, ops);
	return 0;
}

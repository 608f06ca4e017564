/* SPDX-License-Identifier: MIT */
/*
 * kalloc-top - a slabtop for a program running under kalloc.
 *
 *   kalloc-top [--once] [--json] [--sort=size|objects|active|cache|objsize]
 *              [--delay=SECONDS] [PID]
 *
 * The program must run with KALLOC_SHM=1: kalloc then publishes its
 * statistics snapshot (src/stats_snap.h) in /dev/shm/kalloc.<pid>,
 * refreshed at most every 100 ms while the program allocates, and removes
 * the segment at exit.  kalloc-top reads only that segment (it is not
 * linked with kalloc and needs nothing preloaded): it maps it read-only
 * and copies a snapshot whole, retrying while the sequence count is odd
 * or changes under it.  Without a PID it takes the one segment of a live
 * process (naming them all when there are several); segments of processes
 * that are gone (killed before exit) are removed.
 *
 * Interactive (no --once): the table is redrawn every DELAY seconds; keys
 * s (cache size), o (objects), a (active objects), c (cache name),
 * z (object size) sort, q quits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "stats_snap.h"

enum sort_key { SORT_SIZE, SORT_OBJECTS, SORT_ACTIVE, SORT_CACHE, SORT_OBJSIZE };

static void usage(FILE *f)
{
	fprintf(f, "usage: kalloc-top [--once] [--json] [--sort=size|objects|active|cache|objsize] [--delay=SECONDS] [PID]\n"
	           "Shows the slab caches of a program running with KALLOC_SHM=1 under kalloc.\n");
}

static bool pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Live segments' pids into pids[] (at most max); removes stale ones. */
static int find_segments(long *pids, int max)
{
	DIR *d = opendir("/dev/shm");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (strncmp(e->d_name, "kalloc.", 7) != 0)
			continue;
		long pid = strtol(e->d_name + 7, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (!pid_alive(pid)) {
			char path[300];
			snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
			unlink(path);   /* a process that died before its exit handlers */
			continue;
		}
		if (n < max)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

/* Copies the segment of pid into *out; 0, or an error message. */
static const char *read_segment(long pid, struct ksnap *out)
{
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/kalloc.%ld", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? "no segment: is the program running under kalloc with KALLOC_SHM=1?"
		                       : strerror(errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct ksnap)) {
		close(fd);
		return "the segment is too small (another version of kalloc?)";
	}
	const struct ksnap *m = mmap(NULL, sizeof *m, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return strerror(errno);
	const char *err = NULL;
	if (m->magic != KSNAP_MAGIC || m->version != KSNAP_VERSION || m->size != sizeof *m) {
		err = "the segment's layout is not this kalloc-top's (another version of kalloc?)";
	} else {
		for (int tries = 0;; tries++) {
			uint64_t a = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
			if (!(a & 1)) {
				memcpy(out, m, sizeof *out);
				__atomic_thread_fence(__ATOMIC_ACQUIRE);
				if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) == a)
					break;
			}
			if (tries > 1000) {
				err = "the segment is being rewritten without pause";
				break;
			}
			usleep(1000);
		}
		if (!err && out->seq == 0)
			err = "the program has not published a snapshot yet (it publishes while it allocates)";
	}
	munmap((void *)m, sizeof *m);
	return err;
}

static enum sort_key sort_by = SORT_SIZE;

static uint64_t cache_bytes(const struct ksnap_cache *c)
{
	return c->page_blocks ? (c->active_objs + c->cpu_cached) * c->objsize : c->slabs * c->pagesperslab * 4096;
}

static int cmp_cache(const void *x, const void *y)
{
	const struct ksnap_cache *a = x, *b = y;
	uint64_t va = 0, vb = 0;
	switch (sort_by) {
	case SORT_CACHE:
		return strcmp(a->name, b->name);
	case SORT_SIZE:
		va = cache_bytes(a), vb = cache_bytes(b);
		break;
	case SORT_OBJECTS:
		va = a->num_objs, vb = b->num_objs;
		break;
	case SORT_ACTIVE:
		va = a->active_objs, vb = b->active_objs;
		break;
	case SORT_OBJSIZE:
		va = a->objsize, vb = b->objsize;
		break;
	}
	return va < vb ? 1 : va > vb ? -1 : strcmp(a->name, b->name);
}

static double kib(uint64_t b)
{
	return (double)b / 1024.0;
}

static void print_table(FILE *f, struct ksnap *s, int rows)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	fprintf(f, "kalloc-top: pid %" PRId64 ", snapshot %" PRIu64 " ms old (update %" PRIu64 "), front caches %s\n",
	        s->pid, now > s->time_ms ? now - s->time_ms : 0, s->updates, s->front_mode);
	fprintf(f, " Mapped: %.1f KiB  Resident: %.1f KiB  In use: %.1f KiB  Front-cached: %.1f KiB\n", kib(s->mapped),
	        kib(s->resident), kib(s->in_use), kib(s->cached));
	fprintf(f, " Free in slabs: %.1f KiB  Free pages: %.1f KiB  Huge areas: %" PRIu64 " (%.1f KiB)  Fragmentation: %.1f%%\n",
	        kib(s->slab_free), kib(s->buddy_free), s->huge_count, kib(s->huge_bytes), s->frag_permille / 10.0);
	fprintf(f, " Buddy free blocks per order:");
	for (unsigned z = 0; z < s->nr_zones; z++) {
		fprintf(f, "%s node %" PRIu64 " %s:", z ? ";" : "", s->zones[z].node, s->zones[z].name);
		for (unsigned o = 0; o < KSNAP_ORDERS; o++)
			fprintf(f, " %" PRIu64, s->zones[z].nr_free[o]);
	}
	fprintf(f, "\n\n%9s %9s %4s %9s %7s %8s %9s %8s  %s\n", "OBJS", "ACTIVE", "USE", "OBJ SIZE", "SLABS", "OBJ/SLAB",
	        "CACHE SIZE", "CPU", "NAME");
	qsort(s->caches, s->nr_caches, sizeof s->caches[0], cmp_cache);
	for (unsigned i = 0; i < s->nr_caches && (rows <= 0 || (int)i < rows); i++) {
		const struct ksnap_cache *c = &s->caches[i];
		unsigned use = c->num_objs ? (unsigned)(c->active_objs * 100 / c->num_objs) : 0;
		fprintf(f, "%9" PRIu64 " %9" PRIu64 " %3u%% %8.2fK %7" PRIu64 " %8" PRIu64 " %9.0fK %8" PRIu64 "  %s\n",
		        c->num_objs, c->active_objs, use, c->objsize / 1024.0, c->slabs, c->objperslab, kib(cache_bytes(c)),
		        c->cpu_cached, c->name);
	}
}

static void json_name(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void print_json(FILE *f, struct ksnap *s)
{
	qsort(s->caches, s->nr_caches, sizeof s->caches[0], cmp_cache);
	fprintf(f, "{\"pid\": %" PRId64 ", \"time_ms\": %" PRIu64 ", \"updates\": %" PRIu64 ", \"front_mode\": ", s->pid,
	        s->time_ms, s->updates);
	json_name(f, s->front_mode);
	fprintf(f, ",\n \"totals\": {\"mapped\": %" PRIu64 ", \"resident\": %" PRIu64 ", \"in_use\": %" PRIu64
	           ", \"cached\": %" PRIu64 ", \"slab_free\": %" PRIu64 ", \"buddy_free\": %" PRIu64
	           ", \"fragmentation\": %.3f, \"huge_count\": %" PRIu64 ", \"huge_bytes\": %" PRIu64 "},\n \"slabinfo\": [",
	        s->mapped, s->resident, s->in_use, s->cached, s->slab_free, s->buddy_free, s->frag_permille / 1000.0,
	        s->huge_count, s->huge_bytes);
	for (unsigned i = 0; i < s->nr_caches; i++) {
		const struct ksnap_cache *c = &s->caches[i];
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_name(f, c->name);
		fprintf(f, ", \"active_objs\": %" PRIu64 ", \"num_objs\": %" PRIu64 ", \"objsize\": %" PRIu64
		           ", \"objperslab\": %" PRIu64 ", \"pagesperslab\": %" PRIu64 ", \"slabs\": %" PRIu64
		           ", \"cpu_cached\": %" PRIu64 ", \"cache_bytes\": %" PRIu64 "}",
		        c->active_objs, c->num_objs, c->objsize, c->objperslab, c->pagesperslab, c->slabs, c->cpu_cached,
		        cache_bytes(c));
	}
	fprintf(f, "],\n \"buddyinfo\": [");
	for (unsigned z = 0; z < s->nr_zones; z++) {
		fprintf(f, "%s\n  {\"node\": %" PRIu64 ", \"zone\": ", z ? "," : "", s->zones[z].node);
		json_name(f, s->zones[z].name);
		fprintf(f, ", \"free_blocks\": [");
		for (unsigned o = 0; o < KSNAP_ORDERS; o++)
			fprintf(f, "%s%" PRIu64, o ? ", " : "", s->zones[z].nr_free[o]);
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
}

static bool parse_sort(const char *v)
{
	static const struct { const char *name; enum sort_key key; } keys[] = {
		{ "size", SORT_SIZE }, { "objects", SORT_OBJECTS }, { "active", SORT_ACTIVE },
		{ "cache", SORT_CACHE }, { "name", SORT_CACHE }, { "objsize", SORT_OBJSIZE },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(v, keys[i].name) == 0) {
			sort_by = keys[i].key;
			return true;
		}
	return false;
}

static struct termios saved_tty;
static bool tty_raw;

static void restore_tty(void)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
	tty_raw = false;
}

static void on_stop(int sig)
{
	(void)sig;
	restore_tty();
	_exit(0);
}

int main(int argc, char **argv)
{
	bool once = false, json = false;
	double delay = 1.0;
	long pid = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--once") == 0 || strcmp(a, "-o") == 0)
			once = true;
		else if (strcmp(a, "--json") == 0)
			json = once = true;
		else if (strncmp(a, "--sort=", 7) == 0 && parse_sort(a + 7))
			;
		else if (strcmp(a, "-s") == 0 && i + 1 < argc && parse_sort(argv[i + 1]))
			i++;
		else if (strncmp(a, "--delay=", 8) == 0 && atof(a + 8) > 0)
			delay = atof(a + 8);
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (a[0] >= '0' && a[0] <= '9' && !pid)
			pid = strtol(a, NULL, 10);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!pid) {
		long pids[64];
		int n = find_segments(pids, 64);
		if (n == 0) {
			fprintf(stderr, "kalloc-top: no program publishes statistics (run it with KALLOC_SHM=1 under kalloc)\n");
			return 1;
		}
		if (n > 1) {
			fprintf(stderr, "kalloc-top: several programs publish statistics; name one:");
			for (int i = 0; i < n && i < 64; i++)
				fprintf(stderr, " %ld", pids[i]);
			fprintf(stderr, "\n");
			return 1;
		}
		pid = pids[0];
	} else if (!pid_alive(pid)) {
		char path[64];
		snprintf(path, sizeof path, "/dev/shm/kalloc.%ld", pid);
		if (unlink(path) == 0)
			fprintf(stderr, "kalloc-top: process %ld is gone; its stale segment was removed\n", pid);
		else
			fprintf(stderr, "kalloc-top: no process %ld\n", pid);
		return 1;
	}

	static struct ksnap s;
	if (once) {
		const char *err = read_segment(pid, &s);
		if (err) {
			fprintf(stderr, "kalloc-top: pid %ld: %s\n", pid, err);
			return 1;
		}
		if (json)
			print_json(stdout, &s);
		else
			print_table(stdout, &s, 0);
		return 0;
	}

	if (isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			tty_raw = true;
		atexit(restore_tty);
		signal(SIGINT, on_stop);
		signal(SIGTERM, on_stop);
	}
	for (;;) {
		const char *err = read_segment(pid, &s);
		printf("\033[H\033[2J");
		if (err) {
			printf("kalloc-top: pid %ld: %s\n", pid, err);
			if (!pid_alive(pid))
				return 1;
		} else {
			print_table(stdout, &s, 40);
			printf("\n(sort: s size, o objects, a active, c cache, z object size; q quits)\n");
		}
		fflush(stdout);
		struct pollfd p = { .fd = 0, .events = POLLIN };
		if (poll(&p, 1, (int)(delay * 1000)) > 0) {
			char ch;
			if (read(0, &ch, 1) == 1) {
				switch (ch) {
				case 'q':
					return 0;
				case 's': sort_by = SORT_SIZE; break;
				case 'o': sort_by = SORT_OBJECTS; break;
				case 'a': sort_by = SORT_ACTIVE; break;
				case 'c': sort_by = SORT_CACHE; break;
				case 'z': sort_by = SORT_OBJSIZE; break;
				default: break;
				}
			} else if (!tty_raw) {
				/* stdin at end of file: keep refreshing until interrupted */
				p.fd = -1;
				usleep((useconds_t)(delay * 1e6));
			}
		}
	}
}

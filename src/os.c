/* SPDX-License-Identifier: MIT */
/*
 * os.c - the OS layer: the only file that calls the kernel.
 *
 * Every wrapper returns a value (an address or NULL, 0 or an errno number)
 * and never prints or aborts; errno is saved and restored, so the API files
 * on top decide alone what errno the caller sees.  All mapping of memory
 * goes through kos_map(), the single accounting point where a memory cap can
 * hook in, and where the reclaim hook (registered by init.c) runs when the
 * OS refuses.
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Reclaim hook: called when the OS refuses memory, to give address space
 * back (unmap free chunks, drain caches) before one retry. */
static size_t (*reclaim_hook)(void);
static __thread bool in_reclaim;

void kos_set_reclaim(size_t (*fn)(void))
{
	reclaim_hook = fn;
}

static void *map_once(size_t size, size_t align, bool lazy, uintptr_t hint, int *err);

void *kos_map(size_t size, size_t align, bool lazy, uintptr_t hint)
{
	int e = 0;
	void *p = map_once(size, align, lazy, hint, &e);
	if (!p && e == ENOMEM && reclaim_hook && !in_reclaim) {
		in_reclaim = true;
		size_t got = reclaim_hook();
		in_reclaim = false;
		if (got)
			p = map_once(size, align, lazy, hint, &e);
	}
	return p;
}

static void *map_once(size_t size, size_t align, bool lazy, uintptr_t hint, int *err)
{
	int saved = errno;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (lazy ? MAP_NORESERVE : 0);
	void *ret = NULL;

	if (align < PAGE_SIZE)
		align = PAGE_SIZE;
	size = KALIGN_UP(size, PAGE_SIZE);
	if (size == 0 || size > (SIZE_MAX >> 2) || align > (SIZE_MAX >> 2)) {
		*err = ENOMEM;
		return NULL;
	}
	if (align == PAGE_SIZE) {
		void *p = mmap((void *)hint, size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p != MAP_FAILED)
			ret = p;
	} else {
		/* Try the exact size first: the kernel often places mappings
		 * next to each other, and an aligned one may come out. */
		void *p = mmap((void *)hint, size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p != MAP_FAILED && ((uintptr_t)p & (align - 1)) == 0) {
			ret = p;
		} else {
			if (p != MAP_FAILED)
				munmap(p, size);
			size_t over = size + align - PAGE_SIZE;
			p = mmap((void *)hint, over, PROT_READ | PROT_WRITE, flags, -1, 0);
			if (p != MAP_FAILED) {
				uintptr_t a = KALIGN_UP((uintptr_t)p, align);
				size_t head = a - (uintptr_t)p;
				size_t tail = over - head - size;
				if (head)
					munmap(p, head);
				if (tail)
					munmap((void *)(a + size), tail);
				ret = (void *)a;
			}
		}
	}
	if (!ret)
		*err = errno ? errno : ENOMEM;
	errno = saved;
	return ret;
}

void *kos_map_guarded(size_t size, size_t align, bool lazy)
{
	size = KALIGN_UP(size, PAGE_SIZE);
	align = KMAX(align, PAGE_SIZE);
	if (size == 0 || size > (SIZE_MAX >> 2) || align > (SIZE_MAX >> 2))
		return NULL;
	/* room for the guard before, the alignment and the guard after */
	size_t over = size + align + PAGE_SIZE;
	char *p = kos_map(over, PAGE_SIZE, lazy, 0);
	if (!p)
		return NULL;
	int saved = errno;
	char *a = (char *)KALIGN_UP((uintptr_t)p + PAGE_SIZE, align);
	char *lo = a - PAGE_SIZE, *hi = a + size + PAGE_SIZE, *end = p + over;
	if (lo > p)
		munmap(p, (size_t)(lo - p));
	if (end > hi)
		munmap(hi, (size_t)(end - hi));
	mprotect(lo, PAGE_SIZE, PROT_NONE);
	mprotect(a + size, PAGE_SIZE, PROT_NONE);
	errno = saved;
	return a;
}

void *kos_map_at(void *addr, size_t size)
{
	int saved = errno;
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
	/* Kernels before 4.17 take MAP_FIXED_NOREPLACE as a hint: check. */
	void *p = mmap(addr, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != MAP_FAILED && p != addr) {
		munmap(p, size);
		p = MAP_FAILED;
	}
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

int kos_unmap(void *addr, size_t size)
{
	int saved = errno, rc = 0;
	if (munmap(addr, size) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

int kos_release(void *addr, size_t size)
{
	int saved = errno, rc = 0;
	if (madvise(addr, size, MADV_DONTNEED) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

void kos_yield(void)
{
	sched_yield();
}

int kos_protect_none(void *addr, size_t size)
{
	int saved = errno, rc = 0;
	if (mprotect(addr, size, PROT_NONE) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

void *kos_reserve(size_t size)
{
	int saved = errno;
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

void *kos_reserve_at(void *addr, size_t size)
{
	int saved = errno;
	void *p = mmap(addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != MAP_FAILED && p != addr) {
		munmap(p, size);   /* a kernel before 4.17 took it as a hint */
		p = MAP_FAILED;
	}
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

int kos_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int saved = errno, rc = 0;
	if (sigaction(sig, act, old) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

void kos_raise(int sig)
{
	int saved = errno;
	raise(sig);
	errno = saved;
}

int kos_protect_rw(void *addr, size_t size)
{
	int saved = errno, rc = 0;
	if (mprotect(addr, size, PROT_READ | PROT_WRITE) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

void *kos_remap(void *old, size_t old_size, size_t new_size)
{
	int saved = errno;
	void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

void *kos_remap_to(void *old, size_t old_size, size_t new_size, void *target)
{
	int saved = errno;
	void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (p != MAP_FAILED) {
		errno = saved;
		return p;
	}
	/* The reservation was unmapped by the failed call or still is ours;
	 * which one, only a mapping that cannot replace anything tells. */
	void *again = kos_map_at(target, new_size);
	if (again)
		munmap(again, new_size);
	errno = saved;
	return NULL;
}

void kos_random(void *buf, size_t len)
{
	int saved = errno;
	unsigned char *b = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom(b + got, len - got, GRND_NONBLOCK);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	if (got < len) {
		/* No entropy source: mix the clock and ASLR-placed addresses. */
		uint64_t x = kos_now_ns() ^ (uint64_t)(uintptr_t)&got ^ ((uint64_t)(uintptr_t)buf << 17);
		for (; got < len; got++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[got] ^= (unsigned char)(x >> 24);
		}
	}
	errno = saved;
}

unsigned kos_parse_cpu_list(const char *s)
{
	unsigned max = 0, cur = 0;
	bool have = false;
	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			cur = cur * 10 + (unsigned)(*s - '0');
			have = true;
		} else {
			if (have && cur + 1 > max)
				max = cur + 1;
			cur = 0;
			have = false;
			if (*s == '\0' || *s == '\n')
				break;
		}
	}
	return max;
}

unsigned kos_mark_cpu_list(const char *s, uint8_t *map, unsigned len, uint8_t val)
{
	unsigned marked = 0, lo = 0, cur = 0;
	bool have = false, range = false;
	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			cur = cur * 10 + (unsigned)(*s - '0');
			have = true;
			if (cur > 1u << 20)
				return marked;   /* not a CPU list */
			continue;
		}
		if (*s == '-' && have && !range) {
			lo = cur;
			range = true;
		} else {
			if (have) {
				unsigned first = range ? lo : cur;
				for (unsigned c = first; c <= cur && c < len; c++, marked++)
					map[c] = val;
			}
			range = false;
			if (*s != ',')
				break;
		}
		cur = 0;
		have = false;
	}
	return marked;
}

size_t kos_read_small(const char *path, char *buf, size_t len)
{
	int saved = errno;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && len) {
		ssize_t r = read(fd, buf, len - 1);
		got = r > 0 ? (size_t)r : 0;
	}
	if (fd >= 0)
		close(fd);
	if (len)
		buf[got] = '\0';
	errno = saved;
	return got;
}

uintptr_t kos_map_min(void)
{
	char buf[32];
	uintptr_t min = 0;
	bool have = false;
	if (kos_read_small("/proc/sys/vm/mmap_min_addr", buf, sizeof buf))
		for (const char *s = buf; *s >= '0' && *s <= '9' && min < (1UL << 40); s++, have = true)
			min = min * 10 + (uintptr_t)(*s - '0');
	if (!have)
		min = 64UL << 10;
	return KMAX(KALIGN_UP(min, PAGE_SIZE), PAGE_SIZE);
}

unsigned kos_ncpus(void)
{
	int saved = errno;
	unsigned n = 0;
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[256];
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r > 0) {
			buf[r] = '\0';
			n = kos_parse_cpu_list(buf);
		}
	}
	if (n == 0) {
		/* No /sys: the highest CPU this thread may run on + 1 (not the
		 * number of CPUs it may run on: CPU ids index the per-CPU
		 * regions), and at least what the C library counts. */
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof set, &set) == 0)
			for (unsigned c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					n = c + 1;
		long conf = sysconf(_SC_NPROCESSORS_CONF);
		if (conf > 0 && (unsigned long)conf > n)
			n = (unsigned)conf;
	}
	errno = saved;
	return n ? n : 1;
}

int kos_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

uint64_t kos_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kwrite_all(int fd, const char *buf, size_t len)
{
	int saved = errno;
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	errno = saved;
}

/* membarrier(2) commands used for rseq fences (linux/membarrier.h values). */
#define KMEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ          (1 << 7)
#define KMEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ (1 << 8)

int kos_membarrier_rseq_register(void)
{
	int saved = errno, rc = 0;
	if (syscall(SYS_membarrier, KMEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

int kos_membarrier_rseq(void)
{
	int saved = errno, rc = 0;
	if (syscall(SYS_membarrier, KMEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0)
		rc = errno;
	errno = saved;
	return rc;
}

unsigned long kos_getauxval(unsigned long type)
{
	int saved = errno;
	unsigned long v = getauxval(type);
	errno = saved;
	return v;
}

int kos_getcpu(void)
{
	int saved = errno;
	int cpu = sched_getcpu();
	errno = saved;
	return cpu < 0 ? 0 : cpu;
}

int kos_open_append(const char *path)
{
	int saved = errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	errno = saved;
	return fd;
}

void kos_close(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

size_t kos_read_file(const char *path, char *buf, size_t len)
{
	int saved = errno;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (n + 1 < len) {
			ssize_t r = read(fd, buf + n, len - 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		close(fd);
	}
	if (len)
		buf[n] = '\0';
	errno = saved;
	return n;
}

/* ------------------------------------------------------------------ */
/* introspection: files, shared memory, residency, signals             */
/* ------------------------------------------------------------------ */

int kos_open_write(const char *path)
{
	int saved = errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	errno = saved;
	return fd;
}

bool kos_is_regular(const char *path)
{
	int saved = errno;
	struct stat st;
	bool reg = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	errno = saved;
	return reg;
}

void *kos_map_file(const char *path, size_t *size)
{
	int saved = errno;
	void *p = NULL;
	*size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
			p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p == MAP_FAILED)
				p = NULL;
			else
				*size = (size_t)st.st_size;
		}
		close(fd);
	}
	errno = saved;
	return p;
}

void *kos_shm_create(const char *path, size_t size)
{
	int saved = errno;
	void *p = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (ftruncate(fd, (off_t)size) == 0) {
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED)
				p = NULL;
		}
		close(fd);
		if (!p)
			unlink(path);
	}
	errno = saved;
	return p;
}

void kos_unlink(const char *path)
{
	int saved = errno;
	unlink(path);
	errno = saved;
}

size_t kos_resident(uintptr_t addr, size_t size)
{
	int saved = errno;
	unsigned char vec[4096];
	size_t res = 0;
	addr = KALIGN_DOWN(addr, PAGE_SIZE);
	size = KALIGN_UP(size, PAGE_SIZE);
	for (size_t off = 0; off < size; off += sizeof vec * PAGE_SIZE) {
		size_t len = KMIN(size - off, sizeof vec * PAGE_SIZE);
		if (mincore((void *)(addr + off), len, vec) != 0)
			continue;
		for (size_t i = 0; i < len >> PAGE_SHIFT; i++)
			res += vec[i] & 1;
	}
	errno = saved;
	return res << PAGE_SHIFT;
}

int kos_getpid(void)
{
	return (int)getpid();
}

uint64_t kos_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kos_signal_flag(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return kos_sigaction(sig, &sa, NULL);
}

int kos_signal_number(const char *name)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "HUP", SIGHUP }, { "PROF", SIGPROF },
		{ "URG", SIGURG }, { "WINCH", SIGWINCH }, { "PWR", SIGPWR },
	};
	if (name[0] == 'S' && name[1] == 'I' && name[2] == 'G')
		name += 3;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (strcmp(name, sigs[i].name) == 0)
			return sigs[i].sig;
	int v = 0;
	for (const char *s = name; *s; s++) {
		if (*s < '0' || *s > '9' || v > 64)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v > 0 && v < NSIG ? v : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * os.h - the OS layer (os.c): the only file that calls the kernel.
 *
 * Every wrapper returns a value (an address or NULL, 0 or an errno number),
 * never prints and never aborts, and leaves errno as it found it: the API
 * files on top decide alone what errno a caller sees.
 */
#ifndef KALLOC_OS_H
#define KALLOC_OS_H

#include "base.h"

#pragma GCC visibility push(hidden)

/* Maps `size` bytes of fresh zeroed read-write memory aligned to `align`
 * (a power of two; PAGE_SIZE at least is used); NULL on failure.  With
 * `lazy` the memory is reserved with MAP_NORESERVE.  `hint` may be 0.  When
 * the OS refuses with ENOMEM, the reclaim hook runs once (no lock of kalloc
 * may be held by the caller) and the mapping is retried if it gave anything
 * back.  The single point where kalloc obtains address space. */
void *kos_map(size_t size, size_t align, bool lazy, uintptr_t hint);
/* Sets the function kos_map calls when the OS refuses memory: it returns
 * how many bytes it gave back.  Registered by init.c: the one way up. */
void kos_set_reclaim(size_t (*fn)(void));
/* kos_map for metadata: size bytes aligned to align, between two PROT_NONE
 * guard pages (one just before, one just after), so that no run off the
 * end of a neighbouring mapping (user data) reaches them, nor a run off
 * theirs the neighbour.  Unmap with kos_unmap(p - PAGE_SIZE, size rounded
 * up to pages + 2 * PAGE_SIZE). */
void *kos_map_guarded(size_t size, size_t align, bool lazy);
/* Maps size bytes (lazily backed) exactly at addr; NULL when anything is
 * there already. */
void *kos_map_at(void *addr, size_t size);
/* Unmaps.  0 or an errno value. */
int kos_unmap(void *addr, size_t size);
/* Gives pages back to the OS (MADV_DONTNEED): afterwards they read as
 * zero.  0 or an errno value. */
int kos_release(void *addr, size_t size);
/* Gives the CPU to another thread (sched_yield). */
void kos_yield(void);
/* Makes a range inaccessible (a guard).  0 or an errno value. */
int kos_protect_none(void *addr, size_t size);
/* Makes [addr, addr+size) readable and writable again (a guard page given
 * back).  0 or an errno value. */
int kos_protect_rw(void *addr, size_t size);
/* Reserves size bytes of address space with no access (PROT_NONE,
 * MAP_NORESERVE: never backed, no commit charge), wherever the kernel puts
 * it; NULL when refused.  No reclaim: the caller has a fallback. */
void *kos_reserve(size_t size);
/* kos_reserve exactly at addr; NULL when anything is there already. */
void *kos_reserve_at(void *addr, size_t size);
struct sigaction;
/* sigaction(2): 0 or an errno value. */
int kos_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* raise(3): sends sig to the calling thread. */
void kos_raise(int sig);
/* mremap(MREMAP_MAYMOVE): resizes the mapping at old to new_size, moving its
 * page tables wherever the kernel finds room.  Returns the new address, or
 * NULL with the old mapping intact. */
void *kos_remap(void *old, size_t old_size, size_t new_size);
/* mremap(MREMAP_MAYMOVE | MREMAP_FIXED) to target, a range of at least
 * new_size bytes that the caller mapped (its reservation).  Returns target,
 * or NULL with the old mapping intact and the reservation's first new_size
 * bytes given back: MREMAP_FIXED may unmap its target before it fails, and
 * another thread may map into that hole at once, so the hole is unmapped
 * only when it can be taken back first (MAP_FIXED_NOREPLACE); when it
 * cannot, it is left alone (at worst an untouched reservation stays
 * mapped: address space, no memory). */
void *kos_remap_to(void *old, size_t old_size, size_t new_size, void *target);
/* Fills buf with random bytes (getrandom, falling back to the clock and
 * the address space layout). */
void kos_random(void *buf, size_t len);
/* Number of possible CPUs: the highest possible CPU id + 1, from /sys, else
 * from the affinity mask and the C library's count; >= 1. */
unsigned kos_ncpus(void);
/* Highest CPU number + 1 in a list such as "0-3,8-11\n"; 0 if empty. */
unsigned kos_parse_cpu_list(const char *s);
/* Marks the CPUs of a list such as "0-3,8-11\n" in map[0 .. len): map[cpu] =
 * val (CPUs >= len are left out).  Returns the number of CPUs marked. */
unsigned kos_mark_cpu_list(const char *s, uint8_t *map, unsigned len, uint8_t val);
/* Reads the start of a small file (procfs, sysfs) into buf, NUL-terminated;
 * returns the bytes read, 0 when it cannot. */
size_t kos_read_small(const char *path, char *buf, size_t len);
/* The lowest address mmap may map (/proc/sys/vm/mmap_min_addr, page
 * aligned; 64 KiB, a common default, when it cannot be read), and never
 * below one page: address 0 stays unmapped. */
uintptr_t kos_map_min(void);
/* Monotonic time in nanoseconds (vDSO, no syscall on x86-64). */
uint64_t kos_now_ns(void);
/* membarrier(MEMBARRIER_CMD_[REGISTER_]PRIVATE_EXPEDITED_RSEQ): 0 or an
 * errno value. */
int kos_membarrier_rseq_register(void);
int kos_membarrier_rseq(void);
unsigned long kos_getauxval(unsigned long type);
/* The calling thread's id (gettid). */
int kos_gettid(void);
/* The CPU the caller runs on (vDSO getcpu), 0 if unknown. */
int kos_getcpu(void);
/* write(2) all of buf to fd, retrying on EINTR. */
void kwrite_all(int fd, const char *buf, size_t len);
/* Opens path for appending (created 0644); the descriptor or -1. */
int kos_open_append(const char *path);
void kos_close(int fd);
/* Reads up to len - 1 bytes of a small file into buf, NUL-terminated;
 * the bytes read (0 when it cannot be read). */
size_t kos_read_file(const char *path, char *buf, size_t len);

/* Opens path for writing, truncated (created 0644); the descriptor or -1. */
int kos_open_write(const char *path);
/* Whether path names a regular file (not /dev/null, a FIFO, ...). */
bool kos_is_regular(const char *path);
/* Maps a whole regular file read-only (private); NULL when it cannot.  The
 * caller unmaps *size bytes with kos_unmap. */
void *kos_map_file(const char *path, size_t *size);
/* Creates (truncating) a shared-memory file of `size` bytes, mode 0600, not
 * following a symbolic link, and maps it shared; NULL (and no file) when it
 * cannot. */
void *kos_shm_create(const char *path, size_t size);
void kos_unlink(const char *path);
/* Bytes of [addr, addr + size) resident in memory (mincore). */
size_t kos_resident(uintptr_t addr, size_t size);
int kos_getpid(void);
/* Wall-clock time in milliseconds since the epoch. */
uint64_t kos_realtime_ms(void);
/* Installs handler for sig (SA_RESTART); 0 or an errno value. */
int kos_signal_flag(int sig, void (*handler)(int));
/* A signal's number from "USR2", "SIGUSR2" or "12"; 0 when unknown. */
int kos_signal_number(const char *name);

#pragma GCC visibility pop

#endif /* KALLOC_OS_H */

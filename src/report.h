/* SPDX-License-Identifier: MIT */
/*
 * report.h - reports on stderr (report.c), without allocating.
 */
#ifndef KALLOC_REPORT_H
#define KALLOC_REPORT_H

#include "os.h"

#pragma GCC visibility push(hidden)

/* Formats like a tiny printf (%s %d %u %ld %lu %zu %x %lx %p %c %%, each
 * with an optional field width, left-aligned after '-', zero-padded after '0': %8s, %-24s, %03lu) into a stack buffer and write()s
 * one line to stderr, prefixed "kalloc: ".  Never allocates. */
void kreport(const char *fmt, ...) KFMT(1, 2);
/* kreport, then abort(). */
KNORETURN void kpanic(const char *fmt, ...) KFMT(1, 2);
/* Formats into buf (always NUL-terminated); returns the length. */
size_t kformat(char *buf, size_t len, const char *fmt, ...) KFMT(3, 4);
size_t kvformat(char *buf, size_t len, const char *fmt, __builtin_va_list ap);

/* Formats a code address as "0x... (object+0xoff, symbol+0xoff)" from the
 * dynamic symbol tables (dladdr: no allocation); returns the length. */
size_t kformat_symbol(char *buf, size_t len, const void *addr);

/* A failed allocation of `size` bytes by `what`: errno = ENOMEM, a report
 * unless __GFP_NOWARN, abort() if __GFP_NOFAIL. */
void kalloc_fail(size_t size, gfp_t gfp, const char *what);
/* "op(): invalid pointer p (why)", then abort(). */
KNORETURN void kbad_pointer(const void *p, const char *op, const char *why);
/* KALLOC_DEBUG's SIGSEGV reporter, never installed by default: the first
 * call of either function installs it.  A fault inside [lo, lo + len), the
 * zero-size region, is reported as "zero-size access at ADDR (malloc(0)
 * block)", one that fn (called in the signal handler: no lock, no
 * allocation) places in a freed huge block as "access to a freed huge
 * block at ADDR (offset N of the M-byte block at START)"; then abort().
 * Any other fault goes to the handler installed before, or to the default
 * action. */
void kreport_fault_zero(uintptr_t lo, size_t len);
void kreport_fault_freed(bool (*fn)(uintptr_t addr, uintptr_t *start, size_t *len));

/*
 * A report longer than a line (statistics) is formatted into a kout buffer:
 * memory mapped from the OS, never from kalloc's own structures, so the
 * report does not change what it describes.  Formatting makes no system
 * call, so it may run under a lock; writing (kout_flush) and growing
 * (kout_again) are done with every lock dropped.  A section formatted under
 * a lock is therefore written as:
 *
 *     do {
 *             size_t mark = kout_mark(o);
 *             klock(l); ...kout_printf(o, ...)...; kunlock(l);
 *     } while (kout_again(o, mark));
 *
 * When no memory can be mapped the text goes into a small buffer inside the
 * struct and is cut short, with a line saying so.
 */
struct kout {
	char *buf;
	size_t len, cap;
	size_t mapped;        /* bytes of buf mapped from the OS; 0: buf is spare */
	bool full;            /* something did not fit since the last mark */
	char spare[512];
};
void kout_init(struct kout *o);
void kout_printf(struct kout *o, const char *fmt, ...) KFMT(2, 3);
KINLINE size_t kout_mark(const struct kout *o) { return o->len; }
/* True when the text since `mark` did not fit and the buffer could grow:
 * it is rewound to `mark`, to be formatted again. */
bool kout_again(struct kout *o, size_t mark);
/* Writes the text to fd and empties the buffer. */
void kout_flush(struct kout *o, int fd);
/* Gives the buffer back to the OS. */
void kout_done(struct kout *o);

#pragma GCC visibility pop

#endif /* KALLOC_REPORT_H */

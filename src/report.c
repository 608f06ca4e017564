/* SPDX-License-Identifier: MIT */
/*
 * report.c - reports on stderr, without allocating.
 *
 * A tiny formatter (no stdio: the allocator may be reporting on the heap
 * stdio would use), the panic path, the two failures every layer reports
 * (an allocation that fails, a pointer kalloc never handed out), and the
 * kout buffer for reports longer than a line (report.h).  Every one-line
 * report starts "kalloc: " and is written with a single write(2) where it
 * fits the buffer.
 */
#include "report.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static size_t put_str(char *buf, size_t pos, size_t len, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s && pos + 1 < len)
		buf[pos++] = *s++;
	return pos;
}

static size_t put_uint(char *buf, size_t pos, size_t len, unsigned long long v, unsigned base)
{
	char tmp[32];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n && pos + 1 < len)
		buf[pos++] = tmp[--n];
	return pos;
}

size_t kvformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t pos = 0;
	if (len == 0)
		return 0;
	for (const char *f = fmt; *f && pos + 1 < len; f++) {
		if (*f != '%') {
			buf[pos++] = *f;
			continue;
		}
		f++;
		/* a field width: right-aligned, or left-aligned after '-',
		 * padded with spaces, or zeros after '0' */
		bool left = *f == '-', zero = *f == '0';
		if (left || zero)
			f++;
		size_t width = 0, start = pos;
		while (*f >= '0' && *f <= '9' && width < 64)
			width = width * 10 + (size_t)(*f++ - '0');
		int lng = 0;
		while (*f == 'l') {
			lng++;
			f++;
		}
		if (*f == 'z') {
			lng = 1;
			f++;
		}
		switch (*f) {
		case 's':
			pos = put_str(buf, pos, len, va_arg(ap, const char *));
			break;
		case 'c':
			buf[pos++] = (char)va_arg(ap, int);
			break;
		case 'd': {
			long long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			if (v < 0) {
				buf[pos++] = '-';
				v = -v;
			}
			pos = put_uint(buf, pos, len, (unsigned long long)v, 10);
			break;
		}
		case 'u':
			pos = put_uint(buf, pos, len, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10);
			break;
		case 'x':
			pos = put_uint(buf, pos, len, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16);
			break;
		case 'p':
			pos = put_str(buf, pos, len, "0x");
			pos = put_uint(buf, pos, len, (uintptr_t)va_arg(ap, void *), 16);
			break;
		case '%':
			buf[pos++] = '%';
			break;
		default:
			if (!*f)
				f--;
			break;
		}
		size_t out = pos - start;
		if (out < width) {
			size_t pad = KMIN(width - out, len - 1 - pos);
			if (left) {
				memset(buf + pos, ' ', pad);
			} else {
				memmove(buf + start + pad, buf + start, out);
				memset(buf + start, zero ? '0' : ' ', pad);
			}
			pos += pad;
		}
	}
	buf[pos] = '\0';
	return pos;
}

size_t kformat(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = kvformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

static void vreport(const char *fmt, va_list ap)
{
	char buf[512];
	size_t n = kformat(buf, sizeof buf, "kalloc: ");
	n += kvformat(buf + n, sizeof buf - n - 1, fmt, ap);
	buf[n++] = '\n';
	kwrite_all(2, buf, n);
}

void kreport(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void kpanic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	abort();
}

void kalloc_fail(size_t size, gfp_t gfp, const char *what)
{
	if (gfp & __GFP_NOFAIL)
		kpanic("%s: cannot allocate %lu bytes with __GFP_NOFAIL", what, (unsigned long)size);
	if (!(gfp & __GFP_NOWARN)) {
		/* A zone modifier names its zone (the strictest of them), whose
		 * memory is what ran out. */
		const char *zone = (gfp & __GFP_DMA) ? " in ZONE_DMA (below 16 MiB)"
		                   : (gfp & __GFP_DMA32) ? " in ZONE_DMA32 (below 4 GiB)" : "";
		kreport("%s: out of memory allocating %lu bytes%s", what, (unsigned long)size, zone);
	}
	errno = ENOMEM;
}

size_t kformat_symbol(char *buf, size_t len, const void *addr)
{
	Dl_info di;
	if (!addr)
		return kformat(buf, len, "(unknown)");
	if (!dladdr(addr, &di) || !di.dli_fname)
		return kformat(buf, len, "%p", addr);
	const char *obj = strrchr(di.dli_fname, '/');
	obj = obj ? obj + 1 : di.dli_fname;
	size_t n = kformat(buf, len, "%p (%s+0x%lx", addr, obj,
	                   (unsigned long)((uintptr_t)addr - (uintptr_t)di.dli_fbase));
	if (di.dli_sname && n < len)
		n += kformat(buf + n, len - n, ", %s+0x%lx", di.dli_sname,
		             (unsigned long)((uintptr_t)addr - (uintptr_t)di.dli_saddr));
	if (n < len)
		n += kformat(buf + n, len - n, ")");
	return n;
}

void kbad_pointer(const void *p, const char *op, const char *why)
{
	kpanic("%s(): invalid pointer %p (%s)", op, p, why);
}

/* ------------------------------------------------------------------ */
/* the fault reporter (KALLOC_DEBUG)                                   */
/* ------------------------------------------------------------------ */

/* The range whose faults are reported (the zero-size region), the lookup
 * of freed huge blocks (vmalloc.c's quarantine), and the SIGSEGV
 * disposition that was there before ours. */
static _Atomic uintptr_t fault_lo, fault_len;
static bool (*_Atomic fault_freed)(uintptr_t addr, uintptr_t *start, size_t *len);
static _Atomic bool fault_installed;
static struct sigaction fault_old;

static void fault_handler(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr, start;
	size_t len;
	bool (*freed)(uintptr_t, uintptr_t *, size_t *) = atomic_load(&fault_freed);
	if (si->si_code > 0 && a - atomic_load(&fault_lo) < atomic_load(&fault_len))
		kpanic("zero-size access at %p (malloc(0) block)", si->si_addr);
	if (si->si_code > 0 && freed && freed(a, &start, &len))
		kpanic("access to a freed huge block at %p (offset %zu of the %zu-byte block at %p)", si->si_addr,
		       (size_t)(a - start), len, (void *)start);
	/* Not ours: the handler before, or the default action (the faulting
	 * access runs again and ends the process; a SIGSEGV sent by kill is
	 * sent again). */
	if ((fault_old.sa_flags & SA_SIGINFO) && fault_old.sa_sigaction) {
		fault_old.sa_sigaction(sig, si, ctx);
		return;
	}
	if (fault_old.sa_handler != SIG_DFL && fault_old.sa_handler != SIG_IGN) {
		fault_old.sa_handler(sig);
		return;
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	kos_sigaction(SIGSEGV, &dfl, NULL);
	if (si->si_code <= 0)
		kos_raise(sig);
}

static void fault_install(void)
{
	if (atomic_exchange(&fault_installed, true))
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	kos_sigaction(SIGSEGV, &sa, &fault_old);
}

void kreport_fault_zero(uintptr_t lo, size_t len)
{
	atomic_store(&fault_len, 0);
	atomic_store(&fault_lo, lo);
	atomic_store(&fault_len, len);
	fault_install();
}

void kreport_fault_freed(bool (*fn)(uintptr_t addr, uintptr_t *start, size_t *len))
{
	atomic_store(&fault_freed, fn);
	fault_install();
}

/* ------------------------------------------------------------------ */
/* the report buffer                                                   */
/* ------------------------------------------------------------------ */

#define KOUT_FIRST (64UL << 10)

void kout_init(struct kout *o)
{
	o->buf = kos_map(KOUT_FIRST, PAGE_SIZE, false, 0);
	o->mapped = o->buf ? KOUT_FIRST : 0;
	if (!o->buf)
		o->buf = o->spare;
	o->cap = o->mapped ? o->mapped : sizeof o->spare;
	o->len = 0;
	o->full = false;
}

void kout_printf(struct kout *o, const char *fmt, ...)
{
	if (o->full)
		return;
	size_t room = o->cap - o->len;
	va_list ap;
	va_start(ap, fmt);
	size_t n = kvformat(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	/* kvformat stops one byte short of the end: a text that filled it
	 * may have been cut. */
	if (n + 1 >= room)
		o->full = true;
	else
		o->len += n;
}

bool kout_again(struct kout *o, size_t mark)
{
	if (!o->full)
		return false;
	size_t cap = KMAX(o->cap * 2, KOUT_FIRST);
	char *nb = kos_map(cap, PAGE_SIZE, false, 0);
	if (!nb)
		return false;   /* the text stays cut short at the section */
	memcpy(nb, o->buf, mark);
	if (o->mapped)
		kos_unmap(o->buf, o->mapped);
	o->buf = nb;
	o->cap = o->mapped = cap;
	o->len = mark;
	o->full = false;
	return true;
}

void kout_flush(struct kout *o, int fd)
{
	kwrite_all(fd, o->buf, o->len);
	if (o->full) {
		static const char cut[] = "kalloc: (report cut short: no memory for its buffer)\n";
		kwrite_all(fd, cut, sizeof cut - 1);
	}
	o->len = 0;
	o->full = false;
}

void kout_done(struct kout *o)
{
	if (o->mapped)
		kos_unmap(o->buf, o->mapped);
	o->buf = o->spare;
	o->cap = sizeof o->spare;
	o->mapped = o->len = 0;
	o->full = false;
}

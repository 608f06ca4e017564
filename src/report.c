/* SPDX-License-Identifier: MIT */
/*
 * report.c - one-line reports on stderr, without allocating.
 *
 * A tiny formatter (no stdio: the allocator may be reporting on the heap
 * stdio would use) and the panic path.  Every report is one line starting
 * "kalloc: ", written with a single write(2) where it fits the buffer.
 */
#include "internal.h"

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

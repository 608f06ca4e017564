/* SPDX-License-Identifier: MIT */
/*
 * stats.h - introspection across the layers (stats.c): the snapshot every
 * report is made from (stats_snap.h) and the reports.
 */
#ifndef KALLOC_STATS_H
#define KALLOC_STATS_H

#include "kmalloc.h"
#include "percpu.h"
#include "stats_snap.h"

#pragma GCC visibility push(hidden)

/* Fills s (memory of the caller's, not kalloc's heap) from every layer;
 * with `resident`, asks the OS which of kalloc's pages are in memory
 * (mincore: a system call per 16 MiB, so mallinfo2 skips it).  No lock of
 * kalloc may be held. */
void kstats_snapshot(struct ksnap *s, bool resident);
/* kstats_snapshot into memory mapped from the OS; NULL when none. */
struct ksnap *kstats_snapshot_new(bool resident);
void kstats_snapshot_free(struct ksnap *s);
/* The report of s, text (KALLOC_STATS_TEXT) or JSON (KALLOC_STATS_JSON). */
void kstats_format(struct kout *o, const struct ksnap *s, int format);
/* A snapshot, formatted, then given to fn(opaque, text, len) or, with fn
 * NULL, written to fd; no lock held and nothing allocated from kalloc. */
void kstats_write(void (*fn)(void *opaque, const char *text, size_t len), void *opaque, int fd, int format);
/* The text report to fd. */
void kstats_print(int fd);

#pragma GCC visibility pop

#endif /* KALLOC_STATS_H */

/* SPDX-License-Identifier: MIT */
/*
 * internal.h - every internal header, bottom layer first: for the two files
 * on top (kapi.c, malloc.c), which may call any layer, and for the unit
 * tests.  A file inside a layer includes its own header instead, which
 * includes only the layers below it.  The layer order is written in
 * base.h.
 */
#ifndef KALLOC_INTERNAL_H
#define KALLOC_INTERNAL_H

#include "base.h"
#include "os.h"
#include "report.h"
#include "tune.h"
#include "rcu.h"
#include "cxxrt.h"
#include "page_alloc.h"
#include "slab.h"
#include "rseq.h"
#include "front_region.h"
#include "front_rseq.h"
#include "front_thread.h"
#include "front.h"
#include "vmalloc.h"
#include "kmalloc.h"
#include "percpu.h"
#include "stats.h"
#include "prof.h"
#include "reclaim.h"
#include "init.h"

#endif /* KALLOC_INTERNAL_H */

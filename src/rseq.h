/* SPDX-License-Identifier: MIT */
/*
 * rseq.h - restartable sequences: the kernel's ABI as kalloc uses it, the
 * frame every sequence shares, and the front caches' pop and push (with the
 * structures whose layout they hard-code), plus the portable C versions of
 * pop and push that the per-thread mode runs where the assembly does not
 * exist.
 *
 * A front-cache region is an array of 8-byte words.  Word i < KFRONT_NR is
 * the header of front index i (struct kpcpu_hdr); the slots of the stacks
 * follow the headers.  A stack's objects are the words [begin, current);
 * the word before begin is a NULL sentinel, so push can compare the top
 * object (a double free) without a bounds test.  Pop misses when
 * current <= begin, push when current >= end, so begin = 0xffff, end = 0
 * "locks" a header, and an all-zero header misses both ways.
 *
 * Region r lies at base + (r << KPCPU_SHIFT).  The index r is a 32-bit
 * signed word in thread-local memory: the rseq area's mm_cid or cpu_id
 * (per-CPU mode), or kfront_thr.slot (per-thread mode).  A view (struct
 * kpcpu_view) says where that word is and where to arm a sequence, both as
 * offsets from the thread-local kfront_thr, and where region 0 is.  The
 * only commit of a pop or a push is the 16-bit store of `current`.
 */
#ifndef KALLOC_RSEQ_H
#define KALLOC_RSEQ_H

#include "base.h"

#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define KHAVE_SYS_RSEQ 1
#endif
#endif

#pragma GCC visibility push(hidden)

/* ---- the kernel's ABI ---------------------------------------------- */

/*
 * The thread's rseq area, as the kernel defines struct rseq
 * (include/uapi/linux/rseq.h): glibc 2.35+ registers one per thread at
 * thread pointer + __rseq_offset, and kalloc never registers a second.
 * node_id and mm_cid came with Linux 6.3 (the kernel says so with
 * AT_RSEQ_FEATURE_SIZE >= 28); older headers stop at flags, so those two are
 * pinned to the kernel's offsets here.
 */
struct krseq_area {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;      /* the armed descriptor (struct rseq_cs), or 0 */
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;       /* concurrency id: dense, < number of threads and CPUs */
};
#define KRSEQ_MM_CID_FEATURE_SIZE (offsetof(struct krseq_area, mm_cid) + sizeof(uint32_t))
_Static_assert(offsetof(struct krseq_area, node_id) == 20 && offsetof(struct krseq_area, mm_cid) == 24,
               "node_id and mm_cid at the kernel's offsets (Linux 6.3)");
_Static_assert(KRSEQ_MM_CID_FEATURE_SIZE == 28, "AT_RSEQ_FEATURE_SIZE that has mm_cid");
#ifdef KHAVE_SYS_RSEQ
_Static_assert(offsetof(struct krseq_area, cpu_id) == offsetof(struct rseq, cpu_id) &&
               offsetof(struct krseq_area, rseq_cs) == offsetof(struct rseq, rseq_cs) &&
               offsetof(struct krseq_area, flags) == offsetof(struct rseq, flags),
               "struct krseq_area matches the system's struct rseq");
/* The descriptor KRSEQ_ARM emits: .long version, flags; .quad start_ip,
 * post_commit_offset, abort_ip. */
_Static_assert(offsetof(struct rseq_cs, flags) == 4 && offsetof(struct rseq_cs, start_ip) == 8 &&
               offsetof(struct rseq_cs, post_commit_offset) == 16 &&
               offsetof(struct rseq_cs, abort_ip) == 24 && sizeof(struct rseq_cs) == 32,
               "struct rseq_cs as KRSEQ_ARM lays it out");
#endif

/* The signature before every abort handler (the kernel checks it). */
#define KRSEQ_SIG 0x53053053
#ifdef RSEQ_SIG
_Static_assert(KRSEQ_SIG == RSEQ_SIG, "glibc's signature");
#endif

/* ---- front-cache regions, as the sequences see them ---------------- */

#define KPCPU_SHIFT     18
#define KPCPU_REGION    (1UL << KPCPU_SHIFT)

/* Header of one stack: word i of a region for front index i.  Offsets are
 * in 8-byte words from the region's start. */
struct kpcpu_hdr {
	uint16_t cur;      /* one past the top object */
	uint16_t begin;    /* first slot; 0xffff: locked */
	uint16_t end;      /* one past the last slot the stack may use now */
	uint16_t unused;   /* per-CPU mode: the capacity a drain restores */
};
_Static_assert(sizeof(struct kpcpu_hdr) == 8 && sizeof(void *) == 8,
               "a header and a slot are one word: the sequences index both with scale 8");
_Static_assert(offsetof(struct kpcpu_hdr, cur) == 0, "pop and push load and commit `cur` at offset 0");

/* Where the stacks are, as seen from a thread: the region index is the
 * 32-bit signed word at &kfront_thr + cid_rel, the sequence is armed at
 * &kfront_thr + cs_rel, and region r is at base + (r << KPCPU_SHIFT).
 * The offsets are relative to kfront_thr, whose own offset from the thread
 * pointer the fast path takes from the GOT (initial-exec TLS): that makes
 * the initial view a link-time constant. */
struct kpcpu_view {
	intptr_t cid_rel;        /* rseq->mm_cid or rseq->cpu_id, or kfront_thr.slot / .none */
	intptr_t cs_rel;         /* rseq->rseq_cs, or kfront_thr.cs */
	char *base;              /* region 0 */
};

/* Per-thread state of the front caches. */
struct kfront_thread {
	uint64_t cs;             /* the per-thread mode arms here; nothing reads it */
	intptr_t prof_left;      /* the heap profile's countdown (prof.h): here so
	                            that malloc's fast path reaches it and the
	                            stacks from one GOT entry */
	int32_t slot;            /* this thread's region (per-thread mode), -1 until it has one */
	int32_t none;            /* always -1: the index of the initial view */
	uint8_t state;           /* KT_NONE, KT_LIVE, KT_DEAD */
	uint32_t grown;          /* per-thread mode: object bytes of capacity grown
	                            beyond kfront_thread_cap (kfront_thread_grow) */
	uint64_t spilled;        /* per-thread mode: bit idx, stack idx's last miss */
	uint64_t refilled;       /* was a full one (spilled) or an empty one */
};
enum { KT_NONE = 0, KT_LIVE = 1, KT_DEAD = 2 };
_Static_assert(sizeof(((struct kfront_thread *)0)->cs) == sizeof(((struct krseq_area *)0)->rseq_cs),
               "the per-thread mode arms a word like rseq_cs");
_Static_assert(sizeof(((struct kfront_thread *)0)->slot) == sizeof(((struct krseq_area *)0)->mm_cid) &&
               sizeof(((struct kfront_thread *)0)->none) == sizeof(((struct krseq_area *)0)->cpu_id),
               "every index word is 32 bits (movslq)");

extern __thread struct kfront_thread kfront_thr;

/* Offset of kfront_thr from the thread pointer: the same in every thread.
 * x86-64: a form the linker can relax when it links an executable
 * (initial-exec to local-exec); in C, compilers may fold the GOT entry into
 * an instruction it cannot relax (a subtraction).  Not volatile, but gcc
 * does not share it between the basic blocks of a function: a fast path
 * that wants one load passes the value on (malloc.c). */
KINLINE intptr_t kfront_thr_tpoff(void)
{
#if defined(__x86_64__)
	intptr_t off;
	__asm__("movq kfront_thr@gottpoff(%%rip), %0" : "=r"(off));
	return off;
#else
	return (char *)&kfront_thr - (char *)__builtin_thread_pointer();
#endif
}

/* ---- the sequences -------------------------------------------------- */

/* The stack index kpcpu_push_fresh subtracts, so that free can pass the
 * page's info byte as it is (page_alloc.h: KINFO_KSLAB_BASE). */
#define KPCPU_FRESH_BIAS 0x40

#if defined(__x86_64__) && !defined(KALLOC_GENERIC_FRONT)
#define KPCPU_HAVE_RSEQ 1
/*
 * Every restartable sequence here has the same frame, with local labels:
 *   0: arm: store the address of the descriptor (7) in rseq->rseq_cs;
 *   1: start of the critical section;  2: its end, just after the commit;
 *   4: abort handler, in another section, preceded by the signature
 *      (as the operand of a ud1, so disassemblers stay in step): it jumps
 *      back to 0, re-arming (the kernel clears rseq_cs on abort) and
 *      starting over.
 * `reg` names a scratch operand used to arm; %[tp] + %[cs] must be the
 * thread pointer offset of rseq->rseq_cs.  A miss leaves the section by a
 * jump to a C label (asm goto): rseq_cs then still names this descriptor,
 * which the kernel ignores once the instruction pointer is outside [1, 2).
 */
#define KRSEQ_ARM(reg)                                                  \
	".pushsection __rseq_cs, \"aw\"\n\t"                              \
	".balign 32\n\t"                                                    \
	"7:\n\t"                                                            \
	".long 0, 0\n\t"                                                    \
	".quad 1f, 2f - 1f, 4f\n\t"                                         \
	".popsection\n\t"                                                   \
	".pushsection .text.unlikely, \"ax\"\n\t"                         \
	".byte 0x0f, 0xb9, 0x3d\n\t"                                        \
	".long " KSTR(KRSEQ_SIG) "\n\t"                                     \
	"4:\n\t"                                                            \
	"jmp 0f\n\t"                                                        \
	".popsection\n\t"                                                   \
	"0:\n\t"                                                            \
	"leaq 7b(%%rip), %[" reg "]\n\t"                                    \
	"movq %[" reg "], %%fs:(%[tp],%[cs])\n\t"
/* Loads a view, index first (see the publication order in front.h); the
 * thread pointer offset of kfront_thr is an input (kfront_thr_tpoff), which
 * malloc's countdown shares. */
#define KPCPU_VIEW_LOAD                                                 \
	"movq %[cidrel], %[cid]\n\t"                                        \
	"movq %[csrel], %[cs]\n\t"
#define KPCPU_VIEW_OUT [cid] "=&r"(cid), [cs] "=&r"(cs)
#define KPCPU_VIEW_IN(v) [cidrel] "m"((v)->cid_rel), [csrel] "m"((v)->cs_rel), [base] "m"((v)->base), \
	[tp] "r"(tp)
/* Header offsets, with disp added to every header's address (see
 * kpcpu_push_fresh; 0 elsewhere). */
#define KPCPU_HDR_IN(disp) [boff] "i"(offsetof(struct kpcpu_hdr, begin) + (disp)), \
	[eoff] "i"(offsetof(struct kpcpu_hdr, end) + (disp)), [hoff] "i"(disp)
/* The critical section's start (label 1): the region of the running CPU (or
 * thread) from the index word, and `cur` of stack idx there. */
#define KPCPU_STACK_LOAD                                                \
	"1:\n\t"                                                          \
	"movslq %%fs:(%[tp],%[cid]), %[region]\n\t"                      \
	"shlq %[shift], %[region]\n\t"                                    \
	"addq %[base], %[region]\n\t"                                     \
	"movzwl %c[hoff](%[region],%[idx],8), %k[cur]\n\t"

/* Pops an object from this CPU's (thread's) stack `idx` in view v; NULL
 * when empty or locked.  tp: kfront_thr_tpoff().  The object comes in
 * %rax, the return register of the fast paths that return it (operator
 * new copied it there otherwise). */
KINLINE void *kpcpu_pop_tp(const struct kpcpu_view *v, size_t idx, intptr_t tp)
{
	void *obj;
	uintptr_t region, cur, cid, cs;
	__asm__ __volatile__ goto(
		KPCPU_VIEW_LOAD
		KRSEQ_ARM("region")
		KPCPU_STACK_LOAD
		"cmpw %c[boff](%[region],%[idx],8), %w[cur]\n\t"
		"jbe %l[miss]\n\t"
		"movq -8(%[region],%[cur],8), %[obj]\n\t"
		"subl $1, %k[cur]\n\t"
		"movw %w[cur], (%[region],%[idx],8)\n\t"
		"2:\n\t"
		: [obj] "=&a"(obj), [region] "=&r"(region), [cur] "=&r"(cur), KPCPU_VIEW_OUT
		: KPCPU_VIEW_IN(v), KPCPU_HDR_IN(0), [idx] "r"(idx), [shift] "i"(KPCPU_SHIFT)
		: "memory", "cc"
		: miss);
	if (!obj)
		__builtin_unreachable();   /* stacks never hold NULL */
	return obj;
miss:
	return NULL;
}

/* The push's sequence: the stack's room, then `top` (a test of the object
 * against the top one, or nothing), the store and the commit; the headers
 * `disp` bytes from where idx says. */
#define KPCPU_PUSH_SEQ(top, disp)                                                                  \
	__asm__ __volatile__ goto(KPCPU_VIEW_LOAD KRSEQ_ARM("region") KPCPU_STACK_LOAD               \
	                          "cmpw %c[eoff](%[region],%[idx],8), %w[cur]\n\t"                   \
	                          "jae %l[miss]\n\t" top                                             \
	                          "movq %[obj], (%[region],%[cur],8)\n\t"                            \
	                          "addl $1, %k[cur]\n\t"                                             \
	                          "movw %w[cur], %c[hoff](%[region],%[idx],8)\n\t"                   \
	                          "2:\n\t"                                                          \
	                          : [region] "=&r"(region), [cur] "=&r"(cur), KPCPU_VIEW_OUT         \
	                          : KPCPU_VIEW_IN(v), KPCPU_HDR_IN(disp), [idx] "r"(idx), [obj] "r"(obj), \
	                            [shift] "i"(KPCPU_SHIFT)                                          \
	                          : "memory", "cc"                                                    \
	                          : miss)
#define KPCPU_TOP_TEST "cmpq -8(%[region],%[cur],8), %[obj]\n\t" "je %l[miss]\n\t"

/* Pushes obj on this CPU's (thread's) stack `idx` in view v; false when
 * full, locked, or obj is already on top (the caller's slow path sorts
 * these out). */
KINLINE bool kpcpu_push(const struct kpcpu_view *v, size_t idx, void *obj)
{
	intptr_t tp = kfront_thr_tpoff();
	uintptr_t region, cur, cid, cs;
	KPCPU_PUSH_SEQ(KPCPU_TOP_TEST, 0);
	return true;
miss:
	return false;
}

/* kpcpu_push for free's fast path, whose object is known not to be free
 * (its free tag did not match: kmalloc.h), so without the test of the top
 * object; the stack is `idx` - KPCPU_FRESH_BIAS. */
KINLINE bool kpcpu_push_fresh(const struct kpcpu_view *v, size_t idx, void *obj)
{
	intptr_t tp = kfront_thr_tpoff();
	uintptr_t region, cur, cid, cs;
	KPCPU_PUSH_SEQ("", -8 * KPCPU_FRESH_BIAS);
	return true;
miss:
	return false;
}
#else
/* Other architectures: the per-thread mode only, in plain C.  The acquire
 * load of the index orders the load of base after it. */
#define KPCPU_HAVE_RSEQ 0
KINLINE struct kpcpu_hdr *kpcpu_hdr_this(const struct kpcpu_view *v, size_t idx)
{
	intptr_t rel = __atomic_load_n(&v->cid_rel, __ATOMIC_ACQUIRE);
	intptr_t r = *(const int32_t *)((uintptr_t)&kfront_thr + (uintptr_t)rel);
	return (struct kpcpu_hdr *)(void *)(v->base + r * (intptr_t)KPCPU_REGION) + idx;
}
KINLINE void *kpcpu_pop_tp(const struct kpcpu_view *v, size_t idx, intptr_t tp)
{
	(void)tp;
	struct kpcpu_hdr *h = kpcpu_hdr_this(v, idx);
	unsigned cur = h->cur;
	if (cur <= h->begin)
		return NULL;
	void **slots = (void **)(void *)(h - idx);
	h->cur = (uint16_t)(cur - 1);
	return slots[cur - 1];
}
/* The push, with the test of the top object when `top`. */
KINLINE bool kpcpu_push_at(const struct kpcpu_view *v, size_t idx, void *obj, bool top)
{
	struct kpcpu_hdr *h = kpcpu_hdr_this(v, idx);
	unsigned cur = h->cur;
	void **slots = (void **)(void *)(h - idx);
	if (cur >= h->end || (top && slots[cur - 1] == obj))
		return false;
	slots[cur] = obj;
	h->cur = (uint16_t)(cur + 1);
	return true;
}
KINLINE bool kpcpu_push(const struct kpcpu_view *v, size_t idx, void *obj)
{
	return kpcpu_push_at(v, idx, obj, true);
}
KINLINE bool kpcpu_push_fresh(const struct kpcpu_view *v, size_t idx, void *obj)
{
	return kpcpu_push_at(v, idx - KPCPU_FRESH_BIAS, obj, false);
}
#endif

KINLINE void *kpcpu_pop(const struct kpcpu_view *v, size_t idx)
{
	return kpcpu_pop_tp(v, idx, kfront_thr_tpoff());
}

#pragma GCC visibility pop

#endif /* KALLOC_RSEQ_H */

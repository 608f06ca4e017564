// SPDX-License-Identifier: MIT
//
// kalloc's own C++ operator new and delete (malloc.c), every replaceable
// form, as the preload library and the linked library export them:
//  - each of the 20 names resolves to kalloc (dlsym + dladdr), and each form
//    allocates a block kalloc knows (malloc_usable_size >= the size);
//  - new(0) returns unique non-null blocks; delete of nullptr, every form,
//    does nothing;
//  - std::align_val_t from 32 bytes to 1 MiB is honoured by the aligned
//    forms, with plain, sized and sized + aligned delete;
//  - a failure calls the installed new-handler in a loop (three times here,
//    the third removes itself), then new throws std::bad_alloc and the
//    nothrow forms return nullptr; a handler's own exception reaches new's
//    caller, and the nothrow forms catch it; without a handler the nothrow
//    forms return nullptr at once;
//  - an alignment that is not a power of two fails without the handler;
//  - sized delete with the right size, for every size regime (small classes
//    up to 32 KiB, page classes, page blocks, huge blocks), sized and
//    aligned too: the api suite runs in both front-cache modes;
//  - sized delete with a wrong size (another class, a size larger than the
//    block, in every regime, and aligned) aborts with one report naming
//    kalloc, the address, the size given and the block's cache (children).
// Built twice: api-cxx_operators under the preload library and
// api-cxx_operators-linked linked with -lkalloc.  Without KALLOC_EXPECT
// (glibc and libstdc++) only the standard behaviour is checked.
#include "ktest.h"

#include <dlfcn.h>
#include <malloc.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

static const char *const names[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
	"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
	"_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
	"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

static void operators_are_kallocs()
{
	for (const char *name : names) {
		void *f = dlsym(RTLD_DEFAULT, name);
		Dl_info info;
		bool found = f != nullptr && dladdr(f, &info) != 0 && info.dli_fname != nullptr;
		CHECKF(found && std::strstr(info.dli_fname, "kalloc") != nullptr, "%s comes from %s", name,
		       found ? info.dli_fname : "(nowhere)");
	}
}

static bool aligned_to(const void *p, std::size_t a)
{
	return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

// Every form, once, with a block kalloc knows (malloc_usable_size aborts
// under kalloc for a pointer it did not hand out).
static void every_form()
{
	const std::size_t n = opaque_size(100);
	const std::align_val_t al{64};
	void *p[8] = {
		::operator new(n),
		::operator new[](n),
		::operator new(n, std::nothrow),
		::operator new[](n, std::nothrow),
		::operator new(n, al),
		::operator new[](n, al),
		::operator new(n, al, std::nothrow),
		::operator new[](n, al, std::nothrow),
	};
	for (int i = 0; i < 8; i++) {
		CHECKF(p[i] != nullptr, "form %d", i);
		CHECKF(malloc_usable_size(p[i]) >= n, "form %d", i);
		CHECKF(aligned_to(p[i], i >= 4 ? 64 : 16), "form %d: %p", i, p[i]);
		std::memset(p[i], i, n);
	}
	::operator delete(p[0]);
	::operator delete[](p[1], n);
	::operator delete(p[2], std::nothrow);
	::operator delete[](p[3], std::nothrow);
	::operator delete(p[4], al);
	::operator delete[](p[5], n, al);
	::operator delete(p[6], al, std::nothrow);
	::operator delete[](p[7], al, std::nothrow);
	// the two forms left: sized plain, unsized array, sized aligned plain
	void *q = ::operator new(n);
	::operator delete(q, n);
	q = ::operator new[](n);
	::operator delete[](q);
	q = ::operator new(n, al);
	::operator delete(q, n, al);
	q = ::operator new[](n, al);
	::operator delete[](q, al);
}

static void zero_and_null()
{
	void *a = ::operator new(opaque_size(0));
	void *b = ::operator new(opaque_size(0));
	void *c = ::operator new[](opaque_size(0), std::nothrow);
	CHECK(a && b && c && a != b && a != c && b != c);
	::operator delete(a, (std::size_t)0);
	::operator delete(b);
	::operator delete[](c);
	const std::align_val_t al{128};
	::operator delete(opaque_ptr(nullptr));
	::operator delete[](opaque_ptr(nullptr));
	::operator delete(opaque_ptr(nullptr), (std::size_t)100);
	::operator delete[](opaque_ptr(nullptr), (std::size_t)100);
	::operator delete(opaque_ptr(nullptr), std::nothrow);
	::operator delete[](opaque_ptr(nullptr), std::nothrow);
	::operator delete(opaque_ptr(nullptr), al);
	::operator delete[](opaque_ptr(nullptr), al);
	::operator delete(opaque_ptr(nullptr), 100, al);
	::operator delete[](opaque_ptr(nullptr), 100, al);
	::operator delete(opaque_ptr(nullptr), al, std::nothrow);
	::operator delete[](opaque_ptr(nullptr), al, std::nothrow);
}

static void alignments()
{
	const std::size_t sizes[] = {1, 24, 100, 1000, 5000, 40000, 300000};
	for (std::size_t a = 32; a <= (std::size_t)1 << 20; a <<= 1) {
		const std::align_val_t al{a};
		for (std::size_t s : sizes) {
			std::size_t n = opaque_size(s);
			void *p = ::operator new(n, al);
			void *q = ::operator new[](n, al);
			void *r = ::operator new(n, al, std::nothrow);
			CHECKF(aligned_to(p, a) && aligned_to(q, a) && aligned_to(r, a), "align %zu size %zu", a, s);
			CHECK(malloc_usable_size(p) >= n && malloc_usable_size(q) >= n && malloc_usable_size(r) >= n);
			pattern_fill(p, n, a + s);
			pattern_fill(q, n, a + s + 1);
			CHECK(pattern_check(p, n, a + s) == n && pattern_check(q, n, a + s + 1) == n);
			::operator delete(p, n, al);
			::operator delete[](q, n, al);
			::operator delete(r, al);
		}
	}
}

// ---- failure: the new-handler -------------------------------------------

static int handler_calls;

static void handler_three_times()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

struct handler_error : std::bad_alloc {
};

static void handler_throws()
{
	handler_calls++;
	throw handler_error();
}

static const std::size_t impossible = (std::size_t)1 << 62;

template <class F> static bool throws_bad_alloc(F f)
{
	try {
		f();
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

static void new_handler_loop()
{
	const std::align_val_t al{64};
	// new and new[] (plain, aligned): three calls, then bad_alloc
	for (int form = 0; form < 4; form++) {
		handler_calls = 0;
		std::set_new_handler(handler_three_times);
		bool threw = throws_bad_alloc([&] {
			std::size_t n = opaque_size(impossible);
			void *p = form == 0 ? ::operator new(n) : form == 1 ? ::operator new[](n)
			          : form == 2 ? ::operator new(n, al) : ::operator new[](n, al);
			::operator delete(p);
		});
		CHECKF(threw && handler_calls == 3, "form %d: threw %d, handler called %d times", form, threw,
		       handler_calls);
	}
	CHECK(std::get_new_handler() == nullptr);
	// new char[1 << 62], the expression
	handler_calls = 0;
	std::set_new_handler(handler_three_times);
	CHECK(throws_bad_alloc([] {
		char *c = new char[opaque_size(impossible)];
		escape(c);
		delete[] c;
	}) && handler_calls == 3);

	// nothrow: the same loop, then nullptr
	for (int form = 0; form < 4; form++) {
		handler_calls = 0;
		std::set_new_handler(handler_three_times);
		std::size_t n = opaque_size(impossible);
		void *p = form == 0 ? ::operator new(n, std::nothrow) : form == 1 ? ::operator new[](n, std::nothrow)
		          : form == 2 ? ::operator new(n, al, std::nothrow) : ::operator new[](n, al, std::nothrow);
		CHECKF(p == nullptr && handler_calls == 3, "nothrow form %d: %p, handler called %d times", form, p,
		       handler_calls);
	}
	// no handler: nullptr at once
	std::set_new_handler(nullptr);
	CHECK(::operator new(opaque_size(impossible), std::nothrow) == nullptr);
	CHECK(::operator new[](opaque_size(impossible), al, std::nothrow) == nullptr);

	// a handler that throws: its exception reaches new's caller...
	handler_calls = 0;
	std::set_new_handler(handler_throws);
	bool caught = false;
	try {
		void *p = ::operator new(opaque_size(impossible));
		::operator delete(p);
	} catch (const handler_error &) {
		caught = true;
	}
	CHECK(caught && handler_calls == 1);
	// ...and the nothrow forms catch it
	handler_calls = 0;
	CHECK(::operator new(opaque_size(impossible), std::nothrow) == nullptr && handler_calls == 1);
	CHECK(::operator new[](opaque_size(impossible), al, std::nothrow) == nullptr && handler_calls == 2);
	std::set_new_handler(nullptr);

	// memory is still there afterwards
	char *s = new char[1000];
	std::memset(s, 1, 1000);
	delete[] s;
}

// An alignment that is not a power of two: undefined behaviour, which kalloc
// turns into a failure without calling the handler (it could not help).
static void bad_alignment()
{
	if (!expect_kalloc())
		return;   // glibc's aligned_alloc may round instead
	handler_calls = 0;
	std::set_new_handler(handler_three_times);
	const std::size_t bad[] = {0, 3, 48, 1000};
	for (std::size_t a : bad) {
		std::align_val_t al{opaque_size(a)};
		CHECK(throws_bad_alloc([&] { ::operator delete(::operator new(64, al)); }));
		CHECK(throws_bad_alloc([&] { ::operator delete[](::operator new[](64, al)); }));
		CHECK(::operator new(64, al, std::nothrow) == nullptr);
		CHECK(::operator new[](64, al, std::nothrow) == nullptr);
	}
	CHECK(handler_calls == 0);
	std::set_new_handler(nullptr);
}

// ---- sized delete ---------------------------------------------------------

static void sized_delete_right()
{
	static std::size_t sizes[400];
	std::size_t k = 0;
	for (std::size_t s = 0; s <= 1024; s += 7)
		sizes[k++] = s;
	for (std::size_t s = 1024; s <= 32768; s += 977)
		sizes[k++] = s;
	const std::size_t more[] = {16, 17, 4096, 8192, 8193, 16384, 32767, 32768, 32769, 40960, 40961, 65536,
	                            100000, 262144, 262145, 300000, 1 << 20, (4 << 20) - 1, 4 << 20, (4 << 20) + 1,
	                            5 << 20, 9 << 20};
	for (std::size_t s : more)
		sizes[k++] = s;
	for (int round = 0; round < 3; round++) {
		for (std::size_t i = 0; i < k; i++) {
			std::size_t n = opaque_size(sizes[i]);
			unsigned char *p = static_cast<unsigned char *>(::operator new(n));
			unsigned char *q = static_cast<unsigned char *>(::operator new[](n));
			CHECKF(malloc_usable_size(p) >= n, "size %zu", n);
			if (n) {
				p[0] = q[0] = 1;
				p[n - 1] = q[n - 1] = 2;
			}
			::operator delete(p, n);
			::operator delete[](q, n);
			// aligned, sized
			for (std::size_t a = 32; a <= 8192; a <<= 2) {
				void *r = ::operator new(n, std::align_val_t(a));
				CHECK(aligned_to(r, a));
				::operator delete(r, n, std::align_val_t(a));
			}
		}
	}
	// a class hierarchy: delete through a virtual destructor passes the
	// dynamic type's size
	struct base {
		virtual ~base() {}
		char b[8];
	};
	struct derived : base {
		char d[200];
	};
	for (int i = 0; i < 1000; i++) {
		base *b = i % 2 ? static_cast<base *>(new derived) : new base;
		delete b;
	}
}

struct wrong {
	std::size_t size, align;   // asked for
	std::size_t given;         // passed to delete
	const char *cache;         // named in the report
};

static const wrong *current;
static void *current_block;

static int wrong_size_child(void *)
{
	const wrong &w = *current;
	void *p = w.align ? ::operator new(opaque_size(w.size), std::align_val_t(w.align))
	                  : ::operator new(opaque_size(w.size));
	current_block = p;
	char buf[32];
	test_msg("block %s", addr_text(p, buf));
	if (w.align)
		::operator delete(p, opaque_size(w.given), std::align_val_t(w.align));
	else
		::operator delete(p, opaque_size(w.given));
	return 0;
}

static void sized_delete_wrong()
{
	if (!expect_kalloc())
		return;   // libstdc++'s sized delete ignores the size
	const wrong cases[] = {
		{100, 0, 200, "kmalloc-112"},        // larger than the block
		{100, 0, 40, "kmalloc-112"},         // smaller: another class
		{100, 0, 112, nullptr},              // (right: the block's own size)
		{5000, 0, 4000, "kmalloc-5k"},
		{100, 0, 50000, "kmalloc-112"},
		{20000, 0, 8000, "kmalloc-20k"},     // above the table: kmalloc_index
		{50000, 0, 60000, "page block"},     // a page class, larger
		{50000, 0, 1000, "page block"},      // a slab size on a page block
		{300000, 0, 600000, "page block"},
		{5 << 20, 0, 9 << 20, "huge area"},
		{5 << 20, 0, 100, "huge area"},
		{100, 64, 1000, "kmalloc-128"},      // aligned: larger
		{100, 64, 20, "kmalloc-128"},        // aligned: another class (64)
		{100, 8192, 9000, "page block"},     // aligned above a page: larger
	};
	for (const wrong &w : cases) {
		current = &w;
		child_result r;
		run_child(wrong_size_child, nullptr, 20000, &r);
		char desc[128];
		child_describe(&r, desc, sizeof desc);
		// the block's address: the child's first line
		unsigned long addr = 0;
		const char *b = std::strstr(r.err, "block 0x");
		if (b)
			std::sscanf(b + 6, "%lx", &addr);
		if (!w.cache) {
			CHECKF(child_exit(&r) == 0, "size %zu, delete %zu: %s: %s", w.size, w.given, desc, r.err);
			continue;
		}
		char given[64];
		std::snprintf(given, sizeof given, "size %zu ", w.given);
		CHECKF(child_aborted(&r), "size %zu align %zu, delete %zu: %s", w.size, w.align, w.given, desc);
		CHECKF(addr && report_names(&r, reinterpret_cast<void *>(addr)) && contains(r.err, given) &&
		               contains(r.err, w.cache) && contains(r.err, "operator delete"),
		       "size %zu align %zu, delete %zu: report: %s", w.size, w.align, w.given, r.err);
	}
}

int main()
{
	check_allocator();
	if (expect_kalloc())
		operators_are_kallocs();
	every_form();
	zero_and_null();
	alignments();
	new_handler_loop();
	bad_alignment();
	sized_delete_right();
	sized_delete_wrong();
	return check_done();
}

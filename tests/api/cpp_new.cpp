// SPDX-License-Identifier: MIT
//
// C++ allocation under the preload library, which defines operator new and
// delete itself (malloc.c; api-cxx_operators tests each form directly): all
// of this goes to kalloc, as it does through libstdc++'s operators, which
// call malloc/aligned_alloc/free, when the program runs on glibc.
//  - new/delete and new[]/delete[] of scalars, arrays and class objects;
//  - over-aligned types (alignas(64), alignas(256), alignas(4096)) get
//    aligned storage from new, new[] and std::vector, and are freed through
//    the aligned (and sized + aligned) operator delete;
//  - sized delete (operator delete(p, n)) of every size range;
//  - nothrow new of an impossible size returns nullptr; plain new throws
//    std::bad_alloc;
//  - std::vector, std::string, std::map and std::unordered_map churn with
//    contents checked;
//  - blocks from new have a malloc_usable_size >= their size (they came from
//    this malloc: kalloc aborts on a pointer it did not hand out).
#include "ktest.h"

#include <malloc.h>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

template <std::size_t A> struct alignas(A) Aligned {
	unsigned char bytes[A];
	std::uint64_t tag;
};

struct Node {
	std::uint64_t id;
	std::string name;
	std::vector<int> data;
	explicit Node(std::uint64_t i) : id(i), name("node-" + std::to_string(i)), data(i % 50, (int)i) {}
};

template <std::size_t A> static void aligned_new_delete()
{
	using T = Aligned<A>;
	for (int round = 0; round < 200; round++) {
		T *one = new T;
		CHECK(reinterpret_cast<std::uintptr_t>(one) % A == 0);
		std::memset(one->bytes, 0x5a, sizeof one->bytes);
		one->tag = (std::uint64_t)round;
		CHECK(malloc_usable_size(one) >= sizeof(T));
		delete one;

		std::size_t n = 1 + (std::size_t)round % 17;
		T *arr = new T[n];
		for (std::size_t i = 0; i < n; i++) {
			CHECK(reinterpret_cast<std::uintptr_t>(&arr[i]) % A == 0);
			arr[i].tag = i;
		}
		for (std::size_t i = 0; i < n; i++)
			CHECK(arr[i].tag == i);
		delete[] arr;

		std::vector<T> v((std::size_t)round % 9 + 1);
		CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % A == 0);
		v.resize(v.size() * 3);
		CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % A == 0);
	}
	// The explicit aligned and sized+aligned operator forms.
	void *p = ::operator new(1000, std::align_val_t(A));
	CHECK(reinterpret_cast<std::uintptr_t>(p) % A == 0);
	std::memset(p, 1, 1000);
	::operator delete(p, 1000, std::align_val_t(A));
	p = ::operator new(A * 3, std::align_val_t(A));
	CHECK(reinterpret_cast<std::uintptr_t>(p) % A == 0);
	::operator delete(p, std::align_val_t(A));
	p = ::operator new[](A * 2 + 1, std::align_val_t(A), std::nothrow);
	CHECK(p != nullptr && reinterpret_cast<std::uintptr_t>(p) % A == 0);
	::operator delete[](p, std::align_val_t(A));
}

static void sized_delete()
{
	const std::size_t sizes[] = {1, 8, 16, 24, 100, 1000, 4096, 40000, 300000, 5u << 20};
	for (std::size_t s : sizes) {
		for (int i = 0; i < 50; i++) {
			unsigned char *p = static_cast<unsigned char *>(::operator new(s));
			CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
			CHECK(malloc_usable_size(p) >= s);
			pattern_fill(p, s < 4096 ? s : 4096, s + (std::size_t)i);
			CHECK(pattern_check(p, s < 4096 ? s : 4096, s + (std::size_t)i) == (s < 4096 ? s : 4096));
			::operator delete(p, s);
		}
		unsigned char *a = new unsigned char[s];
		a[0] = 1;
		a[s - 1] = 2;
		delete[] a;
	}
}

static void failure_paths()
{
	std::size_t huge = static_cast<std::size_t>(PTRDIFF_MAX) + 1;
	void *p = ::operator new(opaque_size(huge), std::nothrow);
	CHECK(p == nullptr);
	bool threw = false;
	try {
		void *q = ::operator new(opaque_size(huge));
		::operator delete(q);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw);
	threw = false;
	try {
		void *q = ::operator new(opaque_size(huge), std::align_val_t(64));
		::operator delete(q, std::align_val_t(64));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw);
	// Still fine afterwards.
	auto s = std::make_unique<std::string>(1000, 'x');
	CHECK(s->size() == 1000);
}

static void container_churn()
{
	std::uint64_t rng = 2024;
	std::map<std::uint64_t, std::string> m;
	std::unordered_map<std::string, std::vector<std::uint64_t>> um;
	std::vector<std::unique_ptr<Node>> nodes;
	for (int it = 0; it < 60000; it++) {
		std::uint64_t r = rng_next(&rng);
		std::uint64_t key = r % 5000;
		switch (r >> 60) {
		case 0:
		case 1:
		case 2:
		case 3:
			m[key] = std::string((std::size_t)(r >> 20) % 300, (char)('a' + key % 26));
			break;
		case 4:
		case 5:
			m.erase(key);
			break;
		case 6:
		case 7:
		case 8:
			um["k" + std::to_string(key)].push_back(r);
			break;
		case 9:
			um.erase("k" + std::to_string(key));
			break;
		case 10:
		case 11:
			nodes.push_back(std::make_unique<Node>(key));
			break;
		default:
			if (!nodes.empty()) {
				std::size_t i = (std::size_t)(r >> 8) % nodes.size();
				nodes[i] = std::move(nodes.back());
				nodes.pop_back();
			}
			break;
		}
	}
	int bad = 0;
	for (const auto &kv : m)
		for (char c : kv.second)
			if (c != (char)('a' + kv.first % 26))
				bad++;
	for (const auto &kv : um)
		if (kv.first.empty() || kv.first[0] != 'k')
			bad++;
	for (const auto &n : nodes) {
		if (n->name != "node-" + std::to_string(n->id) || n->data.size() != n->id % 50)
			bad++;
		for (int x : n->data)
			if (x != (int)n->id)
				bad++;
	}
	CHECK(bad == 0);

	std::string s;
	for (int i = 0; i < 200000; i++)
		s.push_back((char)('A' + i % 26));
	CHECK(s.size() == 200000 && s[199999] == (char)('A' + 199999 % 26));
	std::vector<std::uint64_t> big;
	for (std::uint64_t i = 0; i < 3000000; i++)
		big.push_back(i * 3);
	std::uint64_t sum_bad = 0;
	for (std::uint64_t i = 0; i < big.size(); i++)
		sum_bad += big[i] != i * 3;
	CHECK(sum_bad == 0);
	big.shrink_to_fit();
}

int main()
{
	check_allocator();
	int *i = new int(42);
	CHECK(*i == 42);
	CHECK(malloc_usable_size(i) >= sizeof(int));
	delete i;
	aligned_new_delete<64>();
	aligned_new_delete<256>();
	aligned_new_delete<4096>();
	sized_delete();
	failure_paths();
	container_churn();
	return check_done();
}

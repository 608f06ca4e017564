// SPDX-License-Identifier: MIT
//
// A real C++ program for cxx_program.sh: four threads each build an
// inventory of a made-up warehouse from a seeded generator, the way C++
// programs use the heap:
//  - std::map<std::string, Item> and std::unordered_map<std::string, ...>
//    keyed by generated names, entries erased and re-inserted;
//  - std::vector growth, std::string concatenation, std::list splices,
//    std::deque as a queue;
//  - std::shared_ptr graphs (a tree with std::weak_ptr parents) and
//    std::unique_ptr to a class hierarchy with virtual destructors of
//    different sizes (sized delete through the deleting destructor), some
//    over-aligned (alignas(64) and alignas(256): the aligned operators);
//  - std::function holding captures too large for its local buffer;
//  - exceptions thrown and caught (std::runtime_error with a long message).
// Then the threads' results are merged (objects freed by other threads than
// their own) and printed: the output depends only on the seed, so it must be
// the same with and without kalloc.  With KPROG_MAPS=path, a copy of
// /proc/self/maps is written there; with KPROG_NEW=path, the file that
// defines operator new (dladdr).
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Rng {
	std::uint64_t s;
	std::uint64_t next()
	{
		std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return z ^ (z >> 31);
	}
	std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

struct Item {
	std::string name;
	std::vector<int> lots;
	std::list<std::string> notes;
	long value = 0;
};

struct Shape {
	virtual ~Shape() = default;
	virtual long area() const = 0;
	virtual std::string kind() const = 0;
};
struct Square : Shape {
	long side;
	explicit Square(long s) : side(s) {}
	long area() const override { return side * side; }
	std::string kind() const override { return "square"; }
};
struct Box : Shape {
	long w, h, d;
	char label[120];
	Box(long a, long b, long c) : w(a), h(b), d(c) { std::snprintf(label, sizeof label, "box-%ld", a + b + c); }
	long area() const override { return 2 * (w * h + h * d + w * d); }
	std::string kind() const override { return label; }
};
struct alignas(64) Cache : Shape {
	long lines[16];
	explicit Cache(long v) { std::iota(lines, lines + 16, v); }
	long area() const override { return std::accumulate(lines, lines + 16, 0L); }
	std::string kind() const override { return "cache"; }
};
struct alignas(256) Page : Shape {
	unsigned char bytes[1000];
	explicit Page(unsigned char v) { std::fill(bytes, bytes + sizeof bytes, v); }
	long area() const override { return std::accumulate(bytes, bytes + sizeof bytes, 0L); }
	std::string kind() const override { return "page"; }
};

struct Node {
	std::string tag;
	std::weak_ptr<Node> parent;
	std::vector<std::shared_ptr<Node>> children;
};

long tree_weight(const std::shared_ptr<Node> &n)
{
	long w = static_cast<long>(n->tag.size());
	for (const auto &c : n->children)
		w += tree_weight(c);
	return w;
}

std::string name_of(Rng &r)
{
	static const char *const parts[] = {"bolt", "nut", "gear", "spring", "valve", "pipe", "seal", "cog"};
	std::string s = parts[r.below(8)];
	s += '-';
	s += std::to_string(r.below(500));
	if (r.below(4) == 0)
		s += std::string(r.below(80), static_cast<char>('a' + r.below(26)));
	return s;
}

struct Result {
	std::map<std::string, Item> stock;
	std::vector<std::unique_ptr<Shape>> shapes;
	std::shared_ptr<Node> tree;
	std::vector<std::string> log;
	long checksum = 0;
};

void work(int id, Result &out)
{
	Rng r{static_cast<std::uint64_t>(1000 + id)};
	std::unordered_map<std::string, long> seen;
	std::deque<std::string> queue;
	for (int step = 0; step < 40000; step++) {
		std::string name = name_of(r);
		switch (r.below(10)) {
		case 0:
		case 1:
		case 2: {
			Item &it = out.stock[name];
			it.name = name;
			it.lots.push_back(static_cast<int>(r.below(1000)));
			it.value += static_cast<long>(r.below(100));
			if (r.below(3) == 0)
				it.notes.push_back("checked by " + std::to_string(id) + " at " + std::to_string(step));
			break;
		}
		case 3:
			out.stock.erase(name);
			break;
		case 4:
			seen[name] += step;
			queue.push_back(name);
			if (queue.size() > 300)
				queue.pop_front();
			break;
		case 5: {
			switch (r.below(4)) {
			case 0:
				out.shapes.push_back(std::make_unique<Square>(static_cast<long>(r.below(100))));
				break;
			case 1:
				out.shapes.push_back(std::make_unique<Box>(static_cast<long>(r.below(9)), static_cast<long>(r.below(9)),
				                                           static_cast<long>(r.below(9))));
				break;
			case 2:
				out.shapes.push_back(std::make_unique<Cache>(static_cast<long>(r.below(50))));
				break;
			default:
				out.shapes.push_back(std::make_unique<Page>(static_cast<unsigned char>(r.below(7))));
				break;
			}
			if (out.shapes.size() > 200) {
				std::size_t i = r.below(out.shapes.size());
				out.checksum += out.shapes[i]->area();
				out.shapes.erase(out.shapes.begin() + static_cast<long>(i));
			}
			break;
		}
		case 6: {
			if (!out.tree)
				out.tree = std::make_shared<Node>(Node{"root", {}, {}});
			std::shared_ptr<Node> at = out.tree;
			while (!at->children.empty() && r.below(3) != 0)
				at = at->children[r.below(at->children.size())];
			auto child = std::make_shared<Node>(Node{name, at, {}});
			at->children.push_back(child);
			if (at->children.size() > 6)
				at->children.erase(at->children.begin());
			break;
		}
		case 7: {
			std::vector<long> big(r.below(3000) + 1);
			std::iota(big.begin(), big.end(), static_cast<long>(step));
			std::function<long(long)> f = [big, id](long x) { return x * id + big.back() - big.front(); };
			out.checksum += f(static_cast<long>(big.size()));
			break;
		}
		case 8:
			try {
				if (r.below(2))
					throw std::runtime_error("out of " + name + std::string(200, '!'));
				out.checksum += 1;
			} catch (const std::runtime_error &e) {
				out.checksum += static_cast<long>(std::string(e.what()).size());
			}
			break;
		default: {
			std::ostringstream line;
			line << "t" << id << " step " << step << " " << name << " stock " << out.stock.size();
			out.log.push_back(line.str());
			if (out.log.size() > 50)
				out.log.erase(out.log.begin(), out.log.begin() + 25);
			break;
		}
		}
	}
	for (const auto &kv : seen)
		out.checksum += kv.second % 977;
	for (const auto &q : queue)
		out.checksum += static_cast<long>(q.size());
}

void write_file(const char *env, const std::string &text)
{
	const char *path = std::getenv(env);
	if (path)
		std::ofstream(path) << text;
}

} // namespace

int main()
{
	const int threads = 4;
	std::vector<Result> results(threads);
	std::vector<std::thread> pool;
	for (int i = 0; i < threads; i++)
		pool.emplace_back(work, i, std::ref(results[i]));
	for (auto &t : pool)
		t.join();

	// Merge on the main thread: the other threads' blocks are freed here.
	std::map<std::string, Item> all;
	long checksum = 0;
	for (int i = 0; i < threads; i++) {
		Result &res = results[i];
		for (auto &kv : res.stock) {
			Item &it = all[kv.first];
			it.name = kv.first;
			it.value += kv.second.value;
			it.lots.insert(it.lots.end(), kv.second.lots.begin(), kv.second.lots.end());
			it.notes.splice(it.notes.end(), kv.second.notes);
		}
		for (const auto &s : res.shapes)
			checksum += s->area() + static_cast<long>(s->kind().size());
		checksum += res.checksum + (res.tree ? tree_weight(res.tree) : 0);
		std::printf("thread %d: %zu items, %zu shapes, last log: %s\n", i, res.stock.size(), res.shapes.size(),
		            res.log.empty() ? "-" : res.log.back().c_str());
	}
	results.clear();

	std::vector<std::pair<long, std::string>> top;
	for (const auto &kv : all) {
		std::vector<int> lots = kv.second.lots;
		std::sort(lots.begin(), lots.end());
		top.emplace_back(kv.second.value * 1000 + (lots.empty() ? 0 : lots.back()), kv.first);
	}
	std::sort(top.begin(), top.end(), std::greater<>());
	std::printf("merged: %zu items, checksum %ld\n", all.size(), checksum);
	for (std::size_t i = 0; i < top.size() && i < 10; i++)
		std::printf("%2zu. %s %ld\n", i + 1, top[i].second.c_str(), top[i].first);

	std::ifstream maps("/proc/self/maps");
	std::stringstream text;
	text << maps.rdbuf();
	write_file("KPROG_MAPS", text.str());
	Dl_info info;
	void *f = dlsym(RTLD_DEFAULT, "_Znwm");
	write_file("KPROG_NEW", f && dladdr(f, &info) && info.dli_fname ? std::string(info.dli_fname) + "\n" : "?\n");
	return 0;
}

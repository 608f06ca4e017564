// SPDX-License-Identifier: MIT
// The C++ side of kbench.h: wraps benchmark::State for the C benchmarks and
// registers the table kb_benchmarks[] of the binary it is linked into.
#include <benchmark/benchmark.h>

#include "kbench.h"

struct kb_state {
	benchmark::State *s;
};

extern "C" {
bool kb_keep_running(kb_state *st) { return st->s->KeepRunning(); }
long kb_arg(kb_state *st) { return st->s->range(0); }
int kb_thread_index(kb_state *st) { return st->s->thread_index(); }
void kb_set_items(kb_state *st, long items) { st->s->SetItemsProcessed(items); }
void kb_pause(kb_state *st) { st->s->PauseTiming(); }
void kb_resume(kb_state *st) { st->s->ResumeTiming(); }
}

int main(int argc, char **argv)
{
	for (const kb_def *d = kb_benchmarks; d->name; d++) {
		kb_fn fn = d->fn;
		auto *b = benchmark::RegisterBenchmark(d->name, [fn](benchmark::State &s) {
			kb_state st{&s};
			fn(&st);
		});
		if (d->arg >= 0)
			b->Arg(d->arg);
		if (d->threads > 1)
			b->Threads(d->threads)->UseRealTime();
	}
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fork() while other threads use stdio (issue: "fork from any context").
 *
 * Two threads read a file of long lines with getline, which holds the FILE's
 * lock while it grows the line buffer with realloc (through slab classes and
 * page blocks, so allocator locks are taken); one thread calls fflush(NULL),
 * which holds the stdio list lock while it waits for each FILE's lock; the
 * main thread forks again and again, and each child allocates and exits.
 *
 * glibc's fork runs the pthread_atfork prepare handlers, then takes the stdio
 * list lock, then its own malloc locks.  An allocator whose prepare handler
 * takes its locks before the list lock deadlocks here: getline holds a FILE
 * and waits for an allocator lock held by the forking thread, fflush(NULL)
 * holds the list lock and waits for that FILE, and fork waits for the list
 * lock.  (glibc's own malloc passes; so must kalloc.)
 *
 * The whole run is in a child with a deadline: a hang is a failure.
 */
#include "ktest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINES 24
#define LINE_LEN (96 << 10)
#define FORKS 400

static char path[64];
static atomic_int stop;
static atomic_long lines_read, flushes;

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		FILE *f = fopen(path, "r");
		if (!f)
			return (void *)1;
		for (;;) {
			char *line = NULL;   /* a new buffer each time: grown by realloc */
			size_t cap = 0;
			ssize_t n = getline(&line, &cap, f);
			free(line);
			if (n <= 0)
				break;
			if (n != LINE_LEN + 1) {
				fclose(f);
				return (void *)2;
			}
			atomic_fetch_add(&lines_read, 1);
		}
		fclose(f);
	}
	return NULL;
}

static void *flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		fflush(NULL);
		atomic_fetch_add(&flushes, 1);
	}
	return NULL;
}

static int scenario(void *arg)
{
	(void)arg;
	pthread_t r1, r2, fl;
	if (pthread_create(&r1, NULL, reader, NULL) || pthread_create(&r2, NULL, reader, NULL) ||
	    pthread_create(&fl, NULL, flusher, NULL))
		return 10;
	int bad = 0;
	for (int i = 0; i < FORKS && !bad; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 11;
		if (pid == 0) {
			char *p = malloc(200000);
			if (!p)
				_exit(3);
			p[199999] = 1;
			free(p);
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	}
	atomic_store(&stop, 1);
	void *rv1, *rv2;
	pthread_join(r1, &rv1);
	pthread_join(r2, &rv2);
	pthread_join(fl, NULL);
	if (rv1 || rv2)
		return 12;
	if (atomic_load(&lines_read) == 0 || atomic_load(&flushes) == 0)
		return 13;
	return bad ? 14 : 0;
}

int main(void)
{
	check_allocator();
	snprintf(path, sizeof path, "/tmp/kalloc-fork-stdio.XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	static char line[LINE_LEN + 1];
	memset(line, 'x', LINE_LEN);
	line[LINE_LEN] = '\n';
	for (int i = 0; i < LINES; i++)
		CHECK(write(fd, line, sizeof line) == (ssize_t)sizeof line);
	close(fd);

	static struct child_result r;
	run_child(scenario, NULL, 60000, &r);
	char how[128];
	CHECKF(child_exit(&r) == 0, "scenario %s (10+: setup or a child that failed; hung: deadlock)\n%s",
	       child_describe(&r, how, sizeof how), r.err);
	unlink(path);
	return check_done();
}

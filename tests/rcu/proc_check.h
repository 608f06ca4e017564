/* SPDX-License-Identifier: MIT */
/*
 * proc_check.h - what /proc/self says about the process: whether a mapped
 * file's name contains a word, and how many threads it has.  Read with
 * open/read (no stdio, no allocation).
 */
#ifndef KALLOC_TESTS_PROC_CHECK_H
#define KALLOC_TESTS_PROC_CHECK_H

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* True when a line of /proc/self/maps contains `word`. */
static inline int maps_contain(const char *word)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return 0;
	size_t len = 0;
	ssize_t r;
	while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return strstr(buf, word) != NULL;
}

/* The number of entries in /proc/self/task (threads), -1 if unknown. */
static inline int thread_count(void)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);   /* allocates: call it outside checks that count allocations */
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

#endif

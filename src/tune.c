/* SPDX-License-Identifier: MIT */
/*
 * tune.c - the tunables read from the environment.
 *
 * One table lists every KALLOC_* variable that sets a tunable: its type, the
 * field of ktune it sets, the smallest good value, and the words a warning
 * uses.  ktune_load() walks it once, at initialisation; nothing else reads
 * the environment for a tunable.  The environment is read without
 * allocating (malloc may not be usable yet).
 */
#include "tune.h"

#include <string.h>

extern char **environ;

struct ktunables ktune = {
	.dirty_max = KDIRTY_HIGH_DEFAULT,
	.pcpu_budget = KFRONT_BUDGET_DEFAULT,
	.rseq = true,
	.rcu = true,
	.stats = NULL,
	.harden = KHARDEN_DEFAULT,
	.prof_sample = KPROF_SAMPLE_DEFAULT,
};

enum { KT_SIZE, KT_BOOL, KT_STATS, KT_DEBUG, KT_HARDEN };

static const struct ktunable {
	const char *name;
	uint8_t type;
	size_t offset;        /* of the field in struct ktunables */
	size_t min;           /* KT_SIZE: the smallest good value */
	const char *expect;   /* what a good value looks like */
} ktunable_table[] = {
	{ "KALLOC_DIRTY_MAX", KT_SIZE, offsetof(struct ktunables, dirty_max), 0, "a size such as 64M" },
	{ "KALLOC_PCPU_BUDGET", KT_SIZE, offsetof(struct ktunables, pcpu_budget), 4096,
	  "a size of at least 4K, such as 512K or 2M" },
	{ "KALLOC_RSEQ", KT_BOOL, offsetof(struct ktunables, rseq), 0, "0 or 1" },
	{ "KALLOC_RCU", KT_BOOL, offsetof(struct ktunables, rcu), 0, "0 or 1" },
	{ "KALLOC_STATS", KT_STATS, offsetof(struct ktunables, stats), 0, "0, 1 or a file name" },
	{ "KALLOC_LIMIT", KT_SIZE, offsetof(struct ktunables, limit), 0, "a size such as 512M (0: no limit)" },
	{ "KALLOC_DEBUG", KT_DEBUG, offsetof(struct ktunables, debug_flags), 0,
	  "slub_debug letters F, Z, P, U, T (or 1), then ,cache-name..." },
	{ "KALLOC_HARDEN", KT_HARDEN, offsetof(struct ktunables, harden), 0, "0, 1 or full" },
	{ "KALLOC_PROF", KT_STATS, offsetof(struct ktunables, prof), 0, "0, 1 or a file name (%p: the pid)" },
	{ "KALLOC_PROF_SAMPLE", KT_SIZE, offsetof(struct ktunables, prof_sample), 1, "a size such as 512K" },
	{ "KALLOC_STATS_SIGNAL", KT_STATS, offsetof(struct ktunables, stats_signal), 0, "a signal such as USR2" },
	{ "KALLOC_SHM", KT_BOOL, offsetof(struct ktunables, shm), 0, "0 or 1" },
};

/*
 * KALLOC_DEBUG, as the kernel's slub_debug: letters, then optionally
 * ",name[,name...]" to limit them to those caches.  "1", or no letters
 * before the comma (",kmalloc-64"), means FZPU; '-' or '0' means none.
 * An unknown letter gets one warning line here and the others apply, so
 * this always returns true (the table's generic warning is not wanted).
 */
static bool parse_debug(const char *s)
{
	slab_flags_t f = 0;
	bool ok = true, none = false;
	const char *p = s;
	for (; *p && *p != ','; p++) {
		switch (*p) {
		case 'F': case 'f': f |= SLAB_CONSISTENCY_CHECKS; break;
		case 'Z': case 'z': f |= SLAB_RED_ZONE; break;
		case 'P': case 'p': f |= SLAB_POISON; break;
		case 'U': case 'u': f |= SLAB_STORE_USER; break;
		case 'T': case 't': f |= SLAB_TRACE; break;
		case '1': break;
		case '-': case '0': none = true; break;
		default:
			if (ok)
				kreport("KALLOC_DEBUG=%s: unknown letter '%c' ignored (F, Z, P, U, T)", s, *p);
			ok = false;
			break;
		}
	}
	if (!f && !none && ok)
		f = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;
	if (none)
		f = 0;
	ktune.debug_flags = f;
	ktune.debug_caches = *p == ',' && p[1] ? p + 1 : NULL;
	return true;
}

bool kenv_list_has(const char *list, const char *name)
{
	if (!list)
		return true;
	size_t len = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		if ((size_t)(e - p) == len && strncmp(p, name, len) == 0)
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

const char *kenv_get(const char *name)
{
	size_t len = strlen(name);
	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

bool kenv_parse_size(const char *s, size_t *out)
{
	size_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		size_t d = (size_t)(*p - '0');
		if (v > (SIZE_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (p == s)
		return false;
	unsigned shift = 0;
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: break;
	}
	if (*p || (shift && v > (SIZE_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

bool kenv_parse_bool(const char *s, bool *out)
{
	if ((s[0] != '0' && s[0] != '1') || s[1] != '\0')
		return false;
	*out = s[0] == '1';
	return true;
}

void ktune_load(void)
{
	for (size_t i = 0; i < sizeof ktunable_table / sizeof ktunable_table[0]; i++) {
		const struct ktunable *t = &ktunable_table[i];
		const char *s = kenv_get(t->name);
		if (!s || !*s)
			continue;
		char *field = (char *)&ktune + t->offset;
		bool ok = false;
		switch (t->type) {
		case KT_SIZE: {
			size_t v;
			ok = kenv_parse_size(s, &v) && v >= t->min;
			if (ok)
				memcpy(field, &v, sizeof v);
			break;
		}
		case KT_BOOL: {
			bool b;
			ok = kenv_parse_bool(s, &b);
			if (ok)
				memcpy(field, &b, sizeof b);
			break;
		}
		case KT_STATS: {
			/* "0" is off; anything else is "1" (stderr) or a path. */
			const char *v = (s[0] == '0' && s[1] == '\0') ? NULL : s;
			memcpy(field, &v, sizeof v);
			ok = true;
			break;
		}
		case KT_DEBUG:
			ok = parse_debug(s);
			break;
		case KT_HARDEN:
			ok = true;
			if (strcmp(s, "0") == 0)
				ktune.harden = KHARDEN_OFF;
			else if (strcmp(s, "1") == 0)
				ktune.harden = KHARDEN_DEFAULT;
			else if (strcmp(s, "full") == 0)
				ktune.harden = KHARDEN_FULL;
			else
				ok = false;
			break;
		}
		if (!ok)
			kreport("%s=%s: expected %s; using the default", t->name, s, t->expect);
	}
}

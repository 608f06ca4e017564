/* SPDX-License-Identifier: MIT */
/*
 * String and tree heavy, one thread: build an unbalanced binary search tree
 * of strdup'd keys with malloc'd nodes and values, look keys up, delete
 * half, rebuild, and tear it all down; several passes.  Like a compiler's
 * symbol tables or an interpreter's dictionaries.
 */
#include "common.h"

struct node {
	struct node *l, *r;
	char *key;
	char *val;
};

static struct node *insert(struct node *t, const char *k, const char *v)
{
	struct node **pp = &t;
	while (*pp) {
		int c = strcmp(k, (*pp)->key);
		if (c == 0) {
			free((*pp)->val);
			(*pp)->val = strdup(v);
			return t;
		}
		pp = c < 0 ? &(*pp)->l : &(*pp)->r;
	}
	struct node *n = malloc(sizeof *n);
	n->l = n->r = NULL;
	n->key = strdup(k);
	n->val = strdup(v);
	*pp = n;
	return t;
}

static void destroy(struct node *t)
{
	while (t) {
		destroy(t->l);
		struct node *r = t->r;
		free(t->key);
		free(t->val);
		free(t);
		t = r;
	}
}

static long count(const struct node *t)
{
	return t ? 1 + count(t->l) + count(t->r) : 0;
}

int main(void)
{
	long keys = (long)(200000 * scale());
	uint64_t s = 7;
	char k[64], v[128];
	double ops = 0, t0 = now_s();
	for (int pass = 0; pass < 5; pass++) {
		struct node *t = NULL;
		for (long i = 0; i < keys; i++) {
			uint64_t r = rnd(&s);
			snprintf(k, sizeof k, "key-%lu-%lu", (unsigned long)(r % 1000003), (unsigned long)(r >> 40));
			int vl = (int)((r >> 20) % 100);
			memset(v, 'a' + pass, (size_t)vl);
			v[vl] = 0;
			t = insert(t, k, v);
			ops++;
		}
		if (count(t) < keys / 2) {
			fprintf(stderr, "tree: lost keys\n");
			return 1;
		}
		destroy(t);
	}
	result(now_s() - t0, ops);
	return 0;
}

# Generates a large C file for gcc.sh: n functions of five shapes (loops,
# switch fall-through, structs with snprintf, floating point with calls,
# insertion sort), a table of pointers to them and a main that prints a
# running hash of their results.  awk -v n=1000 -f gcc-gen.awk > gen.c
BEGIN {
	if (!n) n = 3000
	print "#include <stdio.h>"
	print "#include <stdint.h>"
	print "#include <string.h>"
	print "typedef struct { uint32_t a, b; uint64_t c; char name[16]; } rec_t;"
	print "static uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x; }"
	for (f = 0; f < n; f++) {
		k = f % 5
		printf("static const uint16_t tab%d[%d] = {", f, 8 + f % 9)
		for (i = 0; i < 8 + f % 9; i++) printf("%s%d", i ? "," : "", (f * 131 + i * 17) % 65521)
		print "};"
		printf("__attribute__((noinline)) uint64_t fn%d(uint64_t x, int n)\n{\n", f)
		if (k == 0) {
			printf("\tuint64_t acc = %dULL;\n\tfor (int i = 0; i < n; i++) {\n", f)
			printf("\t\tacc = acc * %d + (x ^ (uint64_t)i) + tab%d[i %% %d];\n", 3 + f % 17, f, 8 + f % 9)
			printf("\t\tif (acc & %d) acc ^= mix(acc);\n\t}\n\treturn acc;\n}\n", 1 + f % 63)
		} else if (k == 1) {
			printf("\tswitch ((x + (uint64_t)n) %% 8) {\n")
			for (c = 0; c < 8; c++)
				printf("\tcase %d: x = x * %d + %d; /* fall through */\n", c, 5 + (f + c) % 23, (f * c) % 1000)
			printf("\tdefault: break;\n\t}\n\treturn mix(x + tab%d[n %% %d]);\n}\n", f, 8 + f % 9)
		} else if (k == 2) {
			printf("\trec_t r[8];\n\tmemset(r, 0, sizeof r);\n")
			printf("\tfor (int i = 0; i < 8; i++) { r[i].a = (uint32_t)(x >> i) + tab%d[i]; r[i].b = (uint32_t)n * %d; r[i].c = mix(r[i].a ^ r[i].b); snprintf(r[i].name, sizeof r[i].name, \"f%d.%%d\", i); }\n", f, f % 97 + 1, f)
			printf("\tuint64_t s = 0;\n\tfor (int i = 0; i < 8; i++) s += r[i].c + (uint64_t)strlen(r[i].name) * %d;\n\treturn s;\n}\n", f % 13 + 1)
		} else if (k == 3) {
			printf("\tdouble d = (double)(x %% 1000) / %d.0;\n\tfor (int i = 1; i <= (n %% 16) + 4; i++) d = d * 1.0001 + (double)tab%d[i %% %d] / i;\n", f % 50 + 1, f, 8 + f % 9)
			printf("\treturn (uint64_t)(d * 1000.0) + fn%d(x, n - 1 > 0 ? n - 1 : 0);\n}\n", f - 3)
		} else {
			printf("\tuint64_t v[%d];\n\tfor (int i = 0; i < %d; i++) v[i] = mix(x + (uint64_t)i * %d);\n", 4 + f % 12, 4 + f % 12, f + 1)
			printf("\tfor (int i = 1; i < %d; i++) for (int j = i; j > 0 && v[j - 1] > v[j]; j--) { uint64_t t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }\n", 4 + f % 12)
			printf("\treturn v[0] ^ v[%d] ^ (uint64_t)n ^ tab%d[n %% %d];\n}\n", 3 + f % 12, f, 8 + f % 9)
		}
	}
	print "typedef uint64_t (*fn_t)(uint64_t, int);"
	printf("static fn_t const fns[%d] = {", n)
	for (f = 0; f < n; f++) printf("%sfn%d", f ? "," : "", f)
	print "};"
	print "int main(void)\n{\n\tuint64_t h = 1469598103934665603ULL;"
	printf("\tfor (int f = 0; f < %d; f++) {\n\t\tuint64_t r = fns[f](h, f %% 40);\n\t\th = (h ^ r) * 1099511628211ULL;\n\t\tif (f %% 500 == 499) printf(\"%%d %%016llx\\n\", f + 1, (unsigned long long)h);\n\t}\n", n)
	print "\tprintf(\"final %016llx\\n\", (unsigned long long)h);\n\treturn 0;\n}"
}

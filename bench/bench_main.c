/* bench_main.c: `make bench`.  For Adam, AdamW, Lion, LAMB, SGD with
 * momentum and Adagrad at N = 1M, 16M, 64M and 1 and 2 threads: the
 * generated kernel, the hand-written loop and the bandwidth kernel side by
 * side; Adafactor on a square and a narrow 2-D parameter against its
 * bandwidth kernel; the JIT clock of every stdlib rule; many small
 * tensors against one large one.  Prints tables, writes JSON and an SVG
 * plot.
 *
 *   optc-bench [--quick] [--out DIR] [--rules adam,lion] [--sizes 1,16,64]
 *              [--threads 1,2] [--no-jit] [--no-small]
 * Sizes are in Mi elements.  --quick: 1M and 4M (matrices 512 x 512 and
 * 65536 x 8), short repetitions. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "benchlib.h"
#include "report.h"

extern char **environ;

typedef struct Rule {
  const char *label, *file;
  const char *sets[2];
} Rule;

static const Rule RULES[] = {
    {"adam", "adam.opt", {NULL}},       {"adamw", "adamw.opt", {NULL}},
    {"lion", "lion.opt", {NULL}},       {"lamb", "lamb.opt", {NULL}},
    {"sgd", "sgd.opt", {"momentum=0.9", NULL}}, {"adagrad", "adagrad.opt", {NULL}},
};
enum { NRULES = sizeof RULES / sizeof RULES[0] };

typedef struct Args {
  const char *out_dir;
  char rules[256];
  long sizes[8];
  int nsizes;
  int threads[4];
  int nthreads;
  int quick, jit, small;
} Args;

static int parse_list(const char *text, long *out, int max) {
  int n = 0;
  char *copy = strdup(text), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
    out[n++] = strtol(tok, NULL, 10);
  free(copy);
  return n;
}

static void usage(FILE *out) {
  fputs("usage: optc-bench [--quick] [--out DIR] [--rules adam,lion] [--sizes 1,16,64]\n"
        "                  [--threads 1,2] [--no-jit] [--no-small]\n\n"
        "Generated kernels against hand-written loops and the bandwidth limit\n"
        "(sizes in Mi elements), the JIT clock of every stdlib rule (--rules none\n"
        "--no-small for that alone), and many small tensors.  Tables on stdout,\n"
        "bench.json and bench.svg in DIR.  See docs/performance.md.\n",
        out);
}

/* Returns 0 to run, 1 after --help, -1 on bad usage. */
static int parse_args(int argc, char **argv, Args *a) {
  *a = (Args){.out_dir = OPTC_BINARY_DIR "/bench-results", .jit = 1, .small = 1};
  a->nsizes = 3;
  a->sizes[0] = 1, a->sizes[1] = 16, a->sizes[2] = 64;
  a->nthreads = 2;
  a->threads[0] = 1, a->threads[1] = 2;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long tmp[4];
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      usage(stdout);
      return 1;
    } else if (!strcmp(s, "--quick")) {
      a->quick = 1;
      a->nsizes = 2, a->sizes[0] = 1, a->sizes[1] = 4;
    } else if (!strcmp(s, "--no-jit")) a->jit = 0;
    else if (!strcmp(s, "--no-small")) a->small = 0;
    else if (!strcmp(s, "--out") && v) a->out_dir = argv[++i];
    else if (!strcmp(s, "--rules") && v) snprintf(a->rules, sizeof a->rules, ",%s,", argv[++i]);
    else if (!strcmp(s, "--sizes") && v) a->nsizes = parse_list(argv[++i], a->sizes, 8);
    else if (!strcmp(s, "--threads") && v) {
      a->nthreads = parse_list(argv[++i], tmp, 4);
      for (int k = 0; k < a->nthreads; k++) a->threads[k] = (int)tmp[k];
    } else {
      fprintf(stderr, "optc-bench: error: unknown or incomplete option '%s'\n", s);
      usage(stderr);
      return -1;
    }
  }
  return 0;
}

static int wanted(const Args *a, const char *label) {
  if (!a->rules[0]) return 1;
  char key[64];
  snprintf(key, sizeof key, ",%s,", label);
  return strstr(a->rules, key) != NULL;
}

static void rule_path(char *buf, size_t n, const char *file) {
  snprintf(buf, n, "%s/stdlib/%s", OPTC_SOURCE_DIR, file);
}

static int run_kernels(const Args *a, BenchRow *rows, int *nrows) {
  for (int r = 0; r < NRULES; r++) {
    if (!wanted(a, RULES[r].label)) continue;
    char path[512];
    rule_path(path, sizeof path, RULES[r].file);
    for (int s = 0; s < a->nsizes; s++)
      for (int t = 0; t < a->nthreads; t++) {
        BenchOptions o;
        bench_options_init(&o);
        o.n = (int64_t)a->sizes[s] << 20;
        o.threads = a->threads[t];
        o.rule_label = RULES[r].label;
        o.sets = RULES[r].sets;
        if (a->quick) o.min_seconds = 0.1, o.min_reps = 3;
        char *err = NULL;
        if (bench_measure(path, &o, &rows[*nrows], &err) != 0) {
          fprintf(stderr, "optc-bench: %s: %s\n", RULES[r].label, err);
          free(err);
          return -1;
        }
        fprintf(stderr, "  %s N=%ldM threads=%d done\n", RULES[r].label, a->sizes[s],
                a->threads[t]);
        (*nrows)++;
      }
  }
  return 0;
}

/* Adafactor (a rule for 2-D parameters; no hand-written loop) on a
 * square matrix and a narrow one (fewer columns than a vector's lanes:
 * docs/abi.md, "Code shape"). */
static int run_matrices(const Args *a, BenchRow *rows, int *nrows) {
  static const int64_t full[][2] = {{2048, 2048}, {262144, 8}}, quick[][2] = {{512, 512}, {65536, 8}};
  if (!wanted(a, "adafactor")) return 0;
  char path[512];
  rule_path(path, sizeof path, "adafactor.opt");
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < a->nthreads; t++) {
      const int64_t *shape = a->quick ? quick[s] : full[s];
      BenchOptions o;
      bench_options_init(&o);
      o.n = shape[0] * shape[1];
      o.cols = shape[1];
      o.threads = a->threads[t];
      if (a->quick) o.min_seconds = 0.1, o.min_reps = 3;
      char *err = NULL;
      if (bench_measure(path, &o, &rows[*nrows], &err) != 0) {
        fprintf(stderr, "optc-bench: adafactor: %s\n", err);
        free(err);
        return -1;
      }
      fprintf(stderr, "  adafactor %lldx%lld threads=%d done\n", (long long)shape[0],
              (long long)shape[1], a->threads[t]);
      (*nrows)++;
    }
  return 0;
}

static double aot_wall_ms(const char *path, const char *out_dir) {
  char so[600];
  snprintf(so, sizeof so, "%s/aot-bench.so", out_dir);
  char *argv[] = {(char *)OPTC_BINARY, "compile", (char *)path, "-o", so, NULL};
  double best = -1;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = bench_now_ms();
    pid_t pid;
    int status;
    if (posix_spawn(&pid, OPTC_BINARY, NULL, NULL, argv, environ) != 0) return -1;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) return -1;
    double ms = bench_now_ms() - t0;
    if (best < 0 || ms < best) best = ms;
  }
  remove(so);
  return best;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every stdlib rule that is a whole optimizer (library files like
 * clip.opt, with no `optimizer`, fail to JIT and are skipped quietly). */
static int run_jit(const Args *a, BenchJit *out, char names[][64], int max) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/stdlib", OPTC_SOURCE_DIR);
  DIR *d = opendir(dir);
  if (!d) return 0;
  char *files[256];
  int nfiles = 0;
  struct dirent *e;
  while ((e = readdir(d)) && nfiles < 256) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".opt")) files[nfiles++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(files, (size_t)nfiles, sizeof *files, cmp_str);
  int n = 0, i = 0;
  for (; i < nfiles && n < max; i++) {
    char path[600];
    rule_path(path, sizeof path, files[i]);
    char *err = NULL;
    BenchJit *j = &out[n];
    if (bench_jit_clock(path, a->quick ? 3 : 11, j, &err) == 0) {
      snprintf(names[n], 64, "%.*s", (int)(strlen(files[i]) - 4), files[i]);
      j->rule = names[n];
      j->aot_ms = aot_wall_ms(path, a->out_dir);
      n++;
    }
    free(err);
    free(files[i]);
  }
  for (; i < nfiles; i++) free(files[i]);
  return n;
}

static void vectorization_note(void) {
  FILE *f = fopen(BENCH_VEC_REPORT, "r");
  int loops = 0;
  char line[1024];
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "handwritten.c") && strstr(line, "loop vectorized")) loops++;
  if (f) fclose(f);
  printf("hand-written loops: built with %s; %d loop versions vectorized (%s)\n",
         BENCH_HW_FLAGS, loops, BENCH_VEC_REPORT);
}

static int write_outputs(const Args *a, const BenchRow *rows, int nrows, const BenchJit *j,
                         int nj, const BenchSmall *s, int ns) {
  char path[600];
  snprintf(path, sizeof path, "%s/bench.json", a->out_dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  bench_write_json(f, rows, nrows, j, nj, s, ns);
  fclose(f);
  snprintf(path, sizeof path, "%s/bench.svg", a->out_dir);
  f = fopen(path, "w");
  if (!f) return -1;
  bench_write_svg(f, rows, nrows);
  fclose(f);
  printf("\nwrote %s/bench.json and %s/bench.svg\n", a->out_dir, a->out_dir);
  return 0;
}

int main(int argc, char **argv) {
  bench_reexec_passive(argv);
  Args a;
  int parsed = parse_args(argc, argv, &a);
  if (parsed != 0) return parsed > 0 ? 0 : 2;
  if (mkdir(a.out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "optc-bench: error: cannot create %s\n", a.out_dir);
    return 2;
  }
  static BenchRow rows[NRULES * 8 * 4 + 2 * 4];
  int nrows = 0;
  if (run_kernels(&a, rows, &nrows) != 0 || run_matrices(&a, rows, &nrows) != 0) return 1;
  static BenchJit jit[256];
  static char names[256][64];
  int nj = a.jit ? run_jit(&a, jit, names, 256) : 0;
  BenchSmall small[4];
  int ns = 0;
  for (int t = 0; a.small && t < a.nthreads; t++) {
    char path[512], *err = NULL;
    rule_path(path, sizeof path, "adamw.opt");
    if (bench_small_tensors(path, 1000, a.threads[t], &small[ns], &err) == 0) ns++;
    else fprintf(stderr, "optc-bench: small tensors: %s\n", err), free(err);
  }
  vectorization_note();
  if (nrows) bench_print_table(stdout, rows, nrows);
  if (nrows) bench_print_matrix(stdout, rows, nrows);
  if (nj) bench_print_jit(stdout, jit, nj);
  if (ns) bench_print_small(stdout, small, ns);
  return write_outputs(&a, rows, nrows, jit, nj, small, ns) == 0 ? 0 : 1;
}

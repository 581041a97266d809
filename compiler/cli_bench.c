/* cli_bench.c: `optc bench FILE [--n N | --shape RxC] [--threads T]
 * [--rounds R] [--min-time S] [--set NAME=VALUE]... [--no-fp-contract]
 * [--json]`: one rule's generated kernel against the bandwidth kernel of
 * its traffic (and its hand-written loop, for the rules bench/ has one),
 * measured side by side (bench/benchlib.c).  `make bench` runs the whole
 * benchmark. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "cli.h"

enum { MAX_SETS = 64 };

static void usage(FILE *out) {
  fprintf(out,
          "usage: optc bench FILE [--n N | --shape RxC] [--threads T] [--rounds R]\n"
          "                  [--min-time S] [--set NAME=VALUE]... [--no-fp-contract]\n"
          "                  [--json]\n\n"
          "Times one step of the rule's generated kernel on one tensor of N f32\n"
          "elements (default 16777216; --shape: an R x C matrix, for rules on\n"
          "2-D parameters), side by side with a plain C kernel that\n"
          "moves the same bytes (the memory-bandwidth limit) and, for adam, adamw,\n"
          "lion, lamb, sgd and adagrad, a hand-written C loop of the same rule.\n"
          "Each round runs the three once, back to back; rounds repeat until at\n"
          "least R (default 11) unpreempted ones and S seconds (default 1) have\n"
          "passed (at most 200 rounds, 20000 with --min-time).  Times are\n"
          "medians over rounds; each ratio is the median of the rounds' own\n"
          "ratios, with its 95%% confidence interval (_ci95).\n"
          "At N >= 16M the verdict applies the target (both ratios >= 1.0):\n"
          "ok, MISS (the interval lies below 1.0) or MISS(ns) (the median is\n"
          "below 1.0, the interval reaches it); more rounds narrow the interval.\n"
          "--no-fp-contract compiles the rule without fused multiply-add\n"
          "(optc compile --help), to see what the fusion is worth.\n");
}

static void print_text(const BenchRow *r, int64_t cols) {
  printf("rule: %s\nn: %lld\n", r->rule, (long long)r->n);
  if (cols > 0) printf("shape: %lldx%lld\n", (long long)(r->n / cols), (long long)cols);
  printf("threads: %d\nsweeps: %d\nbytes_per_element: %d\n", r->threads, r->sweeps,
         r->bytes_per_element);
  printf("reps: %d\nms_per_step: %.4f\ngbps: %.3f\n", r->reps, r->gen_ms,
         bench_gbps(r, r->gen_ms));
  printf("bandwidth_ms: %.4f\nratio_to_bandwidth: %.3f\n", r->bw_ms, r->to_bw);
  printf("ratio_to_bandwidth_ci95: %.3f %.3f\n", r->to_bw_lo, r->to_bw_hi);
  if (r->hw_ms > 0) {
    printf("handwritten_ms: %.4f\nratio_to_handwritten: %.3f\n", r->hw_ms, r->to_hw);
    printf("ratio_to_handwritten_ci95: %.3f %.3f\n", r->to_hw_lo, r->to_hw_hi);
  }
  const char *v = bench_kernel_verdict(r); /* "-": no target at this size */
  if (strcmp(v, "-")) printf("verdict: %s\n", v);
}

/* "RxC" into o->n = R * C and o->cols = C. */
static bool parse_shape(const char *text, BenchOptions *o) {
  const char *x = strchr(text, 'x');
  if (!x || x == text) return false;
  char rows[32];
  size_t len = (size_t)(x - text);
  if (len >= sizeof rows) return false;
  memcpy(rows, text, len);
  rows[len] = '\0';
  long r, c;
  const long max = 1L << 34;
  if (!cli_parse_int(rows, 1, max, &r) || !cli_parse_int(x + 1, 1, max, &c) || r > max / c)
    return false;
  o->n = r * c;
  o->cols = c;
  return true;
}

/* argv[-1] is the program name: main passes argv + 1 of its own argv,
 * whose NULL-terminated vector is re-executed whole. */
int cli_bench(int argc, char **argv) {
  bench_reexec_passive(argv - 1);
  const char *file = NULL, *sets[MAX_SETS + 1] = {NULL};
  int nsets = 0, json = 0, has_n = 0, has_shape = 0;
  BenchOptions o;
  bench_options_init(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long v;
    if (cli_is_help(a)) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--no-fp-contract")) {
      o.no_fp_contract = true;
    } else if (!strcmp(a, "--n") || !strcmp(a, "--threads") || !strcmp(a, "--set") ||
               !strcmp(a, "--shape") || !strcmp(a, "--rounds") || !strcmp(a, "--min-time")) {
      if (i + 1 >= argc) return cli_usage_error("bench", "%s needs a value", a);
      const char *val = argv[++i];
      if (!strcmp(a, "--set")) {
        if (nsets == MAX_SETS) return cli_usage_error("bench", "too many --set");
        sets[nsets++] = val;
      } else if (!strcmp(a, "--n")) {
        if (!cli_parse_int(val, 1, 1L << 34, &v))
          return cli_usage_error("bench", "--n wants a positive integer, not '%s'", val);
        o.n = v;
        has_n = 1;
      } else if (!strcmp(a, "--shape")) {
        if (!parse_shape(val, &o))
          return cli_usage_error("bench", "--shape wants ROWSxCOLS, each 1 or more and "
                                 "at most 2^34 elements in all, not '%s'", val);
        has_shape = 1;
      } else if (!strcmp(a, "--rounds")) {
        if (!cli_parse_int(val, 3, 100000, &v))
          return cli_usage_error("bench", "--rounds wants 3..100000, not '%s'", val);
        o.min_reps = (int)v;
        if (o.max_reps < o.min_reps) o.max_reps = o.min_reps;
      } else if (!strcmp(a, "--min-time")) {
        double sec;
        if (!cli_parse_double(val, &sec) || !(sec >= 0 && sec <= 3600))
          return cli_usage_error("bench", "--min-time wants seconds in 0..3600, not '%s'", val);
        o.min_seconds = sec;
        if (o.max_reps < 20000) o.max_reps = 20000; /* the time decides, not the cap */
      } else {
        if (!cli_parse_int(val, 1, 1024, &v))
          return cli_usage_error("bench", "--threads wants 1..1024, not '%s'", val);
        o.threads = (int)v;
      }
    } else if (a[0] == '-') {
      return cli_usage_error("bench", "unknown option '%s'", a);
    } else if (file) {
      return cli_usage_error("bench", "one FILE at a time ('%s' and '%s')", file, a);
    } else {
      file = a;
    }
  }
  if (!file) return cli_usage_error("bench", "no FILE given");
  if (has_n && has_shape) return cli_usage_error("bench", "--n and --shape: give one of them");
  o.sets = sets;
  BenchRow row;
  char *err = NULL;
  if (bench_measure(file, &o, &row, &err) != 0) {
    fprintf(stderr, "optc bench: error: %s\n", err);
    free(err);
    return 1;
  }
  if (json) bench_write_json(stdout, &row, 1, NULL, 0, NULL, 0);
  else print_text(&row, o.cols);
  return 0;
}

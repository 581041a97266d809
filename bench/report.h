/* report.h: the benchmark's results and their three forms: a table on
 * stdout, JSON for tools, and an SVG plot of GB/s against N. */
#ifndef OPTC_BENCH_REPORT_H
#define OPTC_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct BenchRow {
  char rule[40];         /* "adam" */
  int64_t n;             /* f32 elements */
  int64_t cols;          /* 0: p is a vector; else a matrix of n / cols x cols */
  int threads;
  int bytes_per_element; /* from optc info */
  int sweeps;
  double gen_ms, hw_ms, bw_ms; /* medians; hw_ms < 0 when no hand-written loop */
  /* Speed ratios, generated against bandwidth and hand-written (NaN when
   * none): the median over rounds of each round's own ratio, the three
   * kernels of a round having run back to back (docs/performance.md). */
  double to_bw, to_hw;
  /* 95% confidence intervals of those medians (bench_median_ci), NaN
   * when there is no ratio. */
  double to_bw_lo, to_bw_hi, to_hw_lo, to_hw_hi;
  int reps;
} BenchRow;

typedef struct BenchJit {
  const char *rule;
  double ms_o0, ms_o2, aot_ms; /* medians; aot: wall time of `optc compile` */
  double ms_o2_one;            /* -O2 with one code generation thread */
} BenchJit;

typedef struct BenchSmall {
  char rule[40];
  int threads;
  int tensors;
  int64_t elements;
  double ms, large_ms; /* many small tensors vs one tensor of the same total */
} BenchSmall;

double bench_gbps(const BenchRow *r, double ms);

/* The distribution-free confidence interval of the median of the n >= 1
 * values x[0..n) sorted ascending: [x[k-1], x[n-k]] for the largest k with
 * 2 P(B <= k-1) <= 0.05, B ~ Binomial(n, 1/2), so that it holds the true
 * median with probability >= 95% (k = 1, the whole range, when n < 6,
 * where no interval reaches 95%).  Returns the coverage. */
double bench_median_ci(const double *x, int n, double *lo, double *hi);

/* The target verdict of a kernel row at N >= 16M: "ok" when both ratios
 * are >= 1.0; "MISS" when one is below 1.0 with its whole confidence
 * interval; "MISS(ns)" when the median is below 1.0 but the interval
 * reaches 1.0 (a miss, not significant in this run); "-" below 16M and
 * for matrices (no target). */
const char *bench_kernel_verdict(const BenchRow *r);

/* The rows of vectors (cols 0) against the targets; bench_print_matrix
 * the others (no targets: docs/performance.md, "Rules on 2-D
 * parameters"). */
void bench_print_table(FILE *out, const BenchRow *rows, int nrows);
void bench_print_matrix(FILE *out, const BenchRow *rows, int nrows);
void bench_print_jit(FILE *out, const BenchJit *j, int n);
void bench_print_small(FILE *out, const BenchSmall *s, int n);
/* One JSON object {"kernels": [...], "jit": [...], "small_tensors": [...]}. */
void bench_write_json(FILE *out, const BenchRow *rows, int nrows, const BenchJit *j,
                      int nj, const BenchSmall *s, int ns);
/* One panel per (rule, threads) of the vector rows: GB/s against N (log
 * scale) for generated, hand-written and the bandwidth limit. */
void bench_write_svg(FILE *out, const BenchRow *rows, int nrows);

#endif

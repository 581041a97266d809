/* report.c: formatting of benchmark results (see report.h).  The verdict
 * columns apply the targets of docs/performance.md: at N >= 16M every
 * generated kernel >= 1.0x of the bandwidth kernel for its traffic and
 * >= 1.0x of the hand-written loop; JIT <= 10 ms at -O2; many small
 * tensors >= 0.8x of one large tensor. */
#include "report.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

double bench_gbps(const BenchRow *r, double ms) {
  if (ms <= 0) return 0;
  return (double)r->bytes_per_element * (double)r->n / (ms * 1e-3) / 1e9;
}

static long online_cpus(void) { return sysconf(_SC_NPROCESSORS_ONLN); }

/* P(B = j), B ~ Binomial(n, 1/2), in logs so that no n underflows. */
static double binom_half_pmf(int n, int j) {
  return exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0) - n * log(2.0));
}

double bench_median_ci(const double *x, int n, double *lo, double *hi) {
  int k = 1;
  double below = binom_half_pmf(n, 0); /* P(B <= k-1) */
  for (;;) {
    double next = below + binom_half_pmf(n, k);
    if (2 * k >= n || 2 * next > 0.05) break;
    below = next;
    k++;
  }
  *lo = x[k - 1];
  *hi = x[n - k];
  return 1 - 2 * below;
}

/* A kernel row against the target, worst first. */
typedef enum Verdict { V_MISS, V_MISS_NS, V_OK, V_NONE } Verdict;
static const char *const VERDICT_TEXT[] = {"MISS", "MISS(ns)", "ok", "-"};

/* One ratio: below 1.0 with its whole interval, below, or not (or none). */
static Verdict ratio_verdict(double median, double hi) {
  if (isnan(median) || median >= 1.0) return V_OK;
  return hi < 1.0 ? V_MISS : V_MISS_NS;
}

static Verdict kernel_verdict(const BenchRow *r) {
  if (r->cols || r->n < 16 * 1024 * 1024) return V_NONE;
  Verdict bw = ratio_verdict(r->to_bw, r->to_bw_hi), hw = ratio_verdict(r->to_hw, r->to_hw_hi);
  return bw < hw ? bw : hw;
}

const char *bench_kernel_verdict(const BenchRow *r) { return VERDICT_TEXT[kernel_verdict(r)]; }

/* "0.981-1.004", or "-" when there is no ratio. */
static const char *ci_text(char *buf, size_t len, double lo, double hi) {
  if (isnan(lo) || isnan(hi)) snprintf(buf, len, "-");
  else snprintf(buf, len, "%.3f-%.3f", lo, hi);
  return buf;
}

static const char *verdict(double ratio, double target) {
  return ratio >= target ? "ok" : "MISS";
}

void bench_print_table(FILE *out, const BenchRow *rows, int nrows) {
  fprintf(out, "%-14s %9s %3s %5s %9s %8s %8s %8s %8s %12s %8s %12s  %s\n", "rule", "N",
          "thr", "B/el", "gen ms", "gen GB/s", "hw GB/s", "bw GB/s", "gen/bw", "95% CI",
          "gen/hw", "95% CI", "target(>=16M)");
  int missed = 0, significant = 0, judged = 0;
  for (int i = 0; i < nrows; i++) {
    const BenchRow *r = &rows[i];
    if (r->cols) continue;
    Verdict v = kernel_verdict(r);
    judged += v != V_NONE;
    missed += v <= V_MISS_NS;
    significant += v == V_MISS;
    char bw[32], hw[32];
    fprintf(out, "%-14s %8.0fM %3d %5d %9.3f %8.2f %8.2f %8.2f %7.3fx %12s %7.3fx %12s  %s\n",
            r->rule, (double)r->n / (1024 * 1024), r->threads, r->bytes_per_element,
            r->gen_ms, bench_gbps(r, r->gen_ms),
            r->hw_ms > 0 ? bench_gbps(r, r->hw_ms) : NAN, bench_gbps(r, r->bw_ms), r->to_bw,
            ci_text(bw, sizeof bw, r->to_bw_lo, r->to_bw_hi), r->to_hw,
            ci_text(hw, sizeof hw, r->to_hw_lo, r->to_hw_hi), VERDICT_TEXT[v]);
  }
  if (judged)
    fprintf(out,
            "targets: %d of %d configurations missed, %d of them significantly (MISS: the "
            "95%% confidence\ninterval of the paired ratio lies below 1.0; MISS(ns): the "
            "median is below 1.0, the interval reaches it)\n",
            missed, judged, significant);
}

void bench_print_matrix(FILE *out, const BenchRow *rows, int nrows) {
  fprintf(out, "\n%-14s %15s %3s %5s %9s %8s %9s %8s  %s\n", "rule", "shape", "thr", "B/el",
          "gen ms", "gen GB/s", "bw ms", "gen/bw", "(2-D parameters: no target)");
  for (int i = 0; i < nrows; i++) {
    const BenchRow *r = &rows[i];
    if (!r->cols) continue;
    char shape[32];
    snprintf(shape, sizeof shape, "%lldx%lld", (long long)(r->n / r->cols), (long long)r->cols);
    fprintf(out, "%-14s %15s %3d %5d %9.3f %8.2f %9.3f %7.3fx\n", r->rule, shape, r->threads,
            r->bytes_per_element, r->gen_ms, bench_gbps(r, r->gen_ms), r->bw_ms, r->to_bw);
  }
}

void bench_print_jit(FILE *out, const BenchJit *j, int n) {
  fprintf(out, "\n%-18s %10s %10s %12s %12s  %s\n", "rule", "JIT -O0 ms", "JIT -O2 ms",
          "-O2 1 thr ms", "AOT wall ms", "target(-O2 <= 10 ms)");
  for (int i = 0; i < n; i++)
    fprintf(out, "%-18s %10.2f %10.2f %12.2f %12.1f  %s\n", j[i].rule, j[i].ms_o0, j[i].ms_o2,
            j[i].ms_o2_one, j[i].aot_ms, j[i].ms_o2 <= 10.0 ? "ok" : "MISS");
  fprintf(out, "(JIT: default code generation threads, one per CPU up to 4, here %ld; "
               "\"1 thr\": OptcOptions.jit_threads = 1)\n",
          online_cpus());
}

void bench_print_small(FILE *out, const BenchSmall *s, int n) {
  fprintf(out, "\n%-14s %3s %8s %10s %10s %10s %8s  %s\n", "rule", "thr", "tensors",
          "elements", "small ms", "large ms", "ratio", "target(>=0.8x)");
  for (int i = 0; i < n; i++) {
    double ratio = s[i].large_ms / s[i].ms;
    fprintf(out, "%-14s %3d %8d %10lld %10.3f %10.3f %7.3fx  %s\n", s[i].rule,
            s[i].threads, s[i].tensors, (long long)s[i].elements, s[i].ms,
            s[i].large_ms, ratio, verdict(ratio, 0.8));
  }
}

static void json_num(FILE *out, const char *key, double v, bool last) {
  if (isfinite(v)) fprintf(out, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
  else fprintf(out, "\"%s\": null%s", key, last ? "" : ", ");
}

void bench_write_json(FILE *out, const BenchRow *rows, int nrows, const BenchJit *j,
                      int nj, const BenchSmall *s, int ns) {
  fprintf(out, "{\n  \"kernels\": [\n");
  for (int i = 0; i < nrows; i++) {
    const BenchRow *r = &rows[i];
    fprintf(out, "    {\"rule\": \"%s\", \"n\": %lld, \"cols\": %lld, \"threads\": %d, ",
            r->rule, (long long)r->n, (long long)r->cols, r->threads);
    fprintf(out, "\"bytes_per_element\": %d, \"sweeps\": %d, \"reps\": %d, ",
            r->bytes_per_element, r->sweeps, r->reps);
    json_num(out, "gen_ms", r->gen_ms, false);
    json_num(out, "hw_ms", r->hw_ms > 0 ? r->hw_ms : NAN, false);
    json_num(out, "bw_ms", r->bw_ms, false);
    json_num(out, "gen_gbps", bench_gbps(r, r->gen_ms), false);
    json_num(out, "ratio_to_bandwidth", r->to_bw, false);
    json_num(out, "ratio_to_bandwidth_lo", r->to_bw_lo, false);
    json_num(out, "ratio_to_bandwidth_hi", r->to_bw_hi, false);
    json_num(out, "ratio_to_handwritten", r->to_hw, false);
    json_num(out, "ratio_to_handwritten_lo", r->to_hw_lo, false);
    json_num(out, "ratio_to_handwritten_hi", r->to_hw_hi, false);
    fprintf(out, "\"verdict\": \"%s\"}%s\n", bench_kernel_verdict(r), i + 1 < nrows ? "," : "");
  }
  fprintf(out, "  ],\n  \"jit\": [\n");
  for (int i = 0; i < nj; i++) {
    fprintf(out, "    {\"rule\": \"%s\", ", j[i].rule);
    json_num(out, "ms_o0", j[i].ms_o0, false);
    json_num(out, "ms_o2", j[i].ms_o2, false);
    json_num(out, "ms_o2_one_thread", j[i].ms_o2_one, false);
    json_num(out, "aot_ms", j[i].aot_ms, true);
    fprintf(out, "}%s\n", i + 1 < nj ? "," : "");
  }
  fprintf(out, "  ],\n  \"small_tensors\": [\n");
  for (int i = 0; i < ns; i++) {
    fprintf(out, "    {\"rule\": \"%s\", \"threads\": %d, \"tensors\": %d, \"elements\": %lld, ",
            s[i].rule, s[i].threads, s[i].tensors, (long long)s[i].elements);
    json_num(out, "ms", s[i].ms, false);
    json_num(out, "large_ms", s[i].large_ms, false);
    json_num(out, "ratio", s[i].large_ms / s[i].ms, true);
    fprintf(out, "}%s\n", i + 1 < ns ? "," : "");
  }
  fprintf(out, "  ]\n}\n");
}

/* ---- SVG ------------------------------------------------------------ */

enum { PANEL_W = 300, PANEL_H = 240, MARGIN = 55, COLS = 3 };

static bool same_panel(const BenchRow *a, const BenchRow *b) {
  return !a->cols && !b->cols && strcmp(a->rule, b->rule) == 0 && a->threads == b->threads;
}

static double panel_max(const BenchRow *rows, int nrows, const BenchRow *key) {
  double mx = 1.0;
  for (int i = 0; i < nrows; i++) {
    if (!same_panel(&rows[i], key)) continue;
    double v[3] = {bench_gbps(&rows[i], rows[i].gen_ms),
                   rows[i].hw_ms > 0 ? bench_gbps(&rows[i], rows[i].hw_ms) : 0,
                   bench_gbps(&rows[i], rows[i].bw_ms)};
    for (int k = 0; k < 3; k++)
      if (v[k] > mx) mx = v[k];
  }
  return mx * 1.15;
}

static void panel_series(FILE *out, const BenchRow *rows, int nrows, const BenchRow *key,
                         int which, const char *color, double x0, double y0, double ymax,
                         double lnmin, double lnmax) {
  fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
  for (int i = 0; i < nrows; i++) {
    const BenchRow *r = &rows[i];
    if (!same_panel(r, key)) continue;
    double ms = which == 0 ? r->gen_ms : which == 1 ? r->hw_ms : r->bw_ms;
    if (ms <= 0) continue;
    double fx = lnmax > lnmin ? (log((double)r->n) - lnmin) / (lnmax - lnmin) : 0.5;
    double x = x0 + MARGIN + fx * (PANEL_W - MARGIN - 15);
    double y = y0 + PANEL_H - MARGIN + 10 - bench_gbps(r, ms) / ymax * (PANEL_H - MARGIN - 20);
    fprintf(out, "%.1f,%.1f ", x, y);
  }
  fprintf(out, "\"/>\n");
}

static void panel(FILE *out, const BenchRow *rows, int nrows, const BenchRow *key,
                  int index, double lnmin, double lnmax) {
  double x0 = (index % COLS) * PANEL_W, y0 = (index / COLS) * PANEL_H + 30;
  double ymax = panel_max(rows, nrows, key);
  double bx = x0 + MARGIN, by = y0 + PANEL_H - MARGIN + 10;
  fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\">%s, %d thread%s</text>\n",
          bx, y0 + 14, key->rule, key->threads, key->threads > 1 ? "s" : "");
  fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
          bx, by, x0 + PANEL_W - 15, by);
  fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
          bx, by, bx, y0 + 20);
  fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.0f GB/s</text>\n", x0 + 2,
          y0 + 28, ymax);
  fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">N (log)</text>\n",
          x0 + PANEL_W - 60, by + 36);
  for (int i = 0; i < nrows; i++) { /* an N label under each point */
    if (!same_panel(&rows[i], key)) continue;
    double fx = lnmax > lnmin ? (log((double)rows[i].n) - lnmin) / (lnmax - lnmin) : 0.5;
    fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"9\" text-anchor=\"middle\">%.0fM</text>\n",
            bx + fx * (PANEL_W - MARGIN - 15), by + 24, (double)rows[i].n / (1024 * 1024));
  }
  fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\">0</text>\n", x0 + 30, by);
  panel_series(out, rows, nrows, key, 2, "#999999", x0, y0, ymax, lnmin, lnmax);
  panel_series(out, rows, nrows, key, 1, "#1f77b4", x0, y0, ymax, lnmin, lnmax);
  panel_series(out, rows, nrows, key, 0, "#d62728", x0, y0, ymax, lnmin, lnmax);
}

void bench_write_svg(FILE *out, const BenchRow *rows, int nrows) {
  int npanels = 0;
  double lnmin = INFINITY, lnmax = -INFINITY;
  for (int i = 0; i < nrows; i++) {
    if (rows[i].cols) continue;
    bool first = true;
    for (int k = 0; k < i; k++)
      if (same_panel(&rows[k], &rows[i])) first = false;
    npanels += first;
    lnmin = fmin(lnmin, log((double)rows[i].n));
    lnmax = fmax(lnmax, log((double)rows[i].n));
  }
  int prow = (npanels + COLS - 1) / COLS;
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          COLS * PANEL_W, prow * PANEL_H + 40);
  fprintf(out, "<text x=\"10\" y=\"18\" font-size=\"13\"><tspan fill=\"#d62728\">generated</tspan>"
               "  <tspan fill=\"#1f77b4\">hand-written C</tspan>  <tspan fill=\"#999999\">"
               "bandwidth limit</tspan>  (GB/s of the rule's traffic)</text>\n");
  int index = 0;
  for (int i = 0; i < nrows; i++) {
    bool first = !rows[i].cols;
    for (int k = 0; k < i && first; k++)
      if (same_panel(&rows[k], &rows[i])) first = false;
    if (first) panel(out, rows, nrows, &rows[i], index++, lnmin, lnmax);
  }
  fprintf(out, "</svg>\n");
}

/* bench_report.c: the benchmark report's statistics and verdicts: the
 * distribution-free confidence interval of a median (order statistics
 * against exact binomial sums, computed independently in Python:
 * math.comb), the kernel verdict (ok, MISS, MISS(ns), none), and the
 * table's summary line and the JSON fields that carry them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

/* x[i] = i: the interval's ends are the order statistics' indices. */
static void check_ci(int n, int lo_index, int hi_index, double coverage) {
  double *x = malloc((size_t)n * sizeof *x), lo, hi;
  assert_non_null(x);
  for (int i = 0; i < n; i++) x[i] = i;
  double c = bench_median_ci(x, n, &lo, &hi);
  assert_true(lo == lo_index);
  assert_true(hi == hi_index);
  assert_true(fabs(c - coverage) < 1e-12);
  free(x);
}

static void test_median_ci(void **state) {
  (void)state;
  check_ci(1, 0, 0, 0.0);  /* no interval reaches 95%: the whole range */
  check_ci(3, 0, 2, 0.75);
  check_ci(5, 0, 4, 0.9375);
  check_ci(6, 0, 5, 0.96875);
  check_ci(11, 1, 9, 0.98828125); /* the benchmark's least number of rounds */
  check_ci(31, 9, 21, 0.9705506265163422);
  check_ci(100, 39, 60, 0.9647997997822952);
}

static BenchRow row(int64_t n, double to_bw, double bw_hi, double to_hw, double hw_hi) {
  BenchRow r = {.n = n, .threads = 1, .bytes_per_element = 20, .gen_ms = 5, .hw_ms = 5,
                .bw_ms = 5, .to_bw = to_bw, .to_bw_lo = to_bw - 0.01, .to_bw_hi = bw_hi,
                .to_hw = to_hw, .to_hw_lo = to_hw - 0.01, .to_hw_hi = hw_hi, .reps = 11};
  snprintf(r.rule, sizeof r.rule, "lion");
  return r;
}

static void test_verdict(void **state) {
  (void)state;
  const int64_t M16 = 16 << 20;
  BenchRow r = row(M16, 1.0, 1.01, 1.02, 1.03);
  assert_string_equal(bench_kernel_verdict(&r), "ok");
  r = row(M16, 0.99, 0.995, 1.02, 1.03); /* below 1.0 with its whole interval */
  assert_string_equal(bench_kernel_verdict(&r), "MISS");
  r = row(M16, 0.99, 1.0, 1.02, 1.03); /* the interval reaches 1.0 */
  assert_string_equal(bench_kernel_verdict(&r), "MISS(ns)");
  r = row(M16, 1.02, 1.03, 0.98, 0.99); /* the hand-written side decides */
  assert_string_equal(bench_kernel_verdict(&r), "MISS");
  r = row(M16, 0.99, 1.01, 0.98, 0.99); /* the worse of the two */
  assert_string_equal(bench_kernel_verdict(&r), "MISS");
  r = row(M16, 1.01, 1.02, NAN, NAN); /* no hand-written loop */
  assert_string_equal(bench_kernel_verdict(&r), "ok");
  r = row(M16 - 1, 0.5, 0.6, 0.5, 0.6); /* no target below 16M */
  assert_string_equal(bench_kernel_verdict(&r), "-");
  r = row(M16, 0.5, 0.6, NAN, NAN);
  r.cols = 4096; /* nor for matrices */
  assert_string_equal(bench_kernel_verdict(&r), "-");
}

static char *report(void (*write)(FILE *, const BenchRow *, int), const BenchRow *rows, int n) {
  FILE *f = tmpfile();
  assert_non_null(f);
  write(f, rows, n);
  long len = ftell(f);
  rewind(f);
  char *text = calloc((size_t)len + 1, 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  return text;
}

static void json_kernels(FILE *f, const BenchRow *rows, int n) {
  bench_write_json(f, rows, n, NULL, 0, NULL, 0);
}

static void test_table_and_json(void **state) {
  (void)state;
  const int64_t M16 = 16 << 20;
  BenchRow rows[4] = {row(M16, 1.0, 1.01, 1.0, 1.01), row(M16, 0.99, 0.995, 1.0, 1.01),
                      row(M16, 0.99, 1.005, 1.0, 1.01), row(1 << 20, 0.5, 0.6, 0.5, 0.6)};
  char *t = report(bench_print_table, rows, 4);
  assert_non_null(strstr(t, "0.990x  0.980-0.995"));
  assert_non_null(strstr(t, "  MISS\n"));
  assert_non_null(strstr(t, "  MISS(ns)\n"));
  assert_non_null(strstr(t, "targets: 2 of 3 configurations missed, 1 of them significantly"));
  free(t);
  rows[0].to_hw = rows[0].to_hw_lo = rows[0].to_hw_hi = NAN;
  char *j = report(json_kernels, rows, 2);
  assert_non_null(strstr(j, "\"ratio_to_bandwidth\": 1, \"ratio_to_bandwidth_lo\": 0.99, "
                            "\"ratio_to_bandwidth_hi\": 1.01, \"ratio_to_handwritten\": null, "
                            "\"ratio_to_handwritten_lo\": null, \"ratio_to_handwritten_hi\": "
                            "null, \"verdict\": \"ok\"}"));
  assert_non_null(strstr(j, "\"ratio_to_bandwidth_hi\": 0.995, "));
  assert_non_null(strstr(j, "\"verdict\": \"MISS\"}"));
  free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_median_ci),
      cmocka_unit_test(test_verdict),
      cmocka_unit_test(test_table_and_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

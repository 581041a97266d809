/* e2e_parity.c: every stdlib rule against its parity fixtures.
 *
 * For each fixture in tests/parity/fixtures/ (one cmocka test each): JIT the
 * stdlib file the fixture names (optc_jit_compile), run it through
 * liboptrt on the fixture's two tensors with the fixture's hypers, feed
 * the recorded gradients (and, for rules that read f, the recorded loss
 * through the objective callback) step by step, and compare every
 * parameter after every step with the fixture within
 * |a - b| <= PARITY_REL * max(|b|, PARITY_FLOOR) (support/parity.h says
 * why that floor).  The gradients are the reference's, so our small
 * rounding differences cannot feed back through the problem.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optc.h"
#include "optrt.h"
#include "read_text.h"
#include "parity.h"
#include "parity_run.h"

#define FIXTURE_DIR OPTC_SOURCE_DIR "/tests/parity/fixtures"
#define STDLIB_DIR OPTC_SOURCE_DIR "/stdlib"

typedef struct Run {
  const char *name;  /* fixture file name */
  const char *rule;  /* stdlib file to run (NULL: the fixture's) */
  char *source;      /* its text, edited by the sensitivity tests */
  int lenient;       /* record the worst error instead of failing */
  int fused;         /* compile with the contract pass (optc's default) */
  ParityFixture fx;
  char diags[4096];  /* compiler diagnostics, for the failure message */
  OptcJit *jit;
  OptrtKernel *kernel;
  Optrt *opt;
  float *p, *g;      /* the host's parameter and gradient buffers [n] */
  int step;          /* current step, from 0 */
} Run;

static void collect_diag(void *user, const OptcDiagnostic *d) {
  Run *r = user;
  size_t used = strlen(r->diags);
  snprintf(r->diags + used, sizeof r->diags - used, "%s\n", d->rendered ? d->rendered : d->message);
}

static void compile_rule(Run *r) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", STDLIB_DIR, r->rule ? r->rule : r->fx.rule);
  size_t len = 0;
  if (!r->source) r->source = test_read_text(path, &len);
  if (!r->source) fail_msg("%s: cannot read %s", r->fx.setting, path);
  OptcOptions o;
  optc_options_init(&o);
  o.no_fp_contract = !r->fused;
  o.diag = collect_diag;
  o.diag_user = r;
  r->jit = optc_jit_compile(path, r->source, strlen(r->source), &o);
  if (!r->jit) fail_msg("%s: %s does not compile:\n%s", r->fx.setting, path, r->diags);
}

/* Fails the test with the runtime's malloc'd error text, freeing it. */
static void fail_with(const char *setting, const char *what, char *err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s", err ? err : "(no message)");
  free(err);
  fail_msg("%s: %s: %s", setting, what, msg);
}

static void create_optimizer(Run *r) {
  char *err = NULL;
  r->kernel = optrt_wrap_descriptor(optc_jit_descriptor(r->jit), &err);
  if (!r->kernel) fail_with(r->fx.setting, "optrt_wrap_descriptor", err);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  r->opt = optrt_create(r->kernel, &cfg, &err);
  if (!r->opt) fail_with(r->fx.setting, "optrt_create", err);
  parity_attach(r->opt, &r->fx, &r->p, &r->g);
}

/* The objective of rules that read f: the recorded loss and gradient. */
static int recorded_value_grad(void *user, double *loss, int want_grad) {
  Run *r = user;
  *loss = r->fx.f[r->step];
  if (want_grad)
    memcpy(r->g, r->fx.g + (int64_t)r->step * r->fx.n, (size_t)r->fx.n * sizeof(float));
  return 0;
}

static void take_step(Run *r) {
  const ParityFixture *fx = &r->fx;
  memcpy(r->g, fx->g + (int64_t)r->step * fx->n, (size_t)fx->n * sizeof(float));
  int rc;
  if (optc_jit_descriptor(r->jit)->needs & OPTK_NEED_LOSS) {
    OptrtObjective obj = {r, recorded_value_grad, NULL, NULL, NULL};
    rc = optrt_step_objective(r->opt, &obj);
  } else {
    rc = optrt_step(r->opt);
  }
  if (rc) fail_msg("%s: step %d: %s", fx->setting, r->step + 1, optrt_last_error(r->opt));
}

/* Compares after step r->step; returns the worst |a - b| / tolerance. */
static double compare_step(const Run *r) {
  const ParityFixture *fx = &r->fx;
  const float *want = fx->p + (int64_t)r->step * fx->n;
  double worst = 0;
  for (int64_t i = 0; i < fx->n; i++) {
    double a = r->p[i], b = want[i];
    double rel = r->fused ? PARITY_REL_FUSED : PARITY_REL;
    double ratio = fabs(a - b) / (rel * (fabs(b) > PARITY_FLOOR ? fabs(b) : PARITY_FLOOR));
    if (!r->lenient && !(ratio <= 1))
      fail_msg("%s (%s): step %d, element %lld: got %.9g, want %.9g (%.2f x tolerance)",
               fx->setting, fx->rule, r->step + 1, (long long)i, a, b, ratio);
    if (ratio > worst) worst = ratio;
  }
  return worst;
}

static int setup(void **state) {
  Run *r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->name = *state;
  *state = r;
  return 0;
}

/* Frees the compiled rule and the optimizer, keeping the fixture. */
static void release_run(Run *r) {
  optrt_destroy(r->opt);
  optrt_kernel_close(r->kernel);
  optc_jit_free(r->jit);
  free(r->p);
  free(r->g);
  r->opt = NULL;
  r->kernel = NULL;
  r->jit = NULL;
  r->p = r->g = NULL;
}

/* cmocka runs this after a failed test too, so nothing leaks. */
static int teardown(void **state) {
  Run *r = *state;
  release_run(r);
  free(r->source);
  parity_free(&r->fx);
  free(r);
  return 0;
}

/* Runs every step of the loaded fixture; returns the worst error as a
 * fraction of the tolerance. */
static double run_steps(Run *r) {
  compile_rule(r);
  create_optimizer(r);
  double worst = 0;
  for (r->step = 0; r->step < r->fx.steps; r->step++) {
    take_step(r);
    double w = compare_step(r);
    if (w > worst) worst = w;
  }
  return worst;
}

static void load_fixture(Run *r, const char *name) {
  char path[1024], err[512];
  snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
  if (parity_load(path, &r->fx, err, sizeof err)) fail_msg("%s", err);
}

static void test_fixture(void **state) {
  Run *r = *state;
  load_fixture(r, r->name);
  double worst = run_steps(r);
  release_run(r);
  r->fused = 1;
  double fused = run_steps(r);
  print_message("%-32s worst error %.3f of tolerance; fused multiply-add %.3f of its\n",
                r->fx.setting, worst, fused);
}

/* The comparison must tell apart rules that differ only in a detail the
 * .opt files copy from their reference: `file` edited by replacing `from`
 * with `to` must miss `fixture` by more than the tolerance. */
static void expect_mismatch(Run *r, const char *fixture, const char *file, const char *from,
                            const char *to) {
  load_fixture(r, fixture);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", STDLIB_DIR, file);
  size_t len = 0;
  char *text = test_read_text(path, &len);
  assert_non_null(text);
  char *body = strstr(text, "update {"); /* skip the header comment's equations */
  char *at = body ? strstr(body, from) : NULL;
  if (!at) {
    free(text);
    fail_msg("the update of %s no longer contains '%s'", file, from);
  }
  size_t cap = len + strlen(to) + 1;
  r->source = malloc(cap);
  assert_non_null(r->source);
  snprintf(r->source, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  free(text);
  r->rule = file;
  r->lenient = 1;
  double worst = run_steps(r);
  print_message("%s edited: worst error %.1f x tolerance\n", file, worst);
  assert_true(worst > 1.0);
}

/* PyTorch 1.13's NAdam counts mu twice in its second bias correction;
 * PyTorch 2.0's formula must not pass the 1.13 fixture. */
static void test_detects_nadam_formula(void **state) {
  expect_mismatch(*state, "nadam_default.fix", "nadam.opt", "mu_product * mu * mu_next",
                  "mu_product * mu_next");
}

/* Adam's eps outside sqrt(v) / sqrt(1 - beta2^t) vs inside the root. */
static void test_detects_eps_placement(void **state) {
  expect_mismatch(*state, "adam_large_eps.fix", "adam.opt", "sqrt(v) / sqrt(1 - beta2^t) + eps",
                  "sqrt(v / (1 - beta2^t) + eps)");
}

/* AMSGrad's running maximum vs plain Adam on the same fixture. */
static void test_detects_amsgrad_max(void **state) {
  expect_mismatch(*state, "amsgrad_short_beta2.fix", "amsgrad.opt", "vmax = max(vmax, v)",
                  "vmax = v");
}

int main(void) {
  static const struct {
    const char *name;
    CMUnitTestFunction fn;
  } extra[] = {
      {"detects_nadam_formula", test_detects_nadam_formula},
      {"detects_eps_placement", test_detects_eps_placement},
      {"detects_amsgrad_max", test_detects_amsgrad_max},
  };
  const int nextra = (int)(sizeof extra / sizeof extra[0]);
  char **names = NULL;
  int count = parity_list(FIXTURE_DIR, &names);
  if (count <= 0) {
    fprintf(stderr, "no fixtures in %s\n", FIXTURE_DIR);
    return 1;
  }
  struct CMUnitTest *tests = calloc((size_t)(count + nextra), sizeof *tests);
  if (!tests) return 1;
  for (int i = 0; i < count + nextra; i++) {
    tests[i].name = i < count ? names[i] : extra[i - count].name;
    tests[i].test_func = i < count ? test_fixture : extra[i - count].fn;
    tests[i].setup_func = setup;
    tests[i].teardown_func = teardown;
    tests[i].initial_state = i < count ? names[i] : NULL;
  }
  int failed = _cmocka_run_group_tests("e2e_parity", tests, (size_t)(count + nextra), NULL, NULL);
  free(tests);
  parity_list_free(names);
  return failed;
}

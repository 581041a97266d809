/* rt_minimize.c: optrt_minimize and optrt_task_objective, driven by the
 * hand-written kernels of tests/unit/support/hand_kernels.c on built-in
 * tasks: Newton on the MGH problems, steepest descent with a strong Wolfe
 * line search, the stop tests (gradient norm, relative decrease,
 * iterations, cancellation), the evaluation counts against an independent
 * count of the objective's calls, and the failure paths.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hand_kernels.h"
#include "optrt.h"
#include "optrt_minimize.h"
#include "optrt_tasks.h"

/* A task bound to float buffers, an optimizer over them, and a counting
 * layer around the task's objective. */
typedef struct Rig {
  OptrtTask *task;
  OptrtKernel *kernel;
  Optrt *opt;
  float *x[4], *g[4];
  OptrtObjective inner, outer;
  int calls, grads, hvps, hessians;
  int fail_at;    /* value_grad fails at this call (1-based; 0: never) */
  int nan_at;     /* value_grad returns a NaN loss from this call on */
} Rig;

static int count_value_grad(void *user, double *loss, int want_grad) {
  Rig *r = user;
  r->calls++;
  r->grads += want_grad != 0;
  if (r->fail_at && r->calls == r->fail_at) return 1;
  int rc = r->inner.value_grad(r->inner.user, loss, want_grad);
  if (r->nan_at && r->calls >= r->nan_at) *loss = NAN;
  return rc;
}

static int count_hvp(void *user, const float *const *v, float *const *hv) {
  Rig *r = user;
  r->hvps++;
  return r->inner.hvp(r->inner.user, v, hv);
}

static int count_hessian(void *user, int param, double *out) {
  Rig *r = user;
  r->hessians++;
  return r->inner.hessian(r->inner.user, param, out);
}

static Rig *rig_new(const char *task, const char *options, const OptkDescriptor *d) {
  Rig *r = calloc(1, sizeof *r);
  char *err = NULL;
  r->task = optrt_task_create(task, 1, options, &err);
  assert_non_null(r->task);
  r->kernel = optrt_wrap_descriptor(d, &err);
  assert_non_null(r->kernel);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  r->opt = optrt_create(r->kernel, &cfg, &err);
  assert_non_null(r->opt);
  int grp = optrt_add_group(r->opt, NULL);
  for (int i = 0; i < optrt_task_num_tensors(r->task); i++) {
    int64_t rows, cols;
    optrt_task_tensor(r->task, i, NULL, &rows, &cols);
    r->x[i] = calloc((size_t)(rows * cols), sizeof(float));
    r->g[i] = calloc((size_t)(rows * cols), sizeof(float));
    assert_true(optrt_add_param(r->opt, grp, r->x[i], r->g[i], rows, cols) >= 0);
  }
  optrt_task_init(r->task, r->x);
  assert_int_equal(optrt_task_objective(r->task, r->x, r->g, &r->inner), 0);
  r->outer = (OptrtObjective){r, count_value_grad, r->inner.hvp ? count_hvp : NULL,
                              r->inner.hessian ? count_hessian : NULL, NULL};
  return r;
}

static void rig_free(Rig *r) {
  optrt_destroy(r->opt);
  optrt_kernel_close(r->kernel);
  for (int i = 0; i < 4; i++) free(r->x[i]), free(r->g[i]);
  optrt_task_free(r->task);
  free(r);
}

static void assert_counts(const Rig *r, const OptrtMinimizeReport *rep) {
  assert_int_equal(rep->fevals, r->calls);
  assert_int_equal(rep->gevals, r->grads);
  assert_int_equal(rep->hvps, r->hvps);
  assert_int_equal(rep->hessians, r->hessians);
}

static void test_defaults_and_texts(void **state) {
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  assert_true(o.max_iters == 1000 && o.gtol == 1e-6 && o.ftol == 0 && !o.progress);
  assert_string_equal(optrt_minimize_stop_text(OPTRT_MIN_GTOL), "gradient norm below gtol");
  assert_string_equal(optrt_minimize_stop_text((OptrtMinStop)42), "unknown stop reason");
}

/* Newton from (-1.2, 1) on Rosenbrock: a Hessian per step, one evaluation
 * per step, and the float point lands on (1, 1). */
static void test_newton_rosenbrock(void **state) {
  Rig *r = rig_new("mgh_rosenbrock", NULL, &hk_newton);
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.gtol = 1e-10;
  o.max_iters = 30;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
  assert_true(rep.gnorm <= 1e-10 && rep.iters <= 30);
  assert_int_equal(rep.hessians, rep.iters);
  assert_int_equal(rep.fevals, rep.iters + 1);
  assert_counts(r, &rep);
  assert_true(fabs(r->x[0][0] - 1.0f) < 1e-6 && fabs(r->x[0][1] - 1.0f) < 1e-6);
  rig_free(r);
}

/* Steepest descent with More-Thuente on a well-conditioned quadratic. */
static void test_wolfe_descent(void **state) {
  Rig *r = rig_new("quadratic", "dim=10,cond=4", &hk_ls_wolfe);
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.gtol = 1e-3;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
  assert_true(rep.iters >= 2 && rep.iters < 100);
  /* each step evaluates at least its accepted trial, which the driver reuses */
  assert_true(rep.fevals >= rep.iters + 1);
  assert_true(rep.fevals < 2 * rep.iters + 1); /* the accepted trial is not re-evaluated */
  assert_counts(r, &rep);
  double f;
  optrt_task_eval(r->task, (const float *const *)r->x, NULL, &f);
  assert_true(f == rep.loss);
  rig_free(r);
}

static void test_max_iters(void **state) {
  Rig *r = rig_new("quadratic", "dim=10", &hk_sgdm);
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.max_iters = 5;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.stop, OPTRT_MIN_MAX_ITERS);
  assert_int_equal(rep.iters, 5);
  assert_int_equal(rep.fevals, 6);
  assert_int_equal(optrt_step_count(r->opt, 0), 5);
  assert_counts(r, &rep);
  o.max_iters = 0; /* no step at all: evaluates the start only */
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_true(rep.iters == 0 && rep.fevals == 1 && rep.stop == OPTRT_MIN_MAX_ITERS);
  rig_free(r);
}

typedef struct Progress {
  int calls;
  int64_t last_iter;
  double last_loss;
} Progress;

static int cancel_at_3(void *user, int64_t iter, double loss, double gnorm) {
  Progress *p = user;
  assert_int_equal(iter, p->calls);
  assert_true(isfinite(loss) && gnorm > 0);
  p->calls++;
  p->last_iter = iter;
  p->last_loss = loss;
  return iter == 3;
}

static void test_cancel(void **state) {
  Rig *r = rig_new("rosenbrock", "dim=4", &hk_sgdm);
  optrt_set_hyper(r->opt, 0, "lr", 1e-4);
  Progress p = {0, -1, 0};
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.progress = cancel_at_3;
  o.progress_user = &p;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.stop, OPTRT_MIN_CANCELLED);
  assert_int_equal(rep.iters, 3);
  assert_int_equal(p.calls, 4);
  assert_true(p.last_loss == rep.loss);
  rig_free(r);
}

static void test_ftol(void **state) {
  Rig *r = rig_new("quadratic", "dim=10", &hk_sgdm);
  optrt_set_hyper(r->opt, 0, "lr", 1e-9);
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.ftol = 1e-6;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.stop, OPTRT_MIN_FTOL);
  assert_int_equal(rep.iters, 1);
  rig_free(r);
}

static void test_hvp_counts(void **state) {
  Rig *r = rig_new("quadratic", "dim=6,cond=3", &hk_hvpstep);
  optrt_set_hyper(r->opt, 0, "lr", 0.05);
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.max_iters = 7;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, &rep), 0);
  assert_int_equal(rep.hvps, 7);
  assert_counts(r, &rep);
  rig_free(r);
}

static void test_failures(void **state) {
  Rig *r = rig_new("quadratic", "dim=10", &hk_sgdm);
  r->fail_at = 3;
  OptrtMinimizeReport rep;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, NULL, &rep), -1);
  assert_int_equal(rep.stop, OPTRT_MIN_FAILED);
  assert_int_equal(rep.iters, 2);
  assert_string_equal(optrt_last_error(r->opt), "minimize: the objective failed after 2 steps");

  r->fail_at = 0;
  r->calls = 0;
  r->nan_at = 2;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, NULL, &rep), -1);
  assert_int_equal(rep.stop, OPTRT_MIN_NONFINITE);
  assert_string_equal(optrt_last_error(r->opt), "minimize: non-finite loss after 1 steps");

  OptrtObjective none = {NULL, NULL, NULL, NULL, NULL};
  assert_int_equal(optrt_minimize(r->opt, &none, NULL, &rep), -1);
  assert_string_equal(optrt_last_error(r->opt), "minimize: the objective has no value_grad");
  OptrtMinimizeOptions o;
  optrt_minimize_options_init(&o);
  o.gtol = NAN;
  assert_int_equal(optrt_minimize(r->opt, &r->outer, &o, NULL), -1);
  assert_string_equal(optrt_last_error(r->opt), "minimize: gtol and ftol must be >= 0");
  assert_int_equal(optrt_minimize(NULL, &r->outer, NULL, &rep), -1);
  rig_free(r);
}

/* The task objective's hessian(param) is the diagonal block of the flat
 * Hessian; its hvp skips NULL blocks. */
static void test_task_objective_blocks(void **state) {
  char *err = NULL;
  OptrtTask *t = optrt_task_create("softmax", 2, "n=20,d=3,k=2", &err);
  float w[6], b[2], gw[6], gb[2], v0[6], hv0[6], hv1[2];
  float *x[2] = {w, b}, *g[2] = {gw, gb};
  optrt_task_init(t, x);
  for (int i = 0; i < 6; i++) w[i] = 0.1f * (float)(i - 2), v0[i] = 1.0f;
  b[0] = 0.3f, b[1] = -0.2f;
  OptrtObjective obj;
  assert_int_equal(optrt_task_objective(t, x, g, &obj), 0);
  double full[64], blk[36], bias[4], loss;
  double flat[8] = {w[0], w[1], w[2], w[3], w[4], w[5], b[0], b[1]};
  optrt_task_hessian_d(t, flat, full);
  assert_int_equal(obj.hessian(obj.user, 0, blk), 0);
  assert_int_equal(obj.hessian(obj.user, 1, bias), 0);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) assert_true(blk[i * 6 + j] == full[i * 8 + j]);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) assert_true(bias[i * 2 + j] == full[(6 + i) * 8 + 6 + j]);
  assert_int_equal(obj.hessian(obj.user, 2, blk), -1);
  const float *v[2] = {v0, NULL};
  float *hv[2] = {hv0, hv1};
  assert_int_equal(obj.hvp(obj.user, v, hv), 0);
  for (int i = 0; i < 8; i++) {
    double acc = 0;
    for (int j = 0; j < 6; j++) acc += full[i * 8 + j];
    assert_true(fabs((i < 6 ? hv0[i] : hv1[i - 6]) - acc) < 1e-6);
  }
  assert_int_equal(obj.value_grad(obj.user, &loss, 1), 0);
  assert_true(isfinite(loss));
  assert_int_equal(optrt_task_objective(t, x, NULL, &obj), -1);
  optrt_task_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_texts),
      cmocka_unit_test(test_newton_rosenbrock),
      cmocka_unit_test(test_wolfe_descent),
      cmocka_unit_test(test_max_iters),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_ftol),
      cmocka_unit_test(test_hvp_counts),
      cmocka_unit_test(test_failures),
      cmocka_unit_test(test_task_objective_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

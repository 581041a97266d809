/* rt_linalg.c: MATOPs against naive loops (GEMM with both transposes,
 * IDENTITY, COPY, TRANSPOSE, ROWMEAN, COLMEAN (also accumulating, from f32
 * and f64), INV_ROOT, EIGVECS, SOLVE
 * and its reported sytrf fall-back), a preconditioned rule, host calls
 * (dense Hessian + solve = one Newton step, hvp), line searches (Armijo,
 * strong Wolfe, a non-descent direction restoring p), and one optimizer
 * running different rules per group that checkpoints and resumes bit for
 * bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hand_kernels.h"
#include "linesearch.h"
#include "optrt.h"
#include "rt_util.h"

static OptrtKernel *wrap(const OptkDescriptor *d) {
  OptrtKernel *k = optrt_wrap_descriptor(d, NULL);
  assert_non_null(k);
  return k;
}

static void near(double got, double want, double tol) {
  if (!(fabs(got - want) <= tol * (1 + fabs(want)))) fail_msg("got %.17g, want %.17g", got, want);
}

static const double *state_d(Optrt *o, const char *name) {
  return optrt_state_data(o, 0, 0, name, NULL, NULL);
}

enum { R = 7, C = 4 };

static void test_allmat(void **state) {
  OptrtKernel *k = wrap(&hk_allmat);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[R * C], g[R * C] = {0};
  rtu_fill(p, R * C, 9);
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, R, C);
  assert_int_equal(optrt_step(o), 0);
  double ptp[C * C], cm[C];
  for (int i = 0; i < C; i++)
    for (int j = 0; j < C; j++) {
      double s = 0;
      for (int r = 0; r < R; r++) s += (double)p[r * C + i] * p[r * C + j];
      ptp[i * C + j] = s;
      near(state_d(o, "ptp")[i * C + j], s, 1e-12);
      near(state_d(o, "eye")[i * C + j], i == j ? 2.5 : 0, 0);
      near(state_d(o, "neg")[i * C + j], i == j ? -1 : 0, 0);
    }
  const float *ppt = optrt_state_data(o, 0, 0, "ppt", NULL, NULL);
  for (int i = 0; i < R; i++)
    for (int j = 0; j < R; j++) {
      double s = 0;
      for (int c = 0; c < C; c++) s += (double)p[i * C + c] * p[j * C + c];
      near(ppt[i * R + j], s, 1e-5);
    }
  assert_memory_equal(optrt_state_data(o, 0, 0, "copy", NULL, NULL), p, sizeof p);
  const float *rmean = optrt_state_data(o, 0, 0, "rmean", NULL, NULL);
  for (int r = 0; r < R; r++) {
    double s = 0;
    for (int c = 0; c < C; c++) {
      s += p[r * C + c];
      near(state_d(o, "tr")[c * R + r], p[r * C + c], 0);
    }
    near(rmean[r], s / C, 1e-6);
  }
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int r = 0; r < R; r++) s += p[r * C + c];
    cm[c] = s / R;
    near(state_d(o, "cmean")[c], cm[c], 1e-14);
    near(state_d(o, "cmt")[c], cm[c], 1e-14);
  }
  /* iroot: iroot * iroot * ptp = I */
  const double *ir = state_d(o, "iroot");
  for (int i = 0; i < C; i++)
    for (int j = 0; j < C; j++) {
      double s = 0;
      for (int a = 0; a < C; a++)
        for (int b = 0; b < C; b++) s += ir[i * C + a] * ir[a * C + b] * ptp[b * C + j];
      near(s, i == j, 1e-9);
    }
  /* eigvecs: columns v with ptp v = lambda v, ascending lambda, unit norm */
  const double *ev = state_d(o, "evec");
  double prev = -1;
  for (int j = 0; j < C; j++) {
    double lam = 0, nn = 0;
    for (int a = 0; a < C; a++) lam += ev[a * C + j] * (ptp[0 * C + a]);
    lam /= ev[0 * C + j];
    for (int i = 0; i < C; i++) {
      double s = 0;
      for (int a = 0; a < C; a++) s += ptp[i * C + a] * ev[a * C + j];
      near(s, lam * ev[i * C + j], 1e-9);
      nn += ev[i * C + j] * ev[i * C + j];
    }
    near(nn, 1, 1e-12);
    assert_true(lam >= prev);
    prev = lam;
  }
  /* solves: ptp x = cm; -I y = cm (through the fall-back) */
  for (int i = 0; i < C; i++) {
    double s = 0;
    for (int a = 0; a < C; a++) s += ptp[i * C + a] * state_d(o, "sol")[a];
    near(s, cm[i], 1e-10);
    near(((const float *)optrt_state_data(o, 0, 0, "sol2", NULL, NULL))[i], -cm[i], 1e-6);
  }
  assert_int_equal(optrt_solve_fallbacks(o), 1);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* The sum of a row in the runtime's documented order: element j into
 * running sum j % 8, the eight added pairwise, then the remainder in
 * order. */
static double row_sum_ref(const float *row, int c) {
  double s[8] = {0};
  int j = 0;
  for (; j + 8 <= c; j += 8)
    for (int l = 0; l < 8; l++) s[l] += row[j + l];
  double sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < c; j++) sum += row[j];
  return sum;
}

/* Row and column means of an MR x MC matrix from f32 and from f64,
 * plain and accumulating over two steps, bit for bit against sums in the
 * documented orders (rows: row_sum_ref; columns: row after row). */
static void means_shape(int MR, int MC) {
  OptrtKernel *k = wrap(&hk_means);
  Optrt *o = optrt_create(k, NULL, NULL);
  float *p = malloc(sizeof(float) * (size_t)(MR * MC)), *g = calloc((size_t)(MR * MC), sizeof(float));
  double *rm = malloc(sizeof(double) * (size_t)MR), *cm = calloc((size_t)MC, sizeof(double));
  double *rm_acc = calloc((size_t)MR, sizeof(double)), *cm_acc = calloc((size_t)MC, sizeof(double));
  assert_true(p && g && rm && cm && rm_acc && cm_acc);
  rtu_fill(p, MR * MC, 5 + (uint64_t)MC);
  for (int i = 0; i < MR * MC; i++) /* magnitudes 2^-40 to 2^40: double sums round */
    p[i] = ldexpf(p[i], (int)((i * 37) % 81) - 40);
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, MR, MC);
  for (int r = 0; r < MR; r++) rm[r] = row_sum_ref(p + r * MC, MC) / MC;
  for (int r = 0; r < MR; r++)
    for (int c = 0; c < MC; c++) cm[c] += p[r * MC + c];
  for (int c = 0; c < MC; c++) cm[c] /= MR;
  for (int step = 1; step <= 2; step++) {
    assert_int_equal(optrt_step(o), 0);
    const float *cmf = optrt_state_data(o, 0, 0, "cm", NULL, NULL);
    const float *rmf = optrt_state_data(o, 0, 0, "rmf", NULL, NULL);
    for (int r = 0; r < MR; r++) {
      rm_acc[r] = 0.25 * rm[r] + 0.5 * rm_acc[r];
      assert_true(state_d(o, "rm")[r] == rm_acc[r]); /* from f64 */
      assert_true(rmf[r] == (float)rm[r]);             /* from f32, beside a COLMEAN */
      assert_true(state_d(o, "rms")[r] == rm[r]);      /* from f32, alone */
    }
    for (int c = 0; c < MC; c++) {
      cm_acc[c] = (float)(0.25 * cm[c] + 0.5 * cm_acc[c]);
      assert_true(cmf[c] == (float)cm_acc[c]);
      cm_acc[c] = cmf[c];
      assert_true(state_d(o, "cmd")[c] == cm[c]);
    }
  }
  optrt_destroy(o);
  optrt_kernel_close(k);
  free(p), free(g), free(rm), free(cm), free(rm_acc), free(cm_acc);
}

/* Shapes around the runtime's eight running sums and its four rows at a
 * time: rows 1 to 9 (a whole group of four and a remainder), columns
 * below, at and past multiples of eight. */
static void test_means(void **state) {
  (void)state;
  static const int shapes[][2] = {{6, 19}, {1, 1}, {3, 8}, {4, 16}, {5, 7},
                                  {9, 33}, {8, 64}, {7, 1}, {2, 9}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    means_shape(shapes[i][0], shapes[i][1]);
}

/* p -= lr * (g g^T)^(-1/2) g with eps floor 1e-6 on eigenvalues: with a
 * rank-one g g^T (one column), R g = g / |g| (up to the floor). */
static void test_precond(void **state) {
  OptrtKernel *k = wrap(&hk_precond);
  Optrt *o = optrt_create(k, NULL, NULL);
  enum { N = 5 };
  float p[N] = {0}, g[N] = {3, 0, 4, 0, 0};
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, N, 1);
  assert_int_equal(optrt_step(o), 0);
  for (int i = 0; i < N; i++) near(p[i], -0.1 * g[i] / 5.0, 1e-6);
  const double *L = state_d(o, "L");
  near(L[0 * N + 2], 12, 0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* f(x) = 0.5 x' A x - b' x with A SPD (n = 3). */
typedef struct Quad {
  float *x, *g;
  int evals;
  double nan_beyond; /* f is NaN when x[0] > this */
} Quad;

static const double QA[3][3] = {{4, 1, 0}, {1, 3, 0.5}, {0, 0.5, 2}};
static const double QB[3] = {1, -2, 0.5};

static int quad_fg(void *user, double *loss, int want_grad) {
  Quad *q = user;
  double f = 0;
  for (int i = 0; i < 3; i++) {
    double ax = 0;
    for (int j = 0; j < 3; j++) ax += QA[i][j] * q->x[j];
    f += 0.5 * q->x[i] * ax - QB[i] * q->x[i];
    if (want_grad) q->g[i] = (float)(ax - QB[i]);
  }
  q->evals++;
  *loss = q->x[0] > q->nan_beyond ? NAN : f;
  return 0;
}

static int quad_hvp(void *user, const float *const *v, float *const *hv) {
  for (int i = 0; i < 3 && v[0] && hv[0]; i++) {
    double s = 0;
    for (int j = 0; j < 3; j++) s += QA[i][j] * v[0][j];
    hv[0][i] = (float)s;
  }
  return 0;
}

static int quad_hessian(void *user, int param, double *out) {
  for (int i = 0; i < 9; i++) out[i] = QA[i / 3][i % 3];
  return param == 0 ? 0 : -1;
}

static void test_newton_one_step(void **state) {
  OptrtKernel *k = wrap(&hk_newton);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {5, -3, 2}, g[3];
  Quad q = {x, g, 0, INFINITY};
  OptrtObjective obj = {&q, quad_fg, NULL, quad_hessian, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  assert_int_equal(optrt_step(o), -1);
  assert_non_null(strstr(optrt_last_error(o), "needs a dense Hessian: call optrt_step_objective"));
  OptrtObjective nohess = {&q, quad_fg, NULL, NULL, NULL};
  assert_int_equal(optrt_step_objective(o, &nohess), -1);
  assert_int_equal(optrt_step_objective(o, &obj), 0);
  /* the minimiser solves A x = b */
  for (int i = 0; i < 3; i++) {
    double ax = 0;
    for (int j = 0; j < 3; j++) ax += QA[i][j] * x[j];
    near(ax, QB[i], 1e-5);
  }
  assert_int_equal(optrt_solve_fallbacks(o), 0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_hvp(void **state) {
  OptrtKernel *k = wrap(&hk_hvpstep);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {1, 1, 1}, g[3], x0[3];
  memcpy(x0, x, sizeof x);
  Quad q = {x, g, 0, INFINITY};
  OptrtObjective obj = {&q, quad_fg, quad_hvp, NULL, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  assert_int_equal(optrt_step_objective(o, &obj), 0);
  for (int i = 0; i < 3; i++) {
    double hg = 0;
    for (int j = 0; j < 3; j++) hg += QA[i][j] * g[j];
    near(x[i], x0[i] - 0.1 * (float)hg, 1e-6);
  }
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void run_linesearch(const OptkDescriptor *d) {
  OptrtKernel *k = wrap(d);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {2, 2, 2}, g[3];
  Quad q = {x, g, 0, INFINITY};
  OptrtObjective obj = {&q, quad_fg, NULL, NULL, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  assert_int_equal(optrt_step(o), -1); /* needs an objective */
  double f0 = 0, f1 = 0;
  quad_fg(&q, &f0, 1);
  /* steepest descent with a line search: every step succeeds until the
   * gradient is down to float rounding */
  for (int s = 0; s < 60 && fabs(g[0]) + fabs(g[1]) + fabs(g[2]) > 1e-4; s++)
    if (optrt_step_objective(o, &obj)) fail_msg("step %d: %s", s, optrt_last_error(o));
  quad_fg(&q, &f1, 0);
  double alpha = 0;
  optrt_scalar_state(o, 0, 0, "alpha", &alpha);
  assert_true(alpha > 0);
  assert_true(f1 < f0);
  for (int i = 0; i < 3; i++) assert_true(fabs(g[i]) <= 1e-4); /* converged */
  const char *text = NULL;
  assert_int_equal(optrt_linesearch_status(o, 0, &text), OPTRT_LS_OK);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_linesearch_armijo(void **state) { run_linesearch(&hk_ls_armijo); }
static void test_linesearch_wolfe(void **state) { run_linesearch(&hk_ls_wolfe); }

static void test_linesearch_failure_restores(void **state) {
  OptrtKernel *k = wrap(&hk_ls_bad);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {2, 2, 2}, g[3], x0[3] = {2, 2, 2};
  Quad q = {x, g, 0, INFINITY};
  OptrtObjective obj = {&q, quad_fg, NULL, NULL, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  const char *text = NULL;
  assert_int_equal(optrt_linesearch_status(o, 0, &text), -1);
  assert_string_equal(text, "no line search yet");
  assert_int_equal(optrt_step_objective(o, &obj), -1);
  assert_non_null(strstr(optrt_last_error(o), "group 0 (ls_bad): line search failed: "));
  assert_non_null(strstr(optrt_last_error(o), "parameters restored"));
  assert_memory_equal(x, x0, sizeof x);
  assert_int_equal(optrt_linesearch_status(o, 0, &text), OPTRT_LS_NOT_DESCENT);
  double f = 0;
  float gx[3];
  memcpy(gx, g, sizeof gx);
  quad_fg(&q, &f, 1); /* g was refreshed at the restored point */
  assert_memory_equal(gx, g, sizeof gx);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* f is NaN beyond x0 = 1.5: the first trial (alpha 1) lands there, the
 * search backtracks and still succeeds. */
static void test_linesearch_nan_region(void **state) {
  OptrtKernel *k = wrap(&hk_ls_armijo);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {1, 0, 0}, g[3];
  Quad q = {x, g, 0, 1.5};
  OptrtObjective obj = {&q, quad_fg, NULL, NULL, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  q.evals = 0;
  assert_int_equal(optrt_step_objective(o, &obj), 0);
  double alpha = 0;
  optrt_scalar_state(o, 0, 0, "alpha", &alpha);
  assert_true(alpha > 0 && alpha < 1);
  assert_true(x[0] <= 1.5f);
  assert_true(q.evals >= 3); /* start, the NaN trial, the accepted one */
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static int failing_hvp(void *user, const float *const *v, float *const *hv) { return 7; }

static void test_failing_callback(void **state) {
  OptrtKernel *k = wrap(&hk_hvpstep);
  Optrt *o = optrt_create(k, NULL, NULL);
  float x[3] = {1, 1, 1}, g[3];
  Quad q = {x, g, 0, INFINITY};
  OptrtObjective obj = {&q, quad_fg, failing_hvp, NULL, NULL};
  optrt_add_param(o, optrt_add_group(o, NULL), x, g, 3, 0);
  assert_int_equal(optrt_step_objective(o, &obj), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (hvpstep): the objective's hvp failed");
  assert_true(x[0] == 1.0f);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* Many matrices: MATOPs of different tensors run in parallel; results and
 * the fall-back count match the one-thread run, bit for bit. */
static void allmat_many(int threads, float *p, int64_t *fallbacks, double *ptp_out) {
  OptrtKernel *k = wrap(&hk_allmat);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  Optrt *o = optrt_create(k, &cfg, NULL);
  float g[8 * 6] = {0};
  int gr = optrt_add_group(o, NULL);
  for (int i = 0; i < 5; i++) optrt_add_param(o, gr, p + i * 48, g, 8, 6);
  assert_int_equal(optrt_step(o), 0);
  for (int i = 0; i < 5; i++)
    memcpy(ptp_out + i * 36, optrt_state_data(o, gr, i, "iroot", NULL, NULL), 36 * sizeof(double));
  *fallbacks = optrt_solve_fallbacks(o);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_parallel_matops(void **state) {
  float p[5 * 48];
  rtu_fill(p, 5 * 48, 77);
  double a[5 * 36], b[5 * 36];
  int64_t fa = 0, fb = 0;
  allmat_many(1, p, &fa, a);
  allmat_many(3, p, &fb, b);
  assert_int_equal(fa, 5);
  assert_int_equal(fb, 5);
  assert_memory_equal(a, b, sizeof a);
}

/* x = Z \ b with Z = 0 fails in every tensor; the error names the first. */
static void test_parallel_matop_error(void **state) {
  static const OptkBuffer B[] = {{"p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
                                 {"g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
                                 {"Z", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_COLS, OPTK_DIM_COLS, 0},
                                 {"x", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_COLS, OPTK_DIM_ONE, 0}};
  static const OptkOp O[] = {{OPTK_OP_MATOP, OPTK_MAT_SOLVE, 0, 0, 2, 3, 3, -1}};
  OptkDescriptor d = hk_allmat;
  d.name = "singular";
  d.bufs = B;
  d.nbuf = 4;
  d.ops = O;
  d.nops = 1;
  for (int threads = 1; threads <= 2; threads++) {
    OptrtKernel *k = wrap(&d);
    OptrtConfig cfg;
    optrt_config_init(&cfg);
    cfg.threads = threads;
    Optrt *o = optrt_create(k, &cfg, NULL);
    float p[12] = {0}, g[12] = {0};
    optrt_add_param(o, optrt_add_group(o, NULL), p, g, 3, 4);
    optrt_add_param(o, 0, p, g, 4, 3);
    assert_int_equal(optrt_step(o), -1);
    assert_string_equal(optrt_last_error(o), "group 0 (singular): parameter 0: solve: the matrix is "
                                             "singular (dsytrf pivot 1 is zero)");
    optrt_destroy(o);
    optrt_kernel_close(k);
  }
}

/* Mixed rules: precond on a 2-D group, adam on 1-D, clip on both;
 * resume from a checkpoint half-way matches the straight run bit for bit. */
typedef struct Mixed {
  OptrtKernel *kp, *ka, *kc;
  Optrt *o;
  float w[12 * 5], gw[12 * 5], b[12], gb[12], v[40], gv[40];
} Mixed;

static Mixed *mixed(int threads) {
  Mixed *m = calloc(1, sizeof *m);
  m->kp = wrap(&hk_precond);
  m->ka = wrap(&hk_adam);
  m->kc = wrap(&hk_clip);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  m->o = optrt_create(m->ka, &cfg, NULL);
  rtu_fill(m->w, 60, 1);
  rtu_fill(m->b, 12, 2);
  rtu_fill(m->v, 40, 3);
  int gp = optrt_add_group(m->o, m->kp), ga = optrt_add_group(m->o, NULL);
  int gc = optrt_add_group(m->o, m->kc);
  assert_int_equal(optrt_add_param(m->o, gp, m->w, m->gw, 12, 5), 0);
  assert_int_equal(optrt_add_param(m->o, ga, m->b, m->gb, 12, 0), 0);
  assert_int_equal(optrt_add_param(m->o, gc, m->v, m->gv, 8, 5), 0);
  optrt_set_hyper(m->o, gp, "lr", 0.01);
  optrt_set_hyper(m->o, ga, "lr", 0.05);
  return m;
}

static void mixed_step(Mixed *m, int s) {
  rtu_fill(m->gw, 60, 10 + (uint64_t)s);
  rtu_fill(m->gb, 12, 20 + (uint64_t)s);
  rtu_fill(m->gv, 40, 30 + (uint64_t)s);
  assert_int_equal(optrt_step(m->o), 0);
}

static void mixed_free(Mixed *m) {
  optrt_destroy(m->o);
  optrt_kernel_close(m->kp);
  optrt_kernel_close(m->ka);
  optrt_kernel_close(m->kc);
  free(m);
}

static void test_mixed_rules_resume(void **state) {
  char dir[128], path[256];
  rtu_tmpdir(dir, sizeof dir, "mixed");
  snprintf(path, sizeof path, "%s/m.ckpt", dir);
  Mixed *a = mixed(1), *b = mixed(3);
  for (int s = 1; s <= 6; s++) mixed_step(a, s);
  for (int s = 1; s <= 3; s++) mixed_step(b, s);
  assert_int_equal(optrt_save(b->o, path), 0);
  Mixed *c = mixed(2);
  memcpy(c->w, b->w, sizeof c->w);
  memcpy(c->b, b->b, sizeof c->b);
  memcpy(c->v, b->v, sizeof c->v);
  assert_int_equal(optrt_load(c->o, path), 0);
  for (int s = 4; s <= 6; s++) mixed_step(c, s);
  assert_memory_equal(a->w, c->w, sizeof a->w);
  assert_memory_equal(a->b, c->b, sizeof a->b);
  assert_memory_equal(a->v, c->v, sizeof a->v);
  assert_memory_equal(optrt_state_data(a->o, 1, 0, "v", NULL, NULL),
                      optrt_state_data(c->o, 1, 0, "v", NULL, NULL), 12 * 4);
  assert_memory_equal(optrt_state_data(a->o, 0, 0, "L", NULL, NULL),
                      optrt_state_data(c->o, 0, 0, "L", NULL, NULL), 12 * 12 * 8);
  /* a different rule per group is part of the checkpoint's identity */
  Mixed *d = mixed(1);
  optrt_destroy(d->o);
  d->o = optrt_create(d->ka, NULL, NULL);
  optrt_add_param(d->o, optrt_add_group(d->o, NULL), d->w, d->gw, 12, 5);
  optrt_add_param(d->o, optrt_add_group(d->o, NULL), d->b, d->gb, 12, 0);
  optrt_add_param(d->o, optrt_add_group(d->o, d->kc), d->v, d->gv, 8, 5);
  assert_int_equal(optrt_load(d->o, path), -1);
  assert_non_null(strstr(optrt_last_error(d->o), "group 0 was written by a different rule"));
  mixed_free(a);
  mixed_free(b);
  mixed_free(c);
  mixed_free(d);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allmat),
      cmocka_unit_test(test_means),
      cmocka_unit_test(test_precond),
      cmocka_unit_test(test_newton_one_step),
      cmocka_unit_test(test_hvp),
      cmocka_unit_test(test_linesearch_armijo),
      cmocka_unit_test(test_linesearch_wolfe),
      cmocka_unit_test(test_linesearch_failure_restores),
      cmocka_unit_test(test_linesearch_nan_region),
      cmocka_unit_test(test_failing_callback),
      cmocka_unit_test(test_parallel_matops),
      cmocka_unit_test(test_parallel_matop_error),
      cmocka_unit_test(test_mixed_rules_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* e2e_history.c: L-BFGS histories (`state H : history(m)`,
 * lbfgs_direction, history_push; OPTK_OP_HISTORY) end to end.
 *
 * - The direction against an independent dense reference: the BFGS
 *   inverse update H <- V' H V + rho s s' (V = I - rho y s') from
 *   H0 = gamma I, built in double here from the pairs kept, applied to g,
 *   after every step, for m = 1, 3, 7 over ten steps (every history wraps
 *   around), on a group of two tensors (dots over the group), with two
 *   pairs of s.y < 0 that push must skip.  The interpreter runs the same
 *   steps and must agree.
 * - stdlib/lbfgs.opt converges on MGH problems with m = 3 and m = 20; with
 *   m = 6 it needs no more evaluations than the rule written out with 18
 *   states (tests/unit/support/lbfgs_unrolled.opt); JIT and AOT agree bit
 *   for bit.
 * - Checkpoints resume bit for bit; loading into an optimizer with another
 *   m fails with a message and leaves it untouched; m cannot change once
 *   the state exists and must be whole; results do not depend on the
 *   thread count.
 * - A value pushed from two sibling `if` blocks is recomputed in the
 *   second, not loaded from the scratch the first wrote at another step.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"
#include "read_text.h"
#include "test_rule.h"
#include "optrt_minimize.h"
#include "optrt_tasks.h"
#include "tmpdir.h"

#define STDLIB_DIR OPTC_SOURCE_DIR "/stdlib"
#define SUPPORT_DIR OPTC_SOURCE_DIR "/tests/unit/support"

/* The direction and the pushes, observed through the f64 state d. */
static const char PROBE[] =
    "optimizer hist_probe\n"
    "hyper m = 3 in [1, 100]\n"
    "state H : history(m) f64\n"
    "state d : f64 = 0\n"
    "update {\n"
    "  d = lbfgs_direction(H, g)\n"
    "  history_push(H, p, g)\n"
    "}\n";

/* A quasi-Newton iteration without line search, for checkpoints. */
static const char QN[] =
    "optimizer hist_qn\n"
    "hyper m = 4 in [1, 100]\n"
    "state H : history(m)\n"
    "state pp = 0\n"
    "state gp = 0\n"
    "update {\n"
    "  d = lbfgs_direction(H, g)\n"
    "  if t > 1 {\n"
    "    history_push(H, p - pp, g - gp)\n"
    "  }\n"
    "  pp = p\n"
    "  gp = g\n"
    "  p = p - 0.05 * d\n"
    "}\n";

enum { NT = 2, STEPS = 10, MAXN = 8 };
static const int64_t SIZES[NT] = {5, 3};

/* ---- compiling -------------------------------------------------------------- */

/* Rules here compile as optc does by default (fused multiply-add). */
static void jit_rule(TestRule *r, const char *name, const char *source) {
  test_rule_jit(r, name, source, 1);
}

static void jit_file(TestRule *r, const char *path) {
  char *text = test_read_text(path, NULL);
  if (!text) fail_msg("cannot read %s", path);
  jit_rule(r, path, text);
  free(text);
}

static Optrt *new_optimizer(const OptrtKernel *k, int threads) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  char *err = NULL;
  Optrt *o = optrt_create(k, &cfg, &err);
  if (!o) fail_msg("optrt_create: %s", err ? err : "?");
  assert_int_equal(optrt_add_group(o, NULL), 0);
  return o;
}

/* ---- the dense reference ----------------------------------------------------- */

/* Pair k of the probe's run: s = p_k, y = g_k (N = 8 values over the
 * group); pairs 4 and 6 have s.y < 0. */
static void pair_values(int k, float *s, float *y) {
  for (int i = 0; i < MAXN; i++) {
    double x = sin(1.3 * k + 0.7 * i + 0.1 * k * i);
    s[i] = (float)x;
    double a = 1.0 + 0.5 * i; /* a diagonal SPD curvature */
    y[i] = (float)(a * x + 0.05 * cos(2.1 * k + i));
  }
  if (k == 4 || k == 6)
    for (int i = 0; i < MAXN; i++) y[i] = -s[i];
}

static double dotd(const double *a, const double *b, int n) {
  double r = 0;
  for (int i = 0; i < n; i++) r += a[i] * b[i];
  return r;
}

/* out = H v, H the BFGS inverse built from pairs 0..upto-1 (those with
 * s.y > 0, the newest m of them) from H0 = gamma I. */
static void dense_direction(int m, int upto, const double *v, double *out) {
  int kept[STEPS], nk = 0;
  for (int k = 0; k < upto; k++) {
    float s[MAXN], y[MAXN];
    double sd[MAXN], yd[MAXN];
    pair_values(k, s, y);
    for (int i = 0; i < MAXN; i++) sd[i] = s[i], yd[i] = y[i];
    if (dotd(sd, yd, MAXN) > 0) kept[nk++] = k;
  }
  int first = nk > m ? nk - m : 0;
  double H[MAXN][MAXN] = {{0}}, gamma = 1;
  if (nk > 0) {
    float s[MAXN], y[MAXN];
    double sd[MAXN], yd[MAXN];
    pair_values(kept[nk - 1], s, y);
    for (int i = 0; i < MAXN; i++) sd[i] = s[i], yd[i] = y[i];
    gamma = dotd(sd, yd, MAXN) / dotd(yd, yd, MAXN);
  }
  for (int i = 0; i < MAXN; i++) H[i][i] = gamma;
  for (int j = first; j < nk; j++) { /* oldest to newest */
    float s[MAXN], y[MAXN];
    double sd[MAXN], yd[MAXN], V[MAXN][MAXN], T[MAXN][MAXN];
    pair_values(kept[j], s, y);
    for (int i = 0; i < MAXN; i++) sd[i] = s[i], yd[i] = y[i];
    double rho = 1.0 / dotd(sd, yd, MAXN);
    for (int a = 0; a < MAXN; a++)
      for (int b = 0; b < MAXN; b++) V[a][b] = (a == b) - rho * yd[a] * sd[b];
    for (int a = 0; a < MAXN; a++) /* T = H V */
      for (int b = 0; b < MAXN; b++) {
        double x = 0;
        for (int c = 0; c < MAXN; c++) x += H[a][c] * V[c][b];
        T[a][b] = x;
      }
    for (int a = 0; a < MAXN; a++) /* H = V' T + rho s s' */
      for (int b = 0; b < MAXN; b++) {
        double x = 0;
        for (int c = 0; c < MAXN; c++) x += V[c][a] * T[c][b];
        H[a][b] = x + rho * sd[a] * sd[b];
      }
  }
  for (int a = 0; a < MAXN; a++) out[a] = dotd(H[a], v, MAXN);
}

static int pairs_kept(int m, int upto) {
  int n = 0;
  for (int k = 0; k < upto; k++) n += k != 4 && k != 6;
  return n < m ? n : m;
}

/* ---- direction against the reference ------------------------------------------ */

static const IrBuffer *find_buf(const IrProgram *p, const char *name, int *index) {
  for (int b = 0; b < p->nbufs; b++)
    if (strcmp(p->bufs[b].name, name) == 0) {
      *index = b;
      return &p->bufs[b];
    }
  fail_msg("no buffer %s", name);
  return NULL;
}

static void check_close(const double *got, const double *want, int n, double tol, const char *what,
                        int m, int step) {
  double scale = 0;
  for (int i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
  for (int i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol * (scale + 1e-300)))
      fail_msg("%s, m = %d, step %d, element %d: %.17g, reference %.17g", what, m, step, i, got[i],
               want[i]);
}

/* Sets p and g of both tensors to pair k. */
static void load_pair(int k, float *p, float *g) {
  pair_values(k, p, g);
}

static void run_probe(int m, int threads) {
  TestRule r;
  jit_rule(&r, "hist_probe.opt", PROBE);
  Optrt *o = new_optimizer(r.kernel, threads);
  float p[MAXN], g[MAXN];
  for (int k = 0, off = 0; k < NT; off += (int)SIZES[k++])
    assert_true(optrt_add_param(o, 0, p + off, g + off, SIZES[k], 0) >= 0);
  assert_int_equal(optrt_set_hyper(o, 0, "m", m), 0);
  /* the interpreter on the same steps */
  IrProgram prog;
  SrcMgr sm;
  DiagSink ds;
  srcmgr_init(&sm);
  diag_init(&ds, &sm, NULL, NULL);
  if (ir_pipeline_build_text(&prog, &sm, "hist_probe.opt", PROBE, strlen(PROBE), &ds, NULL, NULL))
    fail_msg("pipeline");
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_non_null(in);
  float ip[MAXN], ig[MAXN];
  for (int k = 0, off = 0; k < NT; off += (int)SIZES[k++])
    assert_true(interp_add_tensor(in, ip + off, ig + off, SIZES[k], 1, &err) >= 0);
  assert_int_equal(interp_set_hyper(in, "m", m, &err), 0);
  int dbuf = -1;
  find_buf(&prog, "d", &dbuf);
  for (int step = 0; step < STEPS; step++) {
    load_pair(step, p, g);
    load_pair(step, ip, ig);
    if (optrt_step(o)) fail_msg("step: %s", optrt_last_error(o));
    assert_int_equal(interp_step(in, NAN, &err), 0);
    double v[MAXN], want[MAXN], got[MAXN], igot[MAXN];
    for (int i = 0; i < MAXN; i++) v[i] = g[i];
    dense_direction(m, step, v, want);
    for (int k = 0, off = 0; k < NT; off += (int)SIZES[k++]) {
      OptkDType dt;
      int64_t count = 0;
      const double *d = optrt_state_data(o, 0, k, "d", &dt, &count);
      assert_non_null(d);
      assert_int_equal(dt, OPTK_F64);
      memcpy(got + off, d, sizeof(double) * (size_t)count);
      memcpy(igot + off, interp_buffer(in, k, dbuf, NULL), sizeof(double) * (size_t)count);
    }
    check_close(got, want, MAXN, 1e-10, "runtime", m, step);
    check_close(igot, got, MAXN, 1e-13, "interpreter", m, step);
    double len = -1;
    assert_int_equal(optrt_scalar_state(o, 0, 1, "H.len", &len), 0);
    assert_true(len == pairs_kept(m, step + 1));
  }
  interp_free(in);
  ir_program_free(&prog);
  srcmgr_free(&sm);
  optrt_destroy(o);
  test_rule_free(&r);
}

static void test_direction_m1(void **state) {
  (void)state;
  run_probe(1, 1);
}

static void test_direction_m3(void **state) {
  (void)state;
  run_probe(3, 1);
}

static void test_direction_m7(void **state) {
  (void)state;
  run_probe(7, 3);
}

/* ---- stdlib/lbfgs.opt ------------------------------------------------------------ */

typedef struct Solve {
  OptrtTask *task;
  Optrt *opt;
  float *x[4], *g[4];
  int nt;
} Solve;

static void solve_free(Solve *s) {
  optrt_destroy(s->opt);
  for (int i = 0; i < s->nt; i++) free(s->x[i]), free(s->g[i]);
  optrt_task_free(s->task);
}

/* Minimises `task` with kernel k and memory m (0: the default). */
static int minimize(Solve *s, const OptrtKernel *k, const char *task, int m,
                    OptrtMinimizeReport *rep) {
  memset(s, 0, sizeof *s);
  char *err = NULL;
  s->task = optrt_task_create(task, 1, NULL, &err);
  if (!s->task) fail_msg("task %s: %s", task, err ? err : "?");
  s->opt = new_optimizer(k, 1);
  s->nt = optrt_task_num_tensors(s->task);
  assert_true(s->nt <= 4);
  for (int i = 0; i < s->nt; i++) {
    int64_t rows = 0, cols = 0;
    assert_int_equal(optrt_task_tensor(s->task, i, NULL, &rows, &cols), 0);
    s->x[i] = calloc((size_t)(rows * cols), sizeof(float));
    s->g[i] = calloc((size_t)(rows * cols), sizeof(float));
    assert_true(optrt_add_param(s->opt, 0, s->x[i], s->g[i], rows * cols, 0) >= 0);
  }
  if (m) assert_int_equal(optrt_set_hyper(s->opt, 0, "m", m), 0);
  assert_int_equal(optrt_task_init(s->task, s->x), 0);
  OptrtObjective obj;
  assert_int_equal(optrt_task_objective(s->task, s->x, s->g, &obj), 0);
  OptrtMinimizeOptions mo;
  optrt_minimize_options_init(&mo);
  mo.max_iters = 500;
  mo.gtol = 1e-4;
  return optrt_minimize(s->opt, &obj, &mo, rep);
}

static const char *const TASKS[] = {"mgh_rosenbrock", "mgh_wood", "mgh_helical_valley",
                                    "mgh_powell_singular", "mgh_box_3d"};

static void test_lbfgs_memory(void **state) {
  (void)state;
  TestRule r;
  jit_file(&r, STDLIB_DIR "/lbfgs.opt");
  static const int MS[] = {3, 20};
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < 2; i++) {
      Solve s;
      OptrtMinimizeReport rep;
      if (minimize(&s, r.kernel, TASKS[t], MS[i], &rep))
        fail_msg("%s m = %d: %s", TASKS[t], MS[i], optrt_last_error(s.opt));
      print_message("lbfgs m = %d on %s: %lld iterations, %lld evaluations\n", MS[i], TASKS[t],
                    (long long)rep.iters, (long long)rep.fevals);
      assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
      assert_true(rep.loss < 1e-6);
      solve_free(&s);
    }
  test_rule_free(&r);
}

static void test_lbfgs_m6_not_worse(void **state) {
  (void)state;
  TestRule now, before;
  jit_file(&now, STDLIB_DIR "/lbfgs.opt");
  jit_file(&before, SUPPORT_DIR "/lbfgs_unrolled.opt");
  int64_t total[2] = {0, 0};
  for (size_t t = 0; t < sizeof TASKS / sizeof *TASKS; t++) {
    int64_t fe[2];
    for (int e = 0; e < 2; e++) {
      Solve s;
      OptrtMinimizeReport rep;
      if (minimize(&s, e ? before.kernel : now.kernel, TASKS[t], 0, &rep))
        fail_msg("%s: %s", TASKS[t], optrt_last_error(s.opt));
      assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
      fe[e] = rep.fevals;
      total[e] += rep.fevals;
      solve_free(&s);
    }
    print_message("%s: %lld evaluations (history), %lld (unrolled)\n", TASKS[t],
                  (long long)fe[0], (long long)fe[1]);
  }
  assert_true(total[0] <= total[1]);
  test_rule_free(&now);
  test_rule_free(&before);
}

static void test_lbfgs_jit_aot(void **state) {
  (void)state;
  TestRule r;
  jit_file(&r, STDLIB_DIR "/lbfgs.opt");
  char dir[64], lib[128];
  assert_non_null(test_mkdtemp(dir, sizeof dir, "optc_hist"));
  snprintf(lib, sizeof lib, "%s/lbfgs.so", dir);
  OptcOptions o;
  optc_options_init(&o);
  assert_int_equal(optc_compile_library(STDLIB_DIR "/lbfgs.opt", lib, &o), 0);
  char *err = NULL;
  OptrtKernel *aot = optrt_open_library(lib, &err);
  if (!aot) fail_msg("open_library: %s", err ? err : "?");
  for (int m = 2; m <= 9; m += 7) {
    Solve a, b;
    OptrtMinimizeReport ra, rb;
    assert_int_equal(minimize(&a, r.kernel, "mgh_wood", m, &ra), 0);
    assert_int_equal(minimize(&b, aot, "mgh_wood", m, &rb), 0);
    assert_int_equal(ra.iters, rb.iters);
    assert_int_equal(ra.fevals, rb.fevals);
    assert_memory_equal(a.x[0], b.x[0], 4 * sizeof(float));
    solve_free(&a);
    solve_free(&b);
  }
  optrt_kernel_close(aot);
  unlink(lib);
  rmdir(dir);
  test_rule_free(&r);
}

/* ---- checkpoints, hypers, threads --------------------------------------------- */

enum { QN_N = 37 };

typedef struct Qn {
  Optrt *o;
  float p[QN_N], g[QN_N];
} Qn;

static void qn_init(Qn *q, const OptrtKernel *k, int threads) {
  q->o = new_optimizer(k, threads);
  for (int i = 0; i < QN_N; i++) q->p[i] = (float)cos(0.37 * i);
  assert_true(optrt_add_param(q->o, 0, q->p, q->g, 30, 0) >= 0);
  assert_true(optrt_add_param(q->o, 0, q->p + 30, q->g + 30, 7, 0) >= 0);
}

/* Steps on the quadratic 1/2 sum a_i p_i^2, a_i = 1 + i / 4. */
static void qn_steps(Qn *q, int n) {
  for (int s = 0; s < n; s++) {
    for (int i = 0; i < QN_N; i++) q->g[i] = (float)((1.0 + i / 4.0) * q->p[i]);
    if (optrt_step(q->o)) fail_msg("step: %s", optrt_last_error(q->o));
  }
}

static void test_checkpoint_resume(void **state) {
  (void)state;
  TestRule r;
  jit_rule(&r, "hist_qn.opt", QN);
  char dir[64], path[128];
  assert_non_null(test_mkdtemp(dir, sizeof dir, "optc_hist"));
  snprintf(path, sizeof path, "%s/ck.bin", dir);
  Qn a, b;
  qn_init(&a, r.kernel, 1);
  qn_steps(&a, 6);
  assert_int_equal(optrt_save(a.o, path), 0);
  float saved[QN_N];
  memcpy(saved, a.p, sizeof saved); /* p is the host's: it restores it */
  qn_steps(&a, 6);
  qn_init(&b, r.kernel, 1);
  assert_int_equal(optrt_load(b.o, path), 0);
  memcpy(b.p, saved, sizeof saved);
  qn_steps(&b, 6);
  assert_memory_equal(a.p, b.p, sizeof a.p);
  /* another m: refused, nothing changed */
  Qn d;
  qn_init(&d, r.kernel, 1);
  assert_int_equal(optrt_set_hyper(d.o, 0, "m", 5), 0);
  qn_steps(&d, 2);
  OptkDType dt;
  int64_t count = 0;
  const float *hs = optrt_state_data(d.o, 0, 0, "H.s", &dt, &count);
  assert_non_null(hs);
  assert_int_equal(count, 5 * 30);
  float before[150];
  memcpy(before, hs, sizeof before);
  assert_int_equal(optrt_load(d.o, path), -1);
  print_message("load with m = 5: %s\n", optrt_last_error(d.o));
  assert_non_null(strstr(optrt_last_error(d.o), "hyper 'm' is 4 in the checkpoint but 5 here"));
  assert_int_equal(optrt_step_count(d.o, 0), 2);
  hs = optrt_state_data(d.o, 0, 0, "H.s", &dt, &count);
  assert_int_equal(count, 5 * 30);
  assert_memory_equal(before, hs, sizeof before);
  optrt_destroy(a.o);
  optrt_destroy(b.o);
  optrt_destroy(d.o);
  unlink(path);
  rmdir(dir);
  test_rule_free(&r);
}

static void test_memory_hyper_rules(void **state) {
  (void)state;
  TestRule r;
  jit_rule(&r, "hist_qn.opt", QN);
  Qn q;
  qn_init(&q, r.kernel, 1);
  assert_int_equal(optrt_set_hyper(q.o, 0, "m", 2.5), -1);
  assert_non_null(strstr(optrt_last_error(q.o), "hyper 'm' must be a whole number, not 2.5"));
  assert_int_equal(optrt_set_hyper(q.o, 0, "m", 0), -1); /* outside [1, 100] */
  assert_int_equal(optrt_set_hyper(q.o, 0, "m", 7), 0);
  qn_steps(&q, 1);
  assert_int_equal(optrt_set_hyper(q.o, 0, "m", 3), -1);
  assert_non_null(
      strstr(optrt_last_error(q.o), "hyper 'm' sizes the rule's state, which already exists"));
  assert_int_equal(optrt_set_hyper(q.o, 0, "m", 7), 0); /* unchanged: fine */
  double len = -1;
  qn_steps(&q, 12);
  assert_int_equal(optrt_scalar_state(q.o, 0, 0, "H.len", &len), 0);
  assert_true(len == 7);
  optrt_destroy(q.o);
  test_rule_free(&r);
}

static void test_threads_agree(void **state) {
  (void)state;
  TestRule r;
  jit_rule(&r, "hist_qn.opt", QN);
  Qn a, b;
  qn_init(&a, r.kernel, 1);
  qn_init(&b, r.kernel, 4);
  qn_steps(&a, 15);
  qn_steps(&b, 15);
  assert_memory_equal(a.p, b.p, sizeof a.p);
  optrt_destroy(a.o);
  optrt_destroy(b.o);
  test_rule_free(&r);
}

/* The same value (p - pp) pushed from two sibling blocks: the second block
 * must recompute it, not load the scratch the first block wrote at an
 * earlier step (a scratch written in a block holds nothing certain
 * outside it; sched.c content_at). */
static const char SIBLINGS[] =
    "optimizer hist_siblings\n"
    "hyper m = 2 in [1, 10]\n"
    "state H : history(m) f64\n"
    "state pp = 0\n"
    "update {\n"
    "  if t == 2 {\n"
    "    history_push(H, p - pp, g)\n"
    "  }\n"
    "  if t == 3 {\n"
    "    history_push(H, p - pp, g)\n"
    "  }\n"
    "  pp = p\n"
    "}\n";

static void test_sibling_blocks(void **state) {
  (void)state;
  TestRule r;
  jit_rule(&r, "hist_siblings.opt", SIBLINGS);
  Optrt *o = new_optimizer(r.kernel, 1);
  enum { N = 6 };
  float p[N], g[N];
  assert_true(optrt_add_param(o, 0, p, g, N, 0) >= 0);
  for (int t = 1; t <= 3; t++) { /* p = t^2 b: s = 3 b at t = 2, 5 b at t = 3 */
    for (int i = 0; i < N; i++) p[i] = (float)(t * t * (i + 1)), g[i] = (float)(i + 1);
    if (optrt_step(o)) fail_msg("step: %s", optrt_last_error(o));
  }
  double len = 0, head = 0;
  assert_int_equal(optrt_scalar_state(o, 0, 0, "H.len", &len), 0);
  assert_int_equal(optrt_scalar_state(o, 0, 0, "H.head", &head), 0);
  assert_true(len == 2);
  OptkDType dt;
  int64_t count = 0;
  const double *hs = optrt_state_data(o, 0, 0, "H.s", &dt, &count);
  assert_non_null(hs);
  assert_int_equal(count, 2 * N);
  for (int i = 0; i < N; i++) {
    assert_true(hs[(int64_t)head * N + i] == 5.0 * (i + 1));      /* newest */
    assert_true(hs[(1 - (int64_t)head) * N + i] == 3.0 * (i + 1)); /* older */
  }
  optrt_destroy(o);
  test_rule_free(&r);
}

/* Descriptors whose HISTORY ops or history buffers are malformed are
 * refused by optrt_wrap_descriptor with the reason. */
static void expect_refused(const OptkDescriptor *good, int which, const char *why) {
  OptkDescriptor d = *good;
  OptkOp ops[64];
  OptkBuffer bufs[32];
  OptkHyper hypers[8];
  assert_true(d.nops <= 64 && d.nbuf <= 32 && d.nhyper <= 8);
  memcpy(ops, good->ops, sizeof(OptkOp) * d.nops);
  memcpy(bufs, good->bufs, sizeof(OptkBuffer) * d.nbuf);
  memcpy(hypers, good->hypers, sizeof(OptkHyper) * d.nhyper);
  d.ops = ops, d.bufs = bufs, d.hypers = hypers;
  int h = 0;
  while (ops[h].kind != OPTK_OP_HISTORY) h++;
  switch (which) {
  case 0: ops[h].a = (int32_t)d.nbuf - 1; break;           /* past the end */
  case 1: ops[h].fn = 7; break;                            /* no such function */
  case 2: ops[h].d = (int32_t)d.nsstate; break;            /* scalar states */
  case 3: bufs[ops[h].a + 1].count_hyper = 0; break;       /* not a history */
  case 4: hypers[bufs[ops[h].a].count_hyper - 1].flags &= ~(uint32_t)OPTK_HYPER_INTEGER; break;
  default: ops[h].b = ops[h].a; break;                     /* a history as operand */
  }
  char *err = NULL;
  OptrtKernel *k = optrt_wrap_descriptor(&d, &err);
  assert_null(k);
  if (!err || !strstr(err, why)) fail_msg("case %d: %s", which, err ? err : "(no message)");
  free(err);
}

static void test_bad_descriptors(void **state) {
  (void)state;
  TestRule r;
  jit_rule(&r, "hist_qn.opt", QN);
  const OptkDescriptor *d = optc_jit_descriptor(r.jit);
  expect_refused(d, 0, "HISTORY buffers out of range");
  expect_refused(d, 1, "unknown HISTORY function");
  expect_refused(d, 2, "HISTORY scalar states out of range");
  expect_refused(d, 3, "HISTORY buffers are not a history");
  expect_refused(d, 4, "without the INTEGER and SIZES_STATE flags");
  expect_refused(d, 5, "HISTORY operands out of range");
  test_rule_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direction_m1),     cmocka_unit_test(test_direction_m3),
      cmocka_unit_test(test_direction_m7),     cmocka_unit_test(test_lbfgs_memory),
      cmocka_unit_test(test_lbfgs_m6_not_worse), cmocka_unit_test(test_lbfgs_jit_aot),
      cmocka_unit_test(test_checkpoint_resume), cmocka_unit_test(test_memory_hyper_rules),
      cmocka_unit_test(test_threads_agree),    cmocka_unit_test(test_sibling_blocks),
      cmocka_unit_test(test_bad_descriptors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

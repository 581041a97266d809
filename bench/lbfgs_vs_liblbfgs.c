/* lbfgs_vs_liblbfgs.c: stdlib/lbfgs.opt against liblbfgs on the MGH problems.
 *
 * A benchmark comparator, never a dependency of optc or liblbfgs-using
 * code: Debian's liblbfgs-dev (`scripts/deps.sh bench`) is linked into
 * this program only.  For every More-Garbow-Hillstrom task of liblbfgs's
 * registry (runtime/tasks/task_mgh.c) both minimise from the standard
 * starting point until the gradient norm is at most
 *     gtol = GTOL_REL * max(1, |g(x0)|)
 * or MAX_ITERS iterations pass, and the table shows iterations and
 * objective evaluations (one evaluation = loss and gradient) side by side.
 *
 * - liblbfgs 1.10 with its defaults (m = 6, More-Thuente line search,
 *   ftol 1e-4, gtol 0.9, 40 evaluations per search), in double; its own
 *   gradient test is switched off (epsilon 1e-300) and the progress
 *   callback stops it at gtol, so both stop on the same test.
 * - optc: stdlib/lbfgs.opt (the same defaults), JIT-compiled, on float32
 *   parameters through liboptrt with the task's objective.  The loop here
 *   evaluates once at x0 and then calls optrt_step_objective; the
 *   objective wrapper answers a call at the point evaluated last from a
 *   cache (the line search's accepted trial is the next step's starting
 *   point), so each distinct point costs one evaluation, as in liblbfgs.
 *
 * The verdict line compares the total evaluations over the problems both
 * solved (float32 parameters cannot follow Powell's badly scaled problem,
 * whose minimiser has a component of 1.1e-5 next to one of 9.1, to that
 * gradient norm); the exit status is 0 when optc needs no more than
 * liblbfgs, 1 otherwise, 2 on errors.  Usage: lbfgs_vs_liblbfgs
 * [STDLIB_DIR] (default: stdlib, from the repository root).
 */
#include <lbfgs.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optc.h"
#include "optrt.h"
#include "optrt_tasks.h"

#define GTOL_REL 1e-6
#define MAX_ITERS 2000
#define MAX_TENSORS 4

typedef struct Result {
  int iters;
  int64_t evals;
  double loss, gnorm;
  int solved;
  char note[96];
} Result;

/* ---- liblbfgs -------------------------------------------------------------- */

typedef struct Lb {
  OptrtTask *task;
  double gtol;
  Result *res;
} Lb;

static lbfgsfloatval_t lb_evaluate(void *user, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                   const int n, const lbfgsfloatval_t step) {
  (void)n, (void)step;
  Lb *l = user;
  double f = NAN;
  l->res->evals++;
  if (optrt_task_eval_d(l->task, x, g, &f)) return NAN;
  return f;
}

static int lb_progress(void *user, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                       const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                       const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                       int ls) {
  (void)x, (void)g, (void)xnorm, (void)step, (void)n, (void)ls;
  Lb *l = user;
  l->res->iters = k;
  l->res->loss = fx;
  l->res->gnorm = gnorm;
  return gnorm <= l->gtol; /* nonzero stops lbfgs() */
}

static void run_liblbfgs(OptrtTask *task, double gtol, Result *res) {
  memset(res, 0, sizeof *res);
  int64_t n = optrt_task_dim(task);
  lbfgsfloatval_t *x = lbfgs_malloc((int)n);
  if (!x) {
    snprintf(res->note, sizeof res->note, "out of memory");
    return;
  }
  optrt_task_init_d(task, x);
  lbfgs_parameter_t param;
  lbfgs_parameter_init(&param);
  param.epsilon = 1e-300; /* never: the progress callback applies gtol */
  param.max_iterations = MAX_ITERS;
  Lb l = {task, gtol, res};
  lbfgsfloatval_t fx = 0;
  int rc = lbfgs((int)n, x, &fx, lb_evaluate, lb_progress, &l, &param);
  res->solved = res->gnorm <= gtol;
  if (!res->solved) snprintf(res->note, sizeof res->note, "liblbfgs status %d", rc);
  lbfgs_free(x);
}

/* ---- optc ------------------------------------------------------------------ */

typedef struct Cached {
  const OptrtObjective *host;
  float *const *x;
  float *const *g;
  int nt;
  const int64_t *size;
  float *cx, *cg; /* the point evaluated last and its gradient, concatenated */
  double closs;
  int valid;
  Result *res;
} Cached;

static int same_point(const Cached *c) {
  int64_t off = 0;
  for (int i = 0; i < c->nt; off += c->size[i], i++)
    if (memcmp(c->cx + off, c->x[i], (size_t)c->size[i] * sizeof(float))) return 0;
  return 1;
}

static void copy_out(Cached *c, int to_cache) {
  int64_t off = 0;
  for (int i = 0; i < c->nt; off += c->size[i], i++) {
    size_t bytes = (size_t)c->size[i] * sizeof(float);
    if (to_cache) {
      memcpy(c->cx + off, c->x[i], bytes);
      memcpy(c->cg + off, c->g[i], bytes);
    } else {
      memcpy(c->g[i], c->cg + off, bytes);
    }
  }
}

static int cached_value_grad(void *user, double *loss, int want_grad) {
  Cached *c = user;
  if (c->valid && same_point(c)) {
    if (want_grad) copy_out(c, 0);
    *loss = c->closs;
    return 0;
  }
  c->res->evals++;
  int rc = c->host->value_grad(c->host->user, loss, 1);
  if (rc == 0) {
    copy_out(c, 1);
    c->closs = *loss;
    c->valid = 1;
  }
  return rc;
}

static double grad_norm(const Cached *c) {
  double s = 0;
  for (int i = 0; i < c->nt; i++)
    for (int64_t k = 0; k < c->size[i]; k++) s += (double)c->g[i][k] * c->g[i][k];
  return sqrt(s);
}

static void iterate(Optrt *o, Cached *c, double gtol, Result *res) {
  OptrtObjective w = {c, cached_value_grad, NULL, NULL, NULL};
  double f = NAN;
  if (cached_value_grad(c, &f, 1)) return;
  res->loss = f;
  res->gnorm = grad_norm(c);
  while (res->gnorm > gtol && res->iters < MAX_ITERS) {
    if (optrt_step_objective(o, &w)) {
      snprintf(res->note, sizeof res->note, "%.90s", optrt_last_error(o));
      return;
    }
    res->iters++;
    cached_value_grad(c, &res->loss, 1); /* from the cache: the accepted trial */
    res->gnorm = grad_norm(c);
  }
  res->solved = res->gnorm <= gtol;
}

static void run_optc(const OptrtKernel *k, OptrtTask *task, double gtol, Result *res) {
  memset(res, 0, sizeof *res);
  int nt = optrt_task_num_tensors(task);
  float *x[MAX_TENSORS] = {0}, *g[MAX_TENSORS] = {0};
  int64_t size[MAX_TENSORS] = {0};
  int64_t n = optrt_task_dim(task);
  Cached c = {NULL, x, g, nt, size, malloc((size_t)n * sizeof(float)),
              malloc((size_t)n * sizeof(float)), 0, 0, res};
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  char *err = NULL;
  Optrt *o = nt <= MAX_TENSORS ? optrt_create(k, &cfg, &err) : NULL;
  int ok = o && c.cx && c.cg && optrt_add_group(o, NULL) == 0;
  for (int i = 0; ok && i < nt; i++) {
    int64_t rows = 0, cols = 0;
    optrt_task_tensor(task, i, NULL, &rows, &cols);
    size[i] = rows * cols;
    x[i] = calloc((size_t)size[i], sizeof(float));
    g[i] = calloc((size_t)size[i], sizeof(float));
    ok = x[i] && g[i] && optrt_add_param(o, 0, x[i], g[i], size[i], 0) >= 0;
  }
  OptrtObjective obj;
  if (ok) ok = optrt_task_init(task, x) == 0 && optrt_task_objective(task, x, g, &obj) == 0;
  c.host = &obj;
  if (ok) iterate(o, &c, gtol, res);
  else snprintf(res->note, sizeof res->note, "setup failed%s%.60s", err ? ": " : "", err ? err : "");
  free(err);
  optrt_destroy(o);
  for (int i = 0; i < nt && i < MAX_TENSORS; i++) {
    free(x[i]);
    free(g[i]);
  }
  free(c.cx);
  free(c.cg);
}

/* ---- driver ---------------------------------------------------------------- */

static OptcJit *compile_lbfgs(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/lbfgs.opt", dir);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "lbfgs_vs_liblbfgs: cannot read %s\n", path);
    return NULL;
  }
  static char text[1 << 16];
  size_t len = fread(text, 1, sizeof text - 1, fp);
  fclose(fp);
  text[len] = '\0';
  OptcOptions opts;
  optc_options_init(&opts);
  OptcJit *jit = optc_jit_compile(path, text, len, &opts);
  if (!jit) fprintf(stderr, "lbfgs_vs_liblbfgs: %s does not compile\n", path);
  return jit;
}

static double initial_gtol(OptrtTask *task) {
  int64_t n = optrt_task_dim(task);
  double *x = malloc((size_t)n * sizeof *x), *g = malloc((size_t)n * sizeof *g), f = 0, s = 0;
  if (x && g && optrt_task_init_d(task, x) == 0 && optrt_task_eval_d(task, x, g, &f) == 0)
    for (int64_t i = 0; i < n; i++) s += g[i] * g[i];
  free(x);
  free(g);
  return GTOL_REL * fmax(1.0, sqrt(s));
}

static void print_row(const char *name, int64_t n, const Result *a, const Result *b) {
  printf("%-26s %4lld | %5d %6lld %11.4g %s | %5d %6lld %11.4g %s\n", name, (long long)n,
         a->iters, (long long)a->evals, a->loss, a->solved ? " " : "*", b->iters,
         (long long)b->evals, b->loss, b->solved ? " " : "*");
  if (a->note[0]) printf("    liblbfgs: %s\n", a->note);
  if (b->note[0]) printf("    optc: %s\n", b->note);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "stdlib";
  OptcJit *jit = compile_lbfgs(dir);
  char *err = NULL;
  OptrtKernel *k = jit ? optrt_wrap_descriptor(optc_jit_descriptor(jit), &err) : NULL;
  if (!k) {
    free(err);
    optc_jit_free(jit);
    return 2;
  }
  printf("L-BFGS (m = 6, More-Thuente) to |g| <= %g max(1, |g0|); * = not reached\n", GTOL_REL);
  printf("%-26s %4s | %-28s | %-28s\n", "problem", "n", "liblbfgs 1.10 (double)",
         "optc lbfgs.opt (float32)");
  printf("%-26s %4s | %5s %6s %11s   | %5s %6s %11s\n", "", "", "iters", "evals", "loss",
         "iters", "evals", "loss");
  int64_t total_lb = 0, total_optc = 0;
  int solved_both = 0;
  for (int i = 0; i < optrt_task_count(); i++) {
    const char *name = optrt_task_name_at(i);
    if (strncmp(name, "mgh_", 4) != 0) continue;
    OptrtTask *task = optrt_task_create(name, 1, NULL, NULL);
    if (!task) continue;
    double gtol = initial_gtol(task);
    Result a, b;
    run_liblbfgs(task, gtol, &a);
    run_optc(k, task, gtol, &b);
    print_row(name, optrt_task_dim(task), &a, &b);
    if (a.solved && b.solved) {
      total_lb += a.evals;
      total_optc += b.evals;
      solved_both++;
    }
    optrt_task_free(task);
  }
  printf("total evaluations over the %d problems both solved: liblbfgs %lld, optc %lld (%s)\n",
         solved_both, (long long)total_lb, (long long)total_optc,
         total_optc <= total_lb ? "optc needs no more" : "optc needs more");
  optrt_kernel_close(k);
  optc_jit_free(jit);
  return total_optc <= total_lb ? 0 : 1;
}

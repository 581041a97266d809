/* tool_search_eval.c: the evaluator of `optc search` (search_eval.h).
 *
 * Each worker owns one OptrtTask per task (tasks hold scratch memory), the
 * float buffers of its parameters and the starting point, and JIT-compiles
 * the candidates it evaluates itself (one OptcJit per candidate, freed
 * after its runs).  A run: copy the starting point, create a one-thread
 * optimizer over every tensor of the task in one group, set lr, step with
 * the task as the objective (optrt_step_objective), and watch each loss
 * the objective reports for divergence.  Losses for scores are evaluated
 * with the task's step set to 0 (the same minibatch or noise draw at the
 * start and the end of a run).
 *
 * OpenBLAS is set to one thread for the whole process when an evaluator
 * is created: the workers already use every core, and liboptrt switches
 * OpenBLAS to one thread only during a step and back afterwards, which,
 * with several workers, changed the thread count under another worker's
 * task evaluation (the MLP's sgemm) and with it the rounding of its sums.
 * Found through dlsym, since only liboptrt links OpenBLAS.
 *
 * The behaviour hash runs the candidate through the reference interpreter
 * (ir_pipeline + interp) for a few steps on a small tensor with fixed
 * gradients and hashes p after every step, rounded to 6 significant
 * digits.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"
#include "optrt_tasks.h"
#include "search_eval.h"

const double SEARCH_LR_MULTS[3] = {0.3, 1.0, 3.0};

/* A loss above this multiple of the initial loss counts as divergence. */
#define DIVERGE_FACTOR 10.0
/* Behaviour hash probe: a 16-element tensor for 4 steps is enough to tell
 * apart programs that differ in any term (and cheap: microseconds). */
enum { PROBE_N = 16, PROBE_STEPS = 4 };

typedef struct TaskSlot {
  OptrtTask *task;
  int ntensors;
  float **x, **g, **x0;
  int64_t *rows, *cols;
} TaskSlot;

typedef struct Worker {
  TaskSlot *slots;
} Worker;

struct SearchEvaluator {
  const SearchTaskSpec *tasks;
  int ntasks, nworkers;
  const char *anchor;
  Worker *w;
  pthread_mutex_t lock;
  long compiled;
  double compile_ms;
};

/* ---- task lists --------------------------------------------------------------- */

static int parse_spec(const char *text, size_t len, int default_steps, SearchTaskSpec *t, char **err) {
  char *s = xstrndup(text, len);
  t->label = xstrdup(s);
  t->steps = default_steps;
  char *at = strchr(s, '@');
  if (at) {
    char *end;
    long v = strtol(at + 1, &end, 10);
    if (end == at + 1 || *end || v < 1 || v > 1000000) {
      Str m = {0};
      str_printf(&m, "task '%s': steps after '@' must be 1..1000000", t->label);
      *err = str_take(&m);
      free(s);
      return -1;
    }
    t->steps = (int)v;
    *at = 0;
  }
  char *slash = strchr(s, '/');
  if (slash) {
    *slash = 0;
    t->options = xstrdup(slash + 1);
    for (char *c = t->options; *c; c++)
      if (*c == '/') *c = ',';
  }
  t->name = xstrdup(s);
  free(s);
  if (!*t->name) *err = xstrdup("empty task name in the task list");
  return *t->name ? 0 : -1;
}

int search_tasks_parse(const char *list, int default_steps, SearchTaskSpec **out, int *n, char **err) {
  *out = NULL;
  *n = 0;
  int cap = 1;
  for (const char *c = list; *c; c++) cap += *c == ',';
  SearchTaskSpec *t = xcalloc((size_t)cap, sizeof *t);
  const char *p = list;
  int rc = 0;
  while (rc == 0) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    rc = parse_spec(p, len, default_steps, &t[(*n)++], err);
    if (!comma) break;
    p = comma + 1;
  }
  if (rc != 0) {
    search_tasks_free(t, *n);
    *n = 0;
    return -1;
  }
  *out = t;
  return 0;
}

void search_tasks_free(SearchTaskSpec *t, int n) {
  for (int i = 0; t && i < n; i++) {
    free(t[i].name);
    free(t[i].options);
    free(t[i].label);
  }
  free(t);
}

/* ---- workers' tasks -------------------------------------------------------------- */

static void slot_free(TaskSlot *s) {
  for (int i = 0; i < s->ntensors; i++) {
    free(s->x[i]);
    free(s->g[i]);
    free(s->x0[i]);
  }
  free(s->x);
  free(s->g);
  free(s->x0);
  free(s->rows);
  free(s->cols);
  optrt_task_free(s->task);
}

static int slot_init(TaskSlot *s, const SearchTaskSpec *spec, uint64_t seed, char **err) {
  s->task = optrt_task_create(spec->name, seed, spec->options, err);
  if (!s->task) return -1;
  int n = s->ntensors = optrt_task_num_tensors(s->task);
  s->x = xcalloc((size_t)n, sizeof *s->x);
  s->g = xcalloc((size_t)n, sizeof *s->g);
  s->x0 = xcalloc((size_t)n, sizeof *s->x0);
  s->rows = xcalloc((size_t)n, sizeof *s->rows);
  s->cols = xcalloc((size_t)n, sizeof *s->cols);
  for (int i = 0; i < n; i++) {
    optrt_task_tensor(s->task, i, NULL, &s->rows[i], &s->cols[i]);
    size_t count = (size_t)(s->rows[i] * s->cols[i]);
    s->x[i] = xcalloc(count + 1, sizeof(float));
    s->g[i] = xcalloc(count + 1, sizeof(float));
    s->x0[i] = xcalloc(count + 1, sizeof(float));
  }
  optrt_task_init(s->task, s->x0);
  return 0;
}

static void blas_single_thread(void) {
  void *self = dlopen(NULL, RTLD_NOW);
  if (!self) return;
  void *sym = dlsym(self, "openblas_set_num_threads");
  void (*set)(int);
  memcpy(&set, &sym, sizeof set);
  if (set) set(1);
  dlclose(self);
}

SearchEvaluator *search_evaluator_create(const SearchTaskSpec *tasks, int ntasks, int workers,
                                         const char *anchor, uint64_t task_seed, char **err) {
  SearchEvaluator *e = xcalloc(1, sizeof *e);
  e->tasks = tasks;
  e->ntasks = ntasks;
  e->nworkers = workers;
  e->anchor = anchor;
  blas_single_thread();
  pthread_mutex_init(&e->lock, NULL);
  e->w = xcalloc((size_t)workers, sizeof *e->w);
  int rc = 0;
  for (int w = 0; w < workers && rc == 0; w++) {
    e->w[w].slots = xcalloc((size_t)ntasks + 1, sizeof *e->w[w].slots);
    for (int k = 0; k < ntasks && rc == 0; k++) rc = slot_init(&e->w[w].slots[k], &tasks[k], task_seed, err);
  }
  if (rc == 0) return e;
  search_evaluator_free(e);
  return NULL;
}

void search_evaluator_free(SearchEvaluator *e) {
  if (!e) return;
  for (int w = 0; w < e->nworkers; w++) {
    for (int k = 0; e->w[w].slots && k < e->ntasks; k++) slot_free(&e->w[w].slots[k]);
    free(e->w[w].slots);
  }
  free(e->w);
  pthread_mutex_destroy(&e->lock);
  free(e);
}

void search_evaluator_counts(SearchEvaluator *e, long *compiled, double *compile_ms) {
  pthread_mutex_lock(&e->lock);
  *compiled = e->compiled;
  *compile_ms = e->compile_ms;
  pthread_mutex_unlock(&e->lock);
}

/* ---- one run ---------------------------------------------------------------------- */

typedef struct Watch {
  OptrtObjective inner;
  double last;
} Watch;

static int watch_value_grad(void *user, double *loss, int want_grad) {
  Watch *w = user;
  int rc = w->inner.value_grad(w->inner.user, loss, want_grad);
  w->last = *loss;
  return rc;
}

/* The other callbacks pass through to the task (their user is the task). */
static int watch_hvp(void *user, const float *const *v, float *const *hv) {
  Watch *w = user;
  return w->inner.hvp(w->inner.user, v, hv);
}

static int watch_hessian(void *user, int param, double *out) {
  Watch *w = user;
  return w->inner.hessian(w->inner.user, param, out);
}

static int watch_gnb(void *user, float *const *out) {
  Watch *w = user;
  return w->inner.gnb_grad(w->inner.user, out);
}

static double loss_at(TaskSlot *s) {
  double f = NAN;
  optrt_task_set_step(s->task, 0);
  if (optrt_task_eval(s->task, (const float *const *)s->x, NULL, &f) != 0) return NAN;
  return f;
}

static bool steps_ok(Optrt *opt, TaskSlot *s, int steps, double f0) {
  Watch w = {.last = f0};
  optrt_task_objective(s->task, s->x, s->g, &w.inner);
  OptrtObjective obj = w.inner;
  obj.user = &w;
  obj.value_grad = watch_value_grad;
  obj.hvp = w.inner.hvp ? watch_hvp : NULL;
  obj.hessian = w.inner.hessian ? watch_hessian : NULL;
  obj.gnb_grad = w.inner.gnb_grad ? watch_gnb : NULL;
  for (int t = 1; t <= steps; t++) {
    optrt_task_set_step(s->task, (uint64_t)t);
    if (optrt_step_objective(opt, &obj) != 0) return false;
    if (!isfinite(w.last) || w.last > DIVERGE_FACTOR * fabs(f0)) return false;
  }
  return true;
}

static double score_of(TaskSlot *s, double f0) {
  if (optrt_task_flags(s->task) & OPTRT_TASK_HAS_ACCURACY) {
    double acc = 0;
    if (optrt_task_accuracy(s->task, (const float *const *)s->x, &acc) != 0 || !isfinite(acc)) return SEARCH_WORST;
    return 1 - acc;
  }
  double f = loss_at(s);
  if (!isfinite(f) || f > DIVERGE_FACTOR * fabs(f0)) return SEARCH_WORST;
  if (f0 <= 0) return f <= f0 ? 0 : SEARCH_WORST;
  return fmin(f / f0, SEARCH_WORST);
}

/* Score of one run with lr = lr (NAN: leave the program's lr alone);
 * NAN when lr is outside the hyper's range. */
static double run_once(TaskSlot *s, const OptrtKernel *kernel, double lr, int steps) {
  for (int i = 0; i < s->ntensors; i++)
    memcpy(s->x[i], s->x0[i], sizeof(float) * (size_t)(s->rows[i] * s->cols[i]));
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  cfg.seed = 1;
  char *err = NULL;
  Optrt *opt = optrt_create(kernel, &cfg, &err);
  free(err);
  if (!opt) return SEARCH_WORST;
  int group = optrt_add_group(opt, NULL);
  bool ok = group >= 0;
  for (int i = 0; i < s->ntensors && ok; i++) ok = optrt_add_param(opt, group, s->x[i], s->g[i], s->rows[i], s->cols[i]) >= 0;
  if (ok && !isnan(lr) && optrt_set_hyper(opt, group, "lr", lr) != 0) {
    optrt_destroy(opt);
    return NAN;
  }
  double f0 = loss_at(s);
  double score = ok && isfinite(f0) && steps_ok(opt, s, steps, f0) ? score_of(s, f0) : SEARCH_WORST;
  optrt_destroy(opt);
  return score;
}

static double lr_default(const OptkDescriptor *d) {
  for (uint32_t i = 0; i < d->nhyper; i++)
    if (!strcmp(d->hypers[i].name, "lr")) return d->hypers[i].def;
  return NAN;
}

static double task_score(TaskSlot *s, const OptrtKernel *kernel, double lr0, int steps) {
  if (isnan(lr0)) return run_once(s, kernel, NAN, steps);
  double best = SEARCH_WORST;
  for (int m = 0; m < 3; m++) {
    double v = run_once(s, kernel, lr0 * SEARCH_LR_MULTS[m], steps);
    if (v < best) best = v;
  }
  return best;
}

int search_evaluator_eval(void *user, int worker, const char *text, double *scores) {
  SearchEvaluator *e = user;
  for (int k = 0; k < e->ntasks; k++) scores[k] = SEARCH_WORST;
  OptcOptions o;
  optc_options_init(&o);
  /* Workers evaluating side by side already use the CPUs: a compile's
   * own code generation threads would only contend with them. */
  if (e->nworkers > 1) o.jit_threads = 1;
  OptcJit *jit = optc_jit_compile(e->anchor, text, strlen(text), &o);
  if (!jit) return -1;
  pthread_mutex_lock(&e->lock);
  e->compiled++;
  e->compile_ms += optc_jit_compile_ms(jit);
  pthread_mutex_unlock(&e->lock);
  char *err = NULL;
  OptrtKernel *kernel = optrt_wrap_descriptor(optc_jit_descriptor(jit), &err);
  free(err);
  if (kernel) {
    double lr0 = lr_default(optc_jit_descriptor(jit));
    for (int k = 0; k < e->ntasks; k++) scores[k] = task_score(&e->w[worker].slots[k], kernel, lr0, e->tasks[k].steps);
  }
  optrt_kernel_close(kernel);
  optc_jit_free(jit);
  return kernel ? 0 : -1;
}

/* ---- behaviour hash ---------------------------------------------------------------- */

static uint64_t probe_hash(Interp *in, float *p, float *g) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  SearchRng rng;
  search_rng_seed(&rng, 12345);
  char *err = NULL;
  for (int t = 1; t <= PROBE_STEPS; t++) {
    for (int i = 0; i < PROBE_N; i++) g[i] = (float)(2 * search_rng_unit(&rng) - 1);
    if (interp_step(in, 1.0 / t, &err) != 0) {
      free(err);
      return 0;
    }
    for (int i = 0; i < PROBE_N; i++) {
      char buf[32];
      int n = snprintf(buf, sizeof buf, "%.5e", (double)p[i]);
      h = util_hash_mix(h, util_hash_bytes(buf, (size_t)n, 3));
    }
  }
  return h;
}

uint64_t search_evaluator_behaviour(void *user, const char *text) {
  SearchEvaluator *e = user;
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink d;
  diag_init(&d, &sm, NULL, NULL);
  IrProgram ir;
  PipelineOptions po = {0};
  uint64_t h = 0;
  if (ir_pipeline_build_text(&ir, &sm, e->anchor, text, strlen(text), &d, NULL, &po) == 0) {
    char *err = NULL;
    InterpOptions io = {.seed = 7};
    Interp *in = interp_create(&ir, &io, &err);
    float p[PROBE_N], g[PROBE_N];
    for (int i = 0; i < PROBE_N; i++) p[i] = (float)(0.25 * ((i * 7) % 11) - 1.25), g[i] = 0;
    if (in && interp_add_tensor(in, p, g, PROBE_N, 1, &err) >= 0) h = probe_hash(in, p, g);
    free(err);
    interp_free(in);
  }
  ir_program_free(&ir);
  srcmgr_free(&sm);
  return h;
}

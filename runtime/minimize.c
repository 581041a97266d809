/* minimize.c: optrt_minimize, a driver that steps an optimizer until a
 * stop test holds (optrt_minimize.h has the protocol).
 *
 * The host's objective is wrapped in a counting objective.  Before each
 * step the wrapper is primed with the loss of the point just evaluated, and
 * answers the step's first value_grad(want_grad = 1) from it: the gradient
 * buffers already hold that point's gradient.  After each full evaluation
 * the wrapper keeps a copy of the parameters; when a step ends exactly on
 * the last point it evaluated (a line search's accepted step), the driver
 * takes that evaluation instead of making another.
 */
#include <math.h>
#include <string.h>

#include "optrt_minimize.h"
#include "rt_internal.h"

/* Defaults: enough steps for Newton-type rules on the MGH problems; a
 * gradient norm of 1e-6 is what float parameters can usually reach. */
#define MIN_DEFAULT_ITERS 1000
#define MIN_DEFAULT_GTOL 1e-6

typedef struct MinObj {
  Optrt *opt;
  const OptrtObjective *host;
  OptrtMinimizeReport *rep;
  int primed;        /* the next value_grad(1) is at the point just evaluated */
  double primed_loss;
  float *snap;       /* parameters of the last value_grad(1), all tensors */
  int64_t snap_len;
  int snap_valid;    /* snap and snap_loss describe the gradient buffers */
  double snap_loss;
} MinObj;

/* Calls fn(p, n, user) for every registered parameter in global order. */
static void each_param(Optrt *o, void (*fn)(const float *, int64_t, void *), void *user) {
  for (int gi = 0; gi < optrt_num_groups(o); gi++)
    for (int pi = 0; pi < optrt_num_params(o, gi); pi++) {
      int64_t n = 0;
      const float *p = optrt_state_data(o, gi, pi, "p", NULL, &n);
      if (p) fn(p, n, user);
    }
}

typedef struct SnapCursor {
  float *snap;
  int64_t off;
  int equal;
} SnapCursor;

static void snap_copy(const float *p, int64_t n, void *user) {
  SnapCursor *c = user;
  memcpy(c->snap + c->off, p, (size_t)n * sizeof(float));
  c->off += n;
}

static void snap_compare(const float *p, int64_t n, void *user) {
  SnapCursor *c = user;
  c->equal = c->equal && memcmp(c->snap + c->off, p, (size_t)n * sizeof(float)) == 0;
  c->off += n;
}

static void snap_take(MinObj *m, double loss) {
  if (!m->snap) return;
  SnapCursor c = {m->snap, 0, 1};
  each_param(m->opt, snap_copy, &c);
  m->snap_valid = 1;
  m->snap_loss = loss;
}

/* True when the parameters are bit for bit those of the last evaluation. */
static int snap_matches(MinObj *m) {
  if (!m->snap || !m->snap_valid) return 0;
  SnapCursor c = {m->snap, 0, 1};
  each_param(m->opt, snap_compare, &c);
  return c.equal;
}

static int min_value_grad(void *user, double *loss, int want_grad) {
  MinObj *m = user;
  if (m->primed && want_grad) {
    m->primed = 0;
    *loss = m->primed_loss;
    return 0;
  }
  m->primed = 0;
  m->snap_valid = 0;
  m->rep->fevals++;
  if (want_grad) m->rep->gevals++;
  int rc = m->host->value_grad(m->host->user, loss, want_grad);
  if (rc == 0 && want_grad) snap_take(m, *loss);
  return rc;
}

static int min_hvp(void *user, const float *const *v, float *const *hv) {
  MinObj *m = user;
  m->primed = 0;
  m->rep->hvps++;
  return m->host->hvp(m->host->user, v, hv);
}

static int min_gnb(void *user, float *const *out) {
  MinObj *m = user;
  m->primed = 0;
  m->rep->gnbs++;
  return m->host->gnb_grad(m->host->user, out);
}

static int min_hessian(void *user, int param, double *out) {
  MinObj *m = user;
  m->primed = 0;
  m->rep->hessians++;
  return m->host->hessian(m->host->user, param, out);
}

void optrt_minimize_options_init(OptrtMinimizeOptions *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->max_iters = MIN_DEFAULT_ITERS;
  o->gtol = MIN_DEFAULT_GTOL;
}

const char *optrt_minimize_stop_text(OptrtMinStop s) {
  switch (s) {
  case OPTRT_MIN_GTOL: return "gradient norm below gtol";
  case OPTRT_MIN_FTOL: return "relative decrease below ftol";
  case OPTRT_MIN_MAX_ITERS: return "maximum number of iterations";
  case OPTRT_MIN_CANCELLED: return "cancelled by the progress callback";
  case OPTRT_MIN_NONFINITE: return "non-finite loss or gradient";
  case OPTRT_MIN_FAILED: return "failed";
  }
  return "unknown stop reason";
}

/* 2-norm of every registered gradient, in double. */
static double grad_norm(Optrt *o) {
  double sq = 0;
  for (int gi = 0; gi < optrt_num_groups(o); gi++)
    for (int pi = 0; pi < optrt_num_params(o, gi); pi++) {
      int64_t n = 0;
      const float *g = optrt_state_data(o, gi, pi, "g", NULL, &n);
      for (int64_t i = 0; g && i < n; i++) sq += (double)g[i] * g[i];
    }
  return sqrt(sq);
}

/* Loss and gradient norm at the current point: from the step's own last
 * evaluation when it was made here, else from a new one. */
static int evaluate(Optrt *o, MinObj *m, OptrtMinimizeReport *rep) {
  double f = NAN;
  m->primed = 0;
  if (snap_matches(m)) {
    f = m->snap_loss;
  } else if (rep->fevals++, rep->gevals++, m->host->value_grad(m->host->user, &f, 1) != 0) {
    rep->stop = OPTRT_MIN_FAILED;
    return rt_error(o, "minimize: the objective failed after %lld steps", (long long)rep->iters);
  }
  rep->loss = f;
  rep->gnorm = grad_norm(o);
  if (!isfinite(f) || !isfinite(rep->gnorm)) {
    rep->stop = OPTRT_MIN_NONFINITE;
    return rt_error(o, "minimize: non-finite %s after %lld steps",
                    isfinite(f) ? "gradient" : "loss", (long long)rep->iters);
  }
  return 0;
}

static int check_args(Optrt *o, const OptrtObjective *obj, const OptrtMinimizeOptions *p) {
  if (!obj || !obj->value_grad) return rt_error(o, "minimize: the objective has no value_grad");
  if (p->max_iters < 0) return rt_error(o, "minimize: max_iters must be >= 0");
  if (!(p->gtol >= 0) || !(p->ftol >= 0))
    return rt_error(o, "minimize: gtol and ftol must be >= 0");
  return 0;
}

/* The stop test at the current point; fprev is the loss before the step. */
static int should_stop(const OptrtMinimizeOptions *p, OptrtMinimizeReport *rep, double fprev) {
  if (p->progress && p->progress(p->progress_user, rep->iters, rep->loss, rep->gnorm))
    rep->stop = OPTRT_MIN_CANCELLED;
  else if (rep->gnorm <= p->gtol)
    rep->stop = OPTRT_MIN_GTOL;
  else if (rep->iters > 0 && p->ftol > 0 &&
           fabs(fprev - rep->loss) <= p->ftol * fmax(fmax(fabs(fprev), fabs(rep->loss)), 1.0))
    rep->stop = OPTRT_MIN_FTOL;
  else if (rep->iters >= p->max_iters)
    rep->stop = OPTRT_MIN_MAX_ITERS;
  else
    return 0;
  return 1;
}

/* The stepping loop; m->snap is allocated here and freed by the caller. */
static int minimize_loop(Optrt *o, MinObj *m, const OptrtObjective *w,
                         const OptrtMinimizeOptions *p, OptrtMinimizeReport *rep) {
  for (int gi = 0; gi < optrt_num_groups(o); gi++)
    for (int pi = 0; pi < optrt_num_params(o, gi); pi++) {
      int64_t n = 0;
      optrt_state_data(o, gi, pi, "p", NULL, &n);
      m->snap_len += n;
    }
  m->snap = rt_malloc(&o->alloc, (size_t)m->snap_len * sizeof(float) + 8);
  if (evaluate(o, m, rep)) return -1;
  double fprev = rep->loss;
  while (!should_stop(p, rep, fprev)) {
    m->primed = 1;
    m->primed_loss = rep->loss;
    fprev = rep->loss;
    if (optrt_step_objective(o, w) != 0) {
      rep->stop = OPTRT_MIN_FAILED;
      return -1;
    }
    rep->iters++;
    if (evaluate(o, m, rep)) return -1;
  }
  return 0;
}

int optrt_minimize(Optrt *o, const OptrtObjective *obj, const OptrtMinimizeOptions *opts,
                   OptrtMinimizeReport *report) {
  OptrtMinimizeReport local;
  OptrtMinimizeReport *rep = report ? report : &local;
  OptrtMinimizeOptions defaults;
  optrt_minimize_options_init(&defaults);
  const OptrtMinimizeOptions *p = opts ? opts : &defaults;
  memset(rep, 0, sizeof *rep);
  rep->stop = OPTRT_MIN_FAILED;
  rep->loss = rep->gnorm = NAN;
  if (!o) return -1;
  if (check_args(o, obj, p)) return -1;
  MinObj m = {.opt = o, .host = obj, .rep = rep};
  OptrtObjective w = {&m, min_value_grad, obj->hvp ? min_hvp : NULL,
                      obj->hessian ? min_hessian : NULL, obj->gnb_grad ? min_gnb : NULL};
  int rc = minimize_loop(o, &m, &w, p, rep);
  rt_free(&o->alloc, m.snap);
  return rc;
}

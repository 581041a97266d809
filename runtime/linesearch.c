/* linesearch.c: backtracking Armijo and the More-Thuente strong Wolfe
 * search (J. J. More and D. J. Thuente, "Line search algorithms with
 * guaranteed sufficient decrease", ACM TOMS 20(3), 1994), written from the
 * paper's description.  The contract with the callback is in linesearch.h.
 *
 * More-Thuente keeps two end points: x, the best step so far (lowest phi
 * among steps that satisfy the paper's conditions), and y, the other end of
 * the interval of uncertainty.  Each trial p updates the interval by the
 * paper's four cases and proposes the next trial from cubic and quadratic
 * interpolants, safeguarded into [lo, hi].  While no step has both
 * sufficient decrease and phi' >= 0 ("stage 1"), the updates run on the
 * auxiliary function psi(a) = phi(a) - phi(0) - c1 a phi'(0).
 */
#include <math.h>
#include <stddef.h>

#include "linesearch.h"

/* Extrapolation bounds of M-T before a bracket exists: the next trial
 * lies in [p + 1.1 (p - x), p + 4 (p - x)] (the paper's delta_min, max). */
#define MT_EXTRAP_LO 1.1
#define MT_EXTRAP_HI 4.0
/* A bracket that has not shrunk to 66% in two trials is bisected. */
#define MT_SHRINK 0.66
/* Armijo keeps an interpolated step within these fractions of the last. */
#define ARMIJO_SHRINK_MIN 0.1
#define ARMIJO_SHRINK_MAX 0.5

OptrtLsParams optrt_ls_defaults(OptrtLsMethod method) {
  OptrtLsParams p = {.step0 = 1.0, .c1 = 1e-4, .c2 = 0.9, .max_step = 1e20,
                     .min_step = 1e-20, .xtol = 1e-12, .max_evals = 40};
  if (method == OPTRT_LS_METHOD_MORE_THUENTE) p.max_evals = 20;
  return p;
}

const char *optrt_ls_status_text(OptrtLsStatus s) {
  switch (s) {
  case OPTRT_LS_OK: return "ok";
  case OPTRT_LS_NOT_DESCENT: return "not a descent direction";
  case OPTRT_LS_NO_DECREASE: return "no sufficient decrease above the minimum step";
  case OPTRT_LS_MAX_EVALS: return "maximum number of evaluations reached";
  case OPTRT_LS_NONFINITE: return "non-finite function values";
  case OPTRT_LS_ROUNDING: return "rounding errors prevent progress";
  case OPTRT_LS_XTOL: return "interval of uncertainty below xtol";
  case OPTRT_LS_MAX_STEP: return "step at the maximum step";
  case OPTRT_LS_MIN_STEP: return "step at the minimum step";
  case OPTRT_LS_CALLBACK_FAILED: return "objective evaluation failed";
  case OPTRT_LS_BAD_PARAMS: return "invalid line search parameters";
  }
  return "unknown line search status";
}

static int params_ok(const OptrtLsParams *p, int wolfe) {
  if (!(p->step0 > 0 && p->c1 > 0 && p->c1 < 1 && p->min_step > 0)) return 0;
  if (!(p->min_step <= p->max_step && isfinite(p->max_step) && p->xtol >= 0)) return 0;
  if (p->max_evals < 1) return 0;
  return !wolfe || (p->c2 >= p->c1 && p->c2 < 1);
}

/* Common entry checks; returns OPTRT_LS_OK when the search may start. */
static OptrtLsStatus ls_start(OptrtLsEval eval, double phi0, double dphi0,
                              const OptrtLsParams *p, int wolfe, OptrtLsResult *r) {
  r->alpha = 0.0, r->phi = phi0, r->dphi = dphi0, r->nevals = 0;
  if (!eval || !p || !params_ok(p, wolfe)) return r->status = OPTRT_LS_BAD_PARAMS;
  if (!isfinite(phi0) || !isfinite(dphi0)) return r->status = OPTRT_LS_NONFINITE;
  if (!(dphi0 < 0)) return r->status = OPTRT_LS_NOT_DESCENT;
  return r->status = OPTRT_LS_OK;
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- Armijo ----------------------------------------------------------------- */

/* Minimiser of the quadratic through phi(0), phi'(0) and phi(a) = f. */
static double quad_step(double phi0, double dphi0, double a, double f) {
  return -dphi0 * a * a / (2.0 * (f - phi0 - dphi0 * a));
}

/* Minimiser of the cubic through phi(0), phi'(0), phi(a0) = f0 and
 * phi(a1) = f1 (Nocedal and Wright, eq. 3.58); NaN when it has none. */
static double cubic_step(double phi0, double dphi0, double a0, double f0, double a1, double f1) {
  double d0 = f0 - phi0 - dphi0 * a0, d1 = f1 - phi0 - dphi0 * a1;
  double den = a0 * a0 * a1 * a1 * (a1 - a0);
  double ca = (a0 * a0 * d1 - a1 * a1 * d0) / den;
  double cb = (-a0 * a0 * a0 * d1 + a1 * a1 * a1 * d0) / den;
  if (ca == 0.0) return -dphi0 / (2.0 * cb);
  double disc = cb * cb - 3.0 * ca * dphi0;
  return disc < 0 ? NAN : (-cb + sqrt(disc)) / (3.0 * ca);
}

typedef struct ArmijoTrail {
  double a0, f0; /* the previous finite rejected trial */
  int have;
} ArmijoTrail;

static double armijo_next(const ArmijoTrail *tr, double phi0, double dphi0, double a, double f) {
  double next = tr->have ? cubic_step(phi0, dphi0, tr->a0, tr->f0, a, f)
                         : quad_step(phi0, dphi0, a, f);
  if (!isfinite(next)) next = ARMIJO_SHRINK_MAX * a;
  return clamp(next, ARMIJO_SHRINK_MIN * a, ARMIJO_SHRINK_MAX * a);
}

static void keep_best(OptrtLsResult *r, double a, double f, double g) {
  if (f < r->phi) r->alpha = a, r->phi = f, r->dphi = g;
}

OptrtLsStatus optrt_ls_armijo(OptrtLsEval eval, void *user, double phi0, double dphi0,
                              const OptrtLsParams *p, OptrtLsResult *r) {
  if (ls_start(eval, phi0, dphi0, p, 0, r) != OPTRT_LS_OK) return r->status;
  ArmijoTrail tr = {0, 0, 0};
  double a = clamp(p->step0, p->min_step, p->max_step);
  int seen_finite = 0;
  for (;;) {
    if (r->nevals >= p->max_evals)
      return r->status = seen_finite ? OPTRT_LS_MAX_EVALS : OPTRT_LS_NONFINITE;
    if (a < p->min_step) return r->status = seen_finite ? OPTRT_LS_NO_DECREASE : OPTRT_LS_NONFINITE;
    double f = NAN, g = NAN;
    r->nevals++;
    if (eval(user, a, &f, &g)) return r->status = OPTRT_LS_CALLBACK_FAILED;
    if (!isfinite(f) || !isfinite(g)) {
      tr.have = 0;
      a *= 0.5;
      continue;
    }
    seen_finite = 1;
    if (f <= phi0 + p->c1 * a * dphi0) {
      r->alpha = a, r->phi = f, r->dphi = g;
      return r->status = OPTRT_LS_OK;
    }
    keep_best(r, a, f, g);
    double next = armijo_next(&tr, phi0, dphi0, a, f);
    tr = (ArmijoTrail){a, f, 1};
    a = next;
  }
}

/* ---- More-Thuente ----------------------------------------------------------- */

typedef struct MtPoint {
  double a, f, g; /* step, phi (or psi), derivative */
} MtPoint;

typedef struct MtBracket {
  MtPoint x, y;  /* best step; other end of the interval */
  int bracketed; /* a minimiser is known to lie between x and y */
} MtBracket;

/* The cubic through (u, fu, du) and (v, fv, dv) has its minimiser at
 * u + r (v - u); returns r and the cubic's gamma (0 when it degenerates). */
static double cubic_ratio(MtPoint u, MtPoint v, double *gamma_out) {
  double theta = 3.0 * (u.f - v.f) / (v.a - u.a) + u.g + v.g;
  double s = fmax(fabs(theta), fmax(fabs(u.g), fabs(v.g)));
  double disc = (theta / s) * (theta / s) - (u.g / s) * (v.g / s);
  double gamma = s * sqrt(fmax(disc, 0.0));
  if (v.a < u.a) gamma = -gamma;
  *gamma_out = gamma;
  return ((gamma - u.g) + theta) / (((gamma - u.g) + gamma) + v.g);
}

static double cubic_at(MtPoint u, MtPoint v) {
  double gamma;
  return u.a + cubic_ratio(u, v, &gamma) * (v.a - u.a);
}

/* Minimiser of the quadratic through f and g at x and f at p. */
static double quad_fg(MtPoint x, MtPoint p) {
  return x.a + x.g / ((x.f - p.f) / (p.a - x.a) + x.g) / 2.0 * (p.a - x.a);
}

/* Zero of the secant of the derivatives at p and x. */
static double secant(MtPoint p, MtPoint x) { return p.a + p.g / (p.g - x.g) * (x.a - p.a); }

/* Case 3 of the paper: lower phi, derivative of the same sign, smaller in
 * magnitude: extrapolate, but not past the bracket's far end. */
static double mt_case3(const MtBracket *b, MtPoint p, double lo, double hi) {
  MtPoint x = b->x;
  double gamma, r = cubic_ratio(p, x, &gamma);
  double c = (r < 0 && gamma != 0) ? p.a + r * (x.a - p.a) : (p.a > x.a ? hi : lo);
  double q = secant(p, x), next;
  if (b->bracketed) {
    next = fabs(c - p.a) < fabs(q - p.a) ? c : q;
    double lim = p.a + MT_SHRINK * (b->y.a - p.a);
    return p.a > x.a ? fmin(lim, next) : fmax(lim, next);
  }
  next = fabs(c - p.a) > fabs(q - p.a) ? c : q;
  return clamp(next, lo, hi);
}

/* The safeguarded step of the paper: proposes the next trial from the
 * trial p and updates the bracket.  lo, hi bound extrapolation. */
static double mt_step(MtBracket *b, MtPoint p, double lo, double hi) {
  MtPoint x = b->x;
  double sgnd = x.g < 0 ? -p.g : p.g; /* < 0: derivatives of opposite signs */
  double next;
  if (p.f > x.f) { /* case 1: higher phi, the minimiser is bracketed */
    double c = cubic_at(x, p), q = quad_fg(x, p);
    next = fabs(c - x.a) < fabs(q - x.a) ? c : c + (q - c) / 2.0;
    b->bracketed = 1;
  } else if (sgnd < 0) { /* case 2: derivatives change sign */
    double c = cubic_at(p, x), q = secant(p, x);
    next = fabs(c - p.a) > fabs(q - p.a) ? c : q;
    b->bracketed = 1;
  } else if (fabs(p.g) < fabs(x.g)) { /* case 3 */
    next = mt_case3(b, p, lo, hi);
  } else { /* case 4: derivative does not decrease */
    next = b->bracketed ? cubic_at(p, b->y) : (p.a > x.a ? hi : lo);
  }
  if (p.f > x.f) {
    b->y = p;
  } else {
    if (sgnd < 0) b->y = b->x;
    b->x = p;
  }
  return next;
}

static MtPoint psi_of(MtPoint p, double gtest) {
  return (MtPoint){p.a, p.f - p.a * gtest, p.g - gtest};
}

static MtPoint phi_of(MtPoint p, double gtest) {
  return (MtPoint){p.a, p.f + p.a * gtest, p.g + gtest};
}

/* mt_step on psi instead of phi (stage 1 of the paper). */
static double mt_step_psi(MtBracket *b, MtPoint p, double gtest, double lo, double hi) {
  MtBracket m = {psi_of(b->x, gtest), psi_of(b->y, gtest), b->bracketed};
  double next = mt_step(&m, psi_of(p, gtest), lo, hi);
  b->x = phi_of(m.x, gtest);
  b->y = phi_of(m.y, gtest);
  b->bracketed = m.bracketed;
  return next;
}

typedef struct MtSearch {
  const OptrtLsParams *p;
  double phi0, dphi0, gtest;
  MtBracket b;
  int stage;            /* 1 until a step has sufficient decrease and phi' >= 0 */
  double lo, hi;        /* bounds of the next trial */
  double width, width1; /* bracket widths of the last two trials */
  double bad;           /* smallest step with non-finite values */
} MtSearch;

/* Stop tests after trial p.  When several hold, convergence wins, then
 * the step bounds, then the interval tests (MINPACK-2's precedence). */
static int mt_done(const MtSearch *s, MtPoint p, OptrtLsStatus *st) {
  const OptrtLsParams *q = s->p;
  double ftest = s->phi0 + p.a * s->gtest;
  *st = OPTRT_LS_OK;
  if (p.f <= ftest && fabs(p.g) <= q->c2 * -s->dphi0) return 1;
  if (p.a == q->min_step && (p.f > ftest || p.g >= s->gtest)) *st = OPTRT_LS_MIN_STEP;
  else if (p.a == q->max_step && p.f <= ftest && p.g <= s->gtest) *st = OPTRT_LS_MAX_STEP;
  else if (s->b.bracketed && s->hi - s->lo <= q->xtol * s->hi) *st = OPTRT_LS_XTOL;
  else if (s->b.bracketed && (p.a <= s->lo || p.a >= s->hi)) *st = OPTRT_LS_ROUNDING;
  else return 0;
  return 1;
}

/* Next trial after the finite trial p. */
static double mt_next(MtSearch *s, MtPoint p) {
  MtBracket *b = &s->b;
  double ftest = s->phi0 + p.a * s->gtest;
  if (s->stage == 1 && p.f <= ftest && p.g >= 0) s->stage = 2;
  double a = (s->stage == 1 && p.f <= b->x.f && p.f > ftest)
                 ? mt_step_psi(b, p, s->gtest, s->lo, s->hi)
                 : mt_step(b, p, s->lo, s->hi);
  if (b->bracketed) {
    if (fabs(b->y.a - b->x.a) >= MT_SHRINK * s->width1) a = b->x.a + 0.5 * (b->y.a - b->x.a);
    s->width1 = s->width;
    s->width = fabs(b->y.a - b->x.a);
    s->lo = fmin(b->x.a, b->y.a), s->hi = fmax(b->x.a, b->y.a);
  } else {
    s->lo = a + MT_EXTRAP_LO * (a - b->x.a), s->hi = a + MT_EXTRAP_HI * (a - b->x.a);
  }
  a = clamp(a, s->p->min_step, s->p->max_step);
  if (a >= s->bad) a = b->x.a + 0.5 * (s->bad - b->x.a);
  if (b->bracketed && (a <= s->lo || a >= s->hi || s->hi - s->lo <= s->p->xtol * s->hi))
    a = b->x.a;
  return a;
}

static OptrtLsStatus mt_fail(const MtSearch *s, OptrtLsStatus st, OptrtLsResult *r) {
  r->alpha = s->b.x.a, r->phi = s->b.x.f, r->dphi = s->b.x.g;
  return r->status = st;
}

OptrtLsStatus optrt_ls_more_thuente(OptrtLsEval eval, void *user, double phi0, double dphi0,
                                    const OptrtLsParams *p, OptrtLsResult *r) {
  if (ls_start(eval, phi0, dphi0, p, 1, r) != OPTRT_LS_OK) return r->status;
  MtPoint origin = {0.0, phi0, dphi0};
  double a = clamp(p->step0, p->min_step, p->max_step);
  MtSearch s = {p, phi0, dphi0, p->c1 * dphi0, {origin, origin, 0}, 1,
                0.0, a + MT_EXTRAP_HI * a, p->max_step - p->min_step,
                2.0 * (p->max_step - p->min_step), INFINITY};
  int seen_finite = 0;
  for (;;) {
    if (r->nevals >= p->max_evals)
      return mt_fail(&s, seen_finite ? OPTRT_LS_MAX_EVALS : OPTRT_LS_NONFINITE, r);
    MtPoint t = {a, NAN, NAN};
    r->nevals++;
    if (eval(user, a, &t.f, &t.g)) return mt_fail(&s, OPTRT_LS_CALLBACK_FAILED, r);
    if (!isfinite(t.f) || !isfinite(t.g)) {
      s.bad = a;
      a = s.b.x.a + 0.5 * (a - s.b.x.a);
      continue;
    }
    seen_finite = 1;
    OptrtLsStatus st;
    if (mt_done(&s, t, &st)) { /* success, or a warning: both end at the trial */
      r->alpha = t.a, r->phi = t.f, r->dphi = t.g;
      return r->status = st;
    }
    a = mt_next(&s, t);
  }
}

OptrtLsStatus optrt_ls_search(OptrtLsMethod method, OptrtLsEval eval, void *user, double phi0,
                              double dphi0, const OptrtLsParams *params, OptrtLsResult *r) {
  if (method == OPTRT_LS_METHOD_MORE_THUENTE)
    return optrt_ls_more_thuente(eval, user, phi0, dphi0, params, r);
  return optrt_ls_armijo(eval, user, phi0, dphi0, params, r);
}

/* linesearch.h: one-dimensional line searches of liboptrt.
 *
 * The searches work on phi(alpha) = f(x0 + alpha d) and its derivative
 * phi'(alpha) = grad f(x0 + alpha d) . d through a callback; they know
 * nothing of parameters.  The caller passes phi(0) and phi'(0), which it
 * already has, so a search makes no evaluation at alpha = 0.
 *
 * The callback contract
 * - eval(user, alpha, &phi, &dphi) moves the caller's point to
 *   x0 + alpha d, evaluates there, and returns 0; nonzero means the
 *   objective failed (status OPTRT_LS_CALLBACK_FAILED, the search stops).
 *   NaN or infinite values are allowed: the search treats the step as too
 *   long and backtracks.
 * - alpha is always in (0, max_step]; evaluations happen in the order the
 *   search needs them, at most max_evals of them.
 * - On OPTRT_LS_OK the last evaluation was at the returned alpha, so the
 *   caller's point and gradient are already there.  On any other status
 *   the caller must restore x0 (the search cannot move it back).  The
 *   result then holds the last trial for the More-Thuente warnings
 *   (ROUNDING, XTOL, MAX_STEP, MIN_STEP: the best the search could do,
 *   which a caller may still take), and otherwise the step with the lowest
 *   finite phi seen (alpha 0 with phi(0) when none was below phi(0)).
 *
 * Symbols are exported so that hosts and tests can call them; the
 * optimizer runtime reaches them through OPTK_OP_LINESEARCH.
 */
#ifndef OPTRT_LINESEARCH_H
#define OPTRT_LINESEARCH_H

/* Same definition as optrt.h, so either header may come first. */
#ifndef OPTRT_API
#if defined(OPTRT_BUILDING) && defined(__GNUC__)
#define OPTRT_API __attribute__((visibility("default")))
#else
#define OPTRT_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*OptrtLsEval)(void *user, double alpha, double *phi, double *dphi);

typedef enum OptrtLsMethod {
  OPTRT_LS_METHOD_ARMIJO = 0,      /* backtracking, sufficient decrease only */
  OPTRT_LS_METHOD_MORE_THUENTE = 1 /* strong Wolfe, More & Thuente (1994) */
} OptrtLsMethod;

typedef struct OptrtLsParams {
  double step0;    /* first trial step (> 0) */
  double c1;       /* sufficient decrease: phi(a) <= phi(0) + c1 a phi'(0) */
  double c2;       /* curvature (strong Wolfe): |phi'(a)| <= c2 |phi'(0)| */
  double max_step; /* largest step tried */
  double min_step; /* smallest step tried */
  double xtol;     /* relative width of the bracket at which M-T gives up */
  int max_evals;   /* evaluations of the callback, at most */
} OptrtLsParams;

typedef enum OptrtLsStatus {
  OPTRT_LS_OK = 0,             /* the conditions hold at alpha */
  OPTRT_LS_NOT_DESCENT,        /* phi'(0) >= 0: no evaluation made */
  OPTRT_LS_NO_DECREASE,        /* Armijo: step fell below min_step */
  OPTRT_LS_MAX_EVALS,          /* max_evals reached without success */
  OPTRT_LS_NONFINITE,          /* only non-finite values, or phi(0) not finite */
  OPTRT_LS_ROUNDING,           /* M-T: rounding errors prevent progress */
  OPTRT_LS_XTOL,               /* M-T: bracket narrower than xtol */
  OPTRT_LS_MAX_STEP,           /* M-T: decreasing up to max_step */
  OPTRT_LS_MIN_STEP,           /* M-T: no acceptable step above min_step */
  OPTRT_LS_CALLBACK_FAILED,    /* the callback returned nonzero */
  OPTRT_LS_BAD_PARAMS          /* parameters out of range: none made */
} OptrtLsStatus;

typedef struct OptrtLsResult {
  double alpha;         /* accepted step (best step on failure) */
  double phi, dphi;     /* phi and phi' at alpha */
  int nevals;           /* callback calls made */
  OptrtLsStatus status;
} OptrtLsResult;

/* Defaults: step0 1, c1 1e-4, c2 0.9 (Armijo ignores it), max_step 1e20,
 * min_step 1e-20, xtol 1e-12, max_evals 40 (Armijo) or 20 (M-T). */
OPTRT_API OptrtLsParams optrt_ls_defaults(OptrtLsMethod method);
OPTRT_API const char *optrt_ls_status_text(OptrtLsStatus status);

/* Backtracking: accepts the first trial with sufficient decrease; after a
 * rejected finite trial the next is the minimiser of a quadratic (first)
 * or cubic (later) interpolant, kept in [0.1, 0.5] times the last step;
 * after a non-finite trial the step is halved. */
OPTRT_API OptrtLsStatus optrt_ls_armijo(OptrtLsEval eval, void *user, double phi0,
                                        double dphi0, const OptrtLsParams *params,
                                        OptrtLsResult *result);

/* Strong Wolfe with the More-Thuente interval updates and safeguarded
 * cubic/quadratic steps.  A non-finite trial halves the distance to the
 * best step and caps later trials below it. */
OPTRT_API OptrtLsStatus optrt_ls_more_thuente(OptrtLsEval eval, void *user, double phi0,
                                              double dphi0, const OptrtLsParams *params,
                                              OptrtLsResult *result);

/* Either of the two by method. */
OPTRT_API OptrtLsStatus optrt_ls_search(OptrtLsMethod method, OptrtLsEval eval, void *user,
                                        double phi0, double dphi0, const OptrtLsParams *params,
                                        OptrtLsResult *result);

#ifdef __cplusplus
}
#endif

#endif

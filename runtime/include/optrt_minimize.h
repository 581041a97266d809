/* optrt_minimize.h: a minimize driver for deterministic problems (public).
 *
 * optrt_minimize() steps an optimizer (optrt_step_objective) until the
 * gradient norm, the relative decrease of the loss or the iteration count
 * says stop, and counts the objective's calls.  It suits rules such as
 * Newton, BFGS or gradient descent with a line search on a deterministic
 * objective; docs/tasks.md describes it with the tasks it is used on.
 *
 * Evaluation protocol: the driver evaluates the loss and gradient at the
 * starting point and after every step (value_grad with want_grad = 1), so
 * the stop tests and the progress callback see the current point.  The
 * evaluation optrt_step_objective makes at the start of each step is
 * answered from that evaluation (the point has not moved), so a step costs
 * one evaluation plus what the rule itself asks for (line search trials,
 * hvp, Hessian).  The gradient norm is the 2-norm over every registered
 * gradient buffer of every group, summed in double.
 */
#ifndef OPTRT_MINIMIZE_H
#define OPTRT_MINIMIZE_H

#include <stdint.h>

#include "optrt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum OptrtMinStop {
  OPTRT_MIN_GTOL = 0,      /* gradient norm <= gtol */
  OPTRT_MIN_FTOL = 1,      /* |f_prev - f| <= ftol * max(|f_prev|, |f|, 1) */
  OPTRT_MIN_MAX_ITERS = 2, /* max_iters steps taken */
  OPTRT_MIN_CANCELLED = 3, /* the progress callback returned nonzero */
  OPTRT_MIN_NONFINITE = 4, /* loss or gradient not finite (an error) */
  OPTRT_MIN_FAILED = 5     /* the objective or a step failed (an error) */
} OptrtMinStop;

typedef struct OptrtMinimizeOptions {
  int64_t max_iters; /* steps at most (default 1000) */
  double gtol;       /* gradient-norm tolerance (default 1e-6; 0: off) */
  double ftol;       /* relative-decrease tolerance (default 0: off) */
  /* Called at the start and after every step with the step count, the
   * loss and the gradient norm at the current point; nonzero cancels.
   * May be NULL. */
  int (*progress)(void *user, int64_t iter, double loss, double gnorm);
  void *progress_user;
} OptrtMinimizeOptions;

typedef struct OptrtMinimizeReport {
  int64_t iters;                          /* steps taken */
  int64_t fevals, gevals, hvps, hessians; /* calls of the objective's callbacks */
  double loss, gnorm;                     /* at the final point */
  OptrtMinStop stop;
  int64_t gnbs;                           /* calls of the objective's gnb_grad */
} OptrtMinimizeReport;

OPTRT_API void optrt_minimize_options_init(OptrtMinimizeOptions *opts);
/* Returns 0 when stopped by GTOL, FTOL, MAX_ITERS or CANCELLED, and -1 on
 * NONFINITE, FAILED or bad arguments (text in optrt_last_error).  opts
 * NULL: defaults.  report is filled in either case (when not NULL). */
OPTRT_API int optrt_minimize(Optrt *opt, const OptrtObjective *obj,
                             const OptrtMinimizeOptions *opts, OptrtMinimizeReport *report);
OPTRT_API const char *optrt_minimize_stop_text(OptrtMinStop stop);

#ifdef __cplusplus
}
#endif

#endif

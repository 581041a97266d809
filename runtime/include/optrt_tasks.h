/* optrt_tasks.h: built-in optimization tasks of liboptrt (public API).
 *
 * A task is an objective with its parameters: `optc run`, `optc search`,
 * the examples and the tests create one by name, read its tensor shapes
 * and initial values, and evaluate loss, gradient and (where they exist)
 * Hessian-vector products and the dense Hessian.  docs/tasks.md lists
 * every task with its formula, options, starting point and known minimum.
 *
 * Conventions
 * - Parameters are a list of tensors (rows x cols, row-major).  The float
 *   entry points take one array per tensor; the `_d` entry points take one
 *   flat double vector, the tensors concatenated in order (n elements).
 *   Tasks compute in double (the MLP computes its matrix products in float
 *   with cblas_sgemm and accumulates the loss in double).
 * - Everything is deterministic from the seed.  Stochastic tasks (flag
 *   OPTRT_TASK_STOCHASTIC) draw their noise or minibatch from
 *   (seed, step); set the step with optrt_task_set_step().
 * - A task holds scratch memory: one task must not be evaluated from two
 *   threads at once.  Create one task per thread instead.
 * - Entry points return 0 on success and -1 when the task lacks the
 *   quantity (see the flags) or an argument is NULL.
 */
#ifndef OPTRT_TASKS_H
#define OPTRT_TASKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same definition as optrt.h, so either header may come first. */
#ifndef OPTRT_API
#if defined(OPTRT_BUILDING) && defined(__GNUC__)
#define OPTRT_API __attribute__((visibility("default")))
#else
#define OPTRT_API
#endif
#endif

typedef struct OptrtTask OptrtTask;

enum {
  OPTRT_TASK_HAS_HVP = 1u << 0,       /* optrt_task_hvp works */
  OPTRT_TASK_HAS_HESSIAN = 1u << 1,   /* optrt_task_hessian works */
  OPTRT_TASK_STOCHASTIC = 1u << 2,    /* loss and gradient depend on the step */
  OPTRT_TASK_HAS_ACCURACY = 1u << 3,  /* optrt_task_accuracy works */
  OPTRT_TASK_HAS_OPTIMUM = 1u << 4,   /* optrt_task_optimum gives f* */
  OPTRT_TASK_HAS_MINIMIZER = 1u << 5, /* optrt_task_minimizer_d gives an x* */
  OPTRT_TASK_HAS_GNB = 1u << 6        /* optrt_task_gnb works (classifiers) */
};

/* Creates task `name` with data and starting point drawn from `seed`.
 * `options` is NULL, "" or "key=value,key=value" (see docs/tasks.md).
 * On failure returns NULL and, if err is not NULL, sets *err to a message
 * allocated with malloc (release it with free()); an unknown name lists
 * the known ones. */
OPTRT_API OptrtTask *optrt_task_create(const char *name, uint64_t seed,
                                       const char *options, char **err);
OPTRT_API void optrt_task_free(OptrtTask *task);

/* The registry: names and one-line summaries, index 0 .. count-1. */
OPTRT_API int optrt_task_count(void);
OPTRT_API const char *optrt_task_name_at(int index);
OPTRT_API const char *optrt_task_summary_at(int index);

OPTRT_API const char *optrt_task_name(const OptrtTask *task);
OPTRT_API unsigned optrt_task_flags(const OptrtTask *task);
OPTRT_API int optrt_task_num_tensors(const OptrtTask *task);
/* Name ("w", "W1", ...), rows and cols of tensor i; -1 if i is out of range. */
OPTRT_API int optrt_task_tensor(const OptrtTask *task, int i, const char **name,
                                int64_t *rows, int64_t *cols);
/* Total number of parameters n (sum of rows * cols). */
OPTRT_API int64_t optrt_task_dim(const OptrtTask *task);
/* Option value after defaults were applied; NAN for an unknown key. */
OPTRT_API double optrt_task_option(const OptrtTask *task, const char *key);

/* The step keying the noise or minibatch of a stochastic task (default 0). */
OPTRT_API void optrt_task_set_step(OptrtTask *task, uint64_t step);

/* ---- float entry points: one array per tensor ------------------------- */
OPTRT_API int optrt_task_init(const OptrtTask *task, float *const *x);
/* loss at x; gradient into g unless g is NULL. */
OPTRT_API int optrt_task_eval(OptrtTask *task, const float *const *x, float *const *g,
                              double *loss);
OPTRT_API int optrt_task_hvp(OptrtTask *task, const float *const *x,
                             const float *const *v, float *const *hv);
/* Sophia's Gauss-Newton-Bartlett sample: the gradient of the data term of
 * the loss (no L2 term) over the step's examples with every label
 * replaced by one drawn from the model's predictive distribution at x.
 * The draws are keyed by (seed, step, number of gnb calls made at this
 * step), so a run reproduces; each call draws new labels. */
OPTRT_API int optrt_task_gnb(OptrtTask *task, const float *const *x, float *const *out);
/* Dense Hessian, n x n row-major doubles, flat parameter order. */
OPTRT_API int optrt_task_hessian(OptrtTask *task, const float *const *x, double *h);
/* Fraction of the whole data set classified correctly (classifiers). */
OPTRT_API int optrt_task_accuracy(OptrtTask *task, const float *const *x, double *acc);

/* ---- double entry points: one flat vector of n elements --------------- */
OPTRT_API int optrt_task_init_d(const OptrtTask *task, double *x);
OPTRT_API int optrt_task_eval_d(OptrtTask *task, const double *x, double *g, double *loss);
OPTRT_API int optrt_task_hvp_d(OptrtTask *task, const double *x, const double *v,
                               double *hv);
OPTRT_API int optrt_task_gnb_d(OptrtTask *task, const double *x, double *out);
OPTRT_API int optrt_task_hessian_d(OptrtTask *task, const double *x, double *h);
OPTRT_API int optrt_task_accuracy_d(OptrtTask *task, const double *x, double *acc);

/* The known minimum value f* (of the expected loss for noisy_quadratic). */
OPTRT_API int optrt_task_optimum(const OptrtTask *task, double *fstar);
/* A known minimiser x* (n doubles), where f(x*) = f*. */
OPTRT_API int optrt_task_minimizer_d(const OptrtTask *task, double *x);

/* ---- the task as the runtime's objective (optrt.h) -------------------- */
struct OptrtObjective;
/* Fills *obj (an OptrtObjective of optrt.h) to evaluate the task at the
 * buffers x, one float array per tensor, writing gradients into g: the
 * buffers given to optrt_add_param.  hvp, hessian and gnb_grad are set when
 * the task has them (gnb_grad: as optrt_task_gnb, at the bound x).  The optimizer's parameters must be the task's tensors in
 * order (hvp works on the whole list; hessian(param) is the diagonal block
 * of tensor `param`).  x and g must outlive obj; a task holds one binding
 * (a second call replaces the first). */
OPTRT_API int optrt_task_objective(OptrtTask *task, float *const *x, float *const *g,
                                   struct OptrtObjective *obj);

#ifdef __cplusplus
}
#endif

#endif

/* tasks.h: internals of the built-in tasks (public side: optrt_tasks.h).
 *
 * Every task kind is a TaskKind: its name, its options with defaults and
 * ranges, and functions over one flat double vector x (the tensors
 * concatenated).  task.c owns the registry, option parsing, the float
 * wrappers and scratch memory; the task_*.c files own the kinds.
 *
 * A kind's setup() reads t->opt[] (in the order of its options), fills
 * the tensor shapes, flags and f*, and may hang private data on t->data
 * (freed by destroy()).  fg() returns the loss and writes the gradient
 * when g is not NULL.  Random draws come from task_key()/task_normal():
 * counter based, so data never depend on evaluation order.
 */
#ifndef OPTRT_TASKS_INTERNAL_H
#define OPTRT_TASKS_INTERNAL_H

#include <stdint.h>

#include "optrt_tasks.h"

/* Largest tensor list of a kind (the MLP has W1, b1, W2, b2). */
#define TASK_MAX_TENSORS 4
/* Largest option list of a kind (the MLP has n, d, k, hidden, l2, batch). */
#define TASK_MAX_OPTS 8

typedef struct TaskOption {
  const char *name;
  double def, lo, hi; /* closed range */
  int is_int;
} TaskOption;

typedef struct TaskKind {
  const char *name;
  const char *summary;
  const TaskOption *opts;
  int nopts;
  int (*setup)(OptrtTask *t, char **err);
  void (*destroy)(OptrtTask *t);
  void (*init)(const OptrtTask *t, double *x);
  double (*fg)(OptrtTask *t, const double *x, double *g);
  void (*hvp)(OptrtTask *t, const double *x, const double *v, double *hv);
  void (*hessian)(OptrtTask *t, const double *x, double *h);
  /* Gradient of the data term of the loss (no L2) at x over the step's
   * examples, each label replaced by one drawn from the model's predictive
   * distribution with draws task_uniform(key, position in the batch). */
  void (*gnb)(OptrtTask *t, const double *x, uint64_t key, double *out);
  double (*accuracy)(OptrtTask *t, const double *x);
  void (*minimizer)(const OptrtTask *t, double *x);
  const void *spec; /* kind-specific constant description (MGH problems) */
} TaskKind;

struct OptrtTask {
  const TaskKind *kind;
  uint64_t seed, step;
  unsigned flags;
  double fstar;
  double opt[TASK_MAX_OPTS];
  int ntensors;
  const char *tname[TASK_MAX_TENSORS];
  int64_t rows[TASK_MAX_TENSORS], cols[TASK_MAX_TENSORS];
  int64_t n;
  void *data;
  double *xs, *gs, *vs, *hvs; /* n doubles each: float-API scratch */
  float *const *bind_x;       /* optrt_task_objective's buffers */
  float *const *bind_g;
  double *hfull;              /* n x n, allocated by the first block Hessian */
  uint64_t gnb_step, gnb_calls; /* gnb draws: calls so far at step gnb_step */
};

/* Sets tensor i of t (call in order from setup). */
void task_set_tensor(OptrtTask *t, int i, const char *name, int64_t rows, int64_t cols);
/* Formats an error into *err (when err is not NULL); returns -1. */
int task_error(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Random streams: key for (seed, purpose); draws by index. */
uint64_t task_key(uint64_t seed, uint64_t step, uint64_t purpose);
double task_uniform(uint64_t key, uint64_t index);   /* [0, 1), 53 bits */
double task_normal(uint64_t key, uint64_t index);    /* N(0, 1) */
/* Key of the next gnb call: (seed, step, number of gnb calls at this step). */
uint64_t task_gnb_key(OptrtTask *t);
/* Category c with p[0] + ... + p[c-1] <= u < p[0] + ... + p[c] (the last
 * one when rounding leaves u beyond the total). */
int64_t task_sample_category(const double *p, int64_t k, double u);

/* Kinds, grouped by file. */
extern const TaskKind task_kind_quadratic, task_kind_noisy_quadratic;
extern const TaskKind task_kind_rosenbrock;
extern const TaskKind task_kind_logistic, task_kind_softmax;
extern const TaskKind task_kind_mlp;
extern const TaskKind task_kind_mgh_rosenbrock, task_kind_mgh_freudenstein_roth,
    task_kind_mgh_powell_badly_scaled, task_kind_mgh_beale, task_kind_mgh_helical_valley,
    task_kind_mgh_box_3d, task_kind_mgh_powell_singular, task_kind_mgh_wood,
    task_kind_mgh_extended_rosenbrock, task_kind_mgh_trigonometric,
    task_kind_mgh_brown_almost_linear;

#endif

/* optrt.h: the public C API of liboptrt, the runtime that executes
 * optimizers compiled by optc (runtime/include/optk.h descriptors).
 *
 * A training program opens a kernel (a compiled library or a JIT
 * descriptor), creates an optimizer, adds parameter groups (each may name
 * its own kernel), adds non-owning parameter/gradient buffers, sets hypers
 * per group, steps, and saves or loads checkpoints.  docs/runtime.md is the
 * prose version of this header.
 *
 * Conventions
 * - Functions returning int give 0 (or an index >= 0) on success and -1 on
 *   error; the error text is then in optrt_last_error() (kernels: in *err,
 *   a malloc'd string the caller frees with free()).  A call that fails
 *   leaves the optimizer as it was, except where a comment says otherwise
 *   (a step that fails half-way, see optrt_step).
 * - Parameters: rows x cols float32, row-major.  cols == 0 means a 1-D
 *   vector of `rows` elements (the kernel sees rows = n, cols = 1);
 *   cols >= 1 means a 2-D matrix, even when cols == 1.
 * - An optimizer is not thread-safe; distinct optimizers are independent.
 *   Kernels must outlive the optimizers that use them.
 */
#ifndef OPTRT_H
#define OPTRT_H

#include <stddef.h>
#include <stdint.h>

#include "optk.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(OPTRT_BUILDING) && defined(__GNUC__)
#define OPTRT_API __attribute__((visibility("default")))
#else
#define OPTRT_API
#endif

typedef struct OptrtKernel OptrtKernel;
typedef struct Optrt Optrt;

/* Every allocation of an optimizer goes through this hook, with realloc
 * semantics: size 0 frees `ptr` and returns NULL; otherwise returns a
 * block of `size` bytes (contents of `ptr` kept) or NULL on failure.
 * With threads > 1 it is also called from pool workers (matrix ops), so
 * it must be thread-safe then. */
typedef void *(*OptrtAllocFn)(void *user, void *ptr, size_t size);

typedef struct OptrtConfig {
  int threads;         /* worker threads including the caller; 0: online cores */
  uint64_t seed;       /* seed of random tensors (rademacher, normal, uniform) */
  int64_t chunk_elems; /* elements per work item, rounded up to a multiple of
                          OPTK_BLOCK, at most 2^40; 0: chosen per sweep, 16
                          to 256 blocks (docs/runtime.md, "Threads and
                          determinism") */
  OptrtAllocFn alloc;  /* NULL: malloc/realloc/free */
  void *alloc_user;
} OptrtConfig;

OPTRT_API void optrt_config_init(OptrtConfig *cfg);

/* ---- kernels ------------------------------------------------------------ */

/* dlopen()s a library and takes its `optk_descriptor`; checks magic, ABI
 * version, size and the plan.  NULL on error, with *err set. */
OPTRT_API OptrtKernel *optrt_open_library(const char *path, char **err);
/* Wraps a descriptor that lives elsewhere (a JIT handle); validated as
 * above.  The descriptor must outlive the kernel. */
OPTRT_API OptrtKernel *optrt_wrap_descriptor(const OptkDescriptor *d, char **err);
OPTRT_API void optrt_kernel_close(OptrtKernel *k);
OPTRT_API const OptkDescriptor *optrt_kernel_descriptor(const OptrtKernel *k);

/* ---- optimizer ------------------------------------------------------------ */

/* `kernel` is the default rule of groups; cfg NULL: defaults. */
OPTRT_API Optrt *optrt_create(const OptrtKernel *kernel, const OptrtConfig *cfg, char **err);
OPTRT_API void optrt_destroy(Optrt *opt);
OPTRT_API const char *optrt_last_error(const Optrt *opt);
OPTRT_API int optrt_threads(const Optrt *opt);

/* Adds a group that runs `kernel` (NULL: the optimizer's default).
 * Returns the group index (0, 1, ...). */
OPTRT_API int optrt_add_group(Optrt *opt, const OptrtKernel *kernel);
OPTRT_API int optrt_num_groups(const Optrt *opt);
/* Adds a parameter and its gradient (non-owning; both rows x cols floats,
 * see the conventions above).  Returns its index within the group. */
OPTRT_API int optrt_add_param(Optrt *opt, int group, float *p, const float *g, int64_t rows,
                              int64_t cols);
OPTRT_API int optrt_num_params(const Optrt *opt, int group);

/* Hypers by name; unknown names and out-of-range or NaN values fail. */
OPTRT_API int optrt_set_hyper(Optrt *opt, int group, const char *name, double value);
OPTRT_API int optrt_get_hyper(const Optrt *opt, int group, const char *name, double *value);

/* The objective, for rules that read f or call hvp/hessian/linesearch.
 * All callbacks work on the host's own parameter buffers (what was given
 * to optrt_add_param) and return 0, or nonzero to fail the step. */
typedef struct OptrtObjective {
  void *user;
  /* Loss at the current parameters into *loss; when want_grad != 0 also
   * writes every registered gradient buffer.  Required. */
  int (*value_grad)(void *user, double *loss, int want_grad);
  /* Hessian-vector product over the optimizer's whole parameter list, in
   * global order (groups in order, params in order): hv[i] = (H v)[i].
   * v[i] == NULL means a zero block; hv[i] == NULL means not wanted. */
  int (*hvp)(void *user, const float *const *v, float *const *hv);
  /* Dense Hessian of parameter `param` (global index) with itself:
   * n x n doubles, row-major. */
  int (*hessian)(void *user, int param, double *out);
  /* Sophia's Gauss-Newton-Bartlett sample, for rules that call gnb(): the
   * gradient of the minibatch loss at the current parameters with every
   * label replaced by one drawn from the model's own predictive
   * distribution (without regularisation terms), over the optimizer's
   * whole parameter list in global order as hvp: out[i] == NULL means not
   * wanted.  Each call draws new labels. */
  int (*gnb_grad)(void *user, float *const *out);
} OptrtObjective;

/* One step of every group.  A group whose gradient holds NaN/Inf while its
 * guard is on is skipped.  Refuses rules that need an objective.  If a
 * step fails half-way (a callback or LAPACK failure, a failed line search)
 * groups before the failing one have stepped and the failing group may be
 * partly updated; reload a checkpoint to recover. */
OPTRT_API int optrt_step(Optrt *opt);
/* As optrt_step, first calling obj->value_grad(want_grad = 1) once. */
OPTRT_API int optrt_step_objective(Optrt *opt, const OptrtObjective *obj);

OPTRT_API int64_t optrt_step_count(const Optrt *opt, int group);

/* Non-finite guard (off by default). */
OPTRT_API int optrt_set_nonfinite_guard(Optrt *opt, int group, int on);
/* Steps skipped by the guard; *last_skipped (may be NULL) gets the step
 * number the last skipped step would have had (0: none). -1 on error. */
OPTRT_API int64_t optrt_skipped_steps(const Optrt *opt, int group, int64_t *last_skipped);

/* Times SOLVE fell back from Cholesky to the symmetric indefinite solver. */
OPTRT_API int64_t optrt_solve_fallbacks(const Optrt *opt);
/* Status of the group's last line search: an OptrtLsStatus of
 * runtime/linesearch.h (0 = OPTRT_LS_OK), or -1 when none ran (or no such
 * group); *text (may be NULL) gets its description (static text). */
OPTRT_API int optrt_linesearch_status(const Optrt *opt, int group, const char **text);

/* ---- checkpoints ---------------------------------------------------------- */

/* Writes atomically (temporary file in the same directory, fsync, rename). */
OPTRT_API int optrt_save(Optrt *opt, const char *path);
/* Validates everything first; on any error the optimizer is unchanged. */
OPTRT_API int optrt_load(Optrt *opt, const char *path);

/* ---- state access (tests, tools) ------------------------------------------ */

/* Tensor buffer `name` (a state, a scratch buffer, "p" or "g") of one
 * parameter; NULL before the first step creates the state. */
OPTRT_API void *optrt_state_data(Optrt *opt, int group, int param, const char *name,
                                 OptkDType *dtype, int64_t *count);
/* Scalar state `name` of one parameter. */
OPTRT_API int optrt_scalar_state(const Optrt *opt, int group, int param, const char *name,
                                 double *value);

#ifdef __cplusplus
}
#endif

#endif

/* interp.h: the reference interpreter of the scheduled IrProgram.
 *
 * Runs a step plan exactly as liboptrt runs a descriptor (optk.h), but in
 * double precision and without LLVM: the oracle that the JIT, the AOT
 * libraries and the runtime's linear algebra are tested against, and the
 * screen that `optc search` runs candidates on.
 *
 * One Interp holds one parameter group: tensors are added in order (their
 * order fixes group reductions, and a tensor's index is its RNG tensor
 * id).  p and g are the caller's float arrays (row-major, n = rows * cols;
 * a 1-D parameter has rows = n, cols = 1); p is updated in place.  States
 * live in the interpreter as doubles rounded to their dtype after every
 * store (f32, bf16 through optk_f32_to_bf16, or f64), scalar states as
 * doubles rounded to theirs.  Sweep arithmetic is double whatever the
 * stage's compute type; stores round to the buffer's dtype, p to f32.
 *
 * Semantics beyond optk.h, fixed here (runtime/exec.c and linalg.c agree,
 * except where marked "choice": the runtime leaves those open):
 * - The init plan runs for a tensor at its first step, after its state
 *   buffers are zeroed and its scalar states set to their initial values;
 *   group-scope COMBINEs in the init plan cover that tensor alone.
 * - COMBINE: sum (or max, NaN-propagating, starting from -inf) of the
 *   partials in block order; over the group, tensors in order and blocks in
 *   order, one running sum; every tensor of the group receives the result.
 * - JUMP_IF_ZERO reads the slot of the group's first tensor.
 * - INV_ROOT: c = V diag(max(w, eps)^(-1/k)) V' from the symmetric
 *   eigen-decomposition a = V diag(w) V' (cyclic Jacobi); k must be > 0
 *   and eps not NaN.
 * - EIGVECS (choice): columns for ascending eigenvalues, each column's
 *   sign chosen so that its entry of largest magnitude (the first such) is
 *   positive.
 * - SOLVE: Cholesky; when a is not positive definite, LU with partial
 *   pivoting; a singular matrix is an error.
 * - IDENTITY with no slot (d = -1) scales by 1 (choice).
 * - LINESEARCH is not run: a plan that reaches one fails with
 *   "the interpreter does not run line searches".
 * - HVP, HESSIAN and GNB call the host callbacks of InterpOptions; a plan that
 *   reaches one without its callback fails.
 * - HISTORY (interp_hist.c) follows docs/abi.md "L-BFGS histories" in
 *   double, pairs rounded to the history's dtype; a history's buffers are
 *   allocated at the tensor's first step with m copies, m the value of
 *   their count hyper then (which interp_set_hyper no longer changes).
 *
 * Errors are returned as text in *err (the caller frees it); nothing
 * prints.  After an error the group's values are unspecified.
 */
#ifndef OPTC_INTERP_H
#define OPTC_INTERP_H

#include "ir.h"

typedef struct Interp Interp;

/* Largest buffer the interpreter allocates (2^27 doubles = 1 GiB): an
 * n x n Hessian state of a large tensor is refused instead of exhausting
 * memory. */
enum { INTERP_MAX_ELEMENTS = 1 << 27 };

/* Host callbacks, in double.  Each returns 0, or -1 with *err set (a
 * malloc'd message).  hvp: out[k] = H v[k] for every tensor k of the group
 * (arrays of n_k values).  hessian: the dense n x n Hessian of tensor 0,
 * row-major, into out.  gnb: out[k] = the Gauss-Newton-Bartlett gradient
 * (optrt.h, gnb_grad) for every tensor k of the group. */
typedef struct InterpHost {
  void *user;
  int (*hvp)(void *user, int ntensors, const double *const *v, double *const *out,
             char **err);
  int (*hessian)(void *user, int64_t n, double *out, char **err);
  int (*gnb)(void *user, int ntensors, double *const *out, char **err);
} InterpHost;

typedef struct InterpOptions {
  uint64_t seed;    /* random streams (OptkSweepCtx.seed) */
  InterpHost host;
} InterpOptions;

/* Verifies `prog` (ir_verify_program) and creates an interpreter with the
 * hypers at their defaults.  `prog` must outlive it.  opts may be NULL. */
Interp *interp_create(const IrProgram *prog, const InterpOptions *opts, char **err);
void interp_free(Interp *in);

/* Adds a tensor to the group; returns its index or -1 with *err.  Refused
 * after the first step, for negative sizes, and when one of its buffers
 * would exceed INTERP_MAX_ELEMENTS. */
int interp_add_tensor(Interp *in, float *p, const float *g, int64_t rows, int64_t cols,
                      char **err);
/* Replaces the gradient array of tensor k (same length). */
void interp_set_grad(Interp *in, int k, const float *g);
/* Sets a hyper by name; out-of-range values and unknown names are errors. */
int interp_set_hyper(Interp *in, const char *name, double value, char **err);

/* One step of the whole group with loss f (NaN when there is none). */
int interp_step(Interp *in, double f, char **err);
/* Steps taken so far (t of the last step). */
int64_t interp_steps(const Interp *in);

/* Read access for tests: the values of buffer `buf` of tensor k (NULL for
 * p, g or out-of-range), its element count in *count; scalar state s. */
const double *interp_buffer(const Interp *in, int k, int buf, int64_t *count);
double interp_sstate(const Interp *in, int k, int s);
const double *interp_slots(const Interp *in, int k);
const double *interp_reds(const Interp *in, int k);

/* Runs `steps` steps on one group in one call (differential tests, search
 * screens).  p[k] (rows[k] x cols[k] floats) is updated in place.  The
 * gradients are either given, grads[s * ntensors + k] for step s (from 0)
 * with losses[s] (losses may be NULL), or computed by grad_fn before each
 * step from the current p into g[k] (arrays the interpreter owns), with
 * the loss in *f (leave NaN for none).  Hypers not named keep their
 * defaults. */
typedef struct InterpRun {
  int ntensors;
  float *const *p;
  const int64_t *rows, *cols;
  int steps;
  const float *const *grads;
  const double *losses;
  int (*grad_fn)(void *user, int step, int ntensors, float *const *p, float *const *g,
                 double *f, char **err);
  void *grad_user;
  const char *const *hyper_names;
  const double *hyper_values;
  int nhypers;
  InterpOptions opts;
} InterpRun;

int interp_run(const IrProgram *prog, const InterpRun *run, char **err);

#endif

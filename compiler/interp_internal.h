/* interp_internal.h: what interp.c asks of interp_mat.c, the reference
 * matrix operations (row-major double, straightforward loops, no BLAS). */
#ifndef OPTC_INTERP_INTERNAL_H
#define OPTC_INTERP_INTERNAL_H

#include "interp.h"

typedef struct InterpMat {
  double *v;    /* r * c values, row-major */
  int64_t r, c;
} InterpMat;

/* Computes MATOP `op` into c (already shaped and allocated by the
 * caller); a and b are its inputs (unused ones may be NULL), `slot` the
 * tensor's slots.  Returns 0 or -1 with *err. */
int interp_mat_run(const OptkOp *op, const InterpMat *a, const InterpMat *b,
                   InterpMat *c, const double *slot, char **err);

/* Symmetric eigen-decomposition by cyclic Jacobi rotations: w[m] ascending,
 * vecs (m x m, row-major) holding the eigenvectors as columns, signs as in
 * interp.h (largest-magnitude entry positive). a is left unchanged. */
void interp_mat_sym_eigen(const double *a, int64_t m, double *w, double *vecs);

/* One L-BFGS history of the group (interp_hist.c; OPTK_OP_HISTORY): per
 * tensor t, s[t] and y[t] hold m slots of n[t] values, rho[t] m values,
 * sstate[t][d] and [d + 1] len and head. */
typedef struct InterpHist {
  int nt;
  const int64_t *n;
  double *const *s, *const *y, *const *rho, *const *sstate;
  int d;
  int64_t m;
  OptkDType dtype; /* stored s and y are rounded to it */
} InterpHist;

/* q[t] (v on entry) becomes the two-loop recursion's H v. */
void interp_hist_direction(const InterpHist *h, double *const *q);
/* Adds (s, y) as the newest pair when s.y > 0 over the group. */
void interp_hist_push(const InterpHist *h, double *const *s, double *const *y);

#endif

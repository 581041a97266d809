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

#endif

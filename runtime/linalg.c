/* linalg.c: MATOP ops on OpenBLAS and LAPACK.
 *
 * Buffers are row-major matrices with the dims of their OptkBuffer; a
 * tensor-shaped buffer (n x 1 or 1 x n) is seen as rows x cols, or as an
 * n x 1 column in an op with an n x n operand (mat_for).
 * GEMM runs sgemm/dgemm straight on the buffers when all three share a
 * dtype and the output aliases no input; everything else (mixed dtypes,
 * aliasing, and all LAPACK work: syevd, potrf/potrs, sytrf/sytrs) goes
 * through double copies, so f32 states get double-precision
 * factorisations.  LAPACK is column-major: symmetric inputs need no
 * transpose, outputs are transposed back on store.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "rt_internal.h"

/* Fortran LAPACK (no LAPACKE on Debian's OpenBLAS); trailing size_t are
 * gfortran's hidden lengths of the character arguments. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t, size_t);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info, size_t);
void dsytrf_(const char *uplo, const int *n, double *a, const int *lda, int *ipiv, double *work,
             const int *lwork, int *info, size_t);
void dsytrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info, size_t);

/* What a matrix op needs besides its operands: memory, a place for its
 * error text (RT_ERR_MAX bytes) and the fall-back counter.  Ops on
 * different tensors run in parallel, each with its own MatCtx. */
typedef struct MatCtx {
  const RtAlloc *alloc;
  char *err;
  int64_t *fallbacks;
} MatCtx;

static int mat_error(MatCtx *o, const char *fmt, ...) RT_PRINTF(2, 3);
static int mat_error(MatCtx *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->err, RT_ERR_MAX, fmt, ap);
  va_end(ap);
  return -1;
}

typedef struct Mat {
  void *data;
  int dtype;
  int64_t r, c;
} Mat;

static Mat mat_of(const OptkDescriptor *d, int32_t b, const RtTensor *t) {
  const OptkBuffer *bb = &d->bufs[b];
  Mat m = {t->buf ? t->buf[b] : NULL, bb->dtype, rt_dim(t, bb->dim0), rt_dim(t, bb->dim1)};
  if ((bb->dim0 == OPTK_DIM_N && bb->dim1 == OPTK_DIM_ONE) ||
      (bb->dim0 == OPTK_DIM_ONE && bb->dim1 == OPTK_DIM_N)) {
    m.r = t->rows;
    m.c = t->cols;
  }
  return m;
}

/* In a MATOP with an n x n operand (BFGS's H @ g, Newton's solve,
 * outer(u, v) into n x n) tensor-shaped buffers are n x 1 columns, so
 * 2-D parameters work as vectors of n; elsewhere they are rows x cols. */
static bool square_n(const OptkDescriptor *d, const OptkOp *op) {
  int32_t used[3] = {op->fn == OPTK_MAT_IDENTITY ? op->c : op->a,
                     op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE ? op->b : op->c, op->c};
  for (int i = 0; i < 3; i++)
    if (d->bufs[used[i]].dim0 == OPTK_DIM_N && d->bufs[used[i]].dim1 == OPTK_DIM_N) return true;
  return false;
}

static Mat mat_for(const OptkDescriptor *d, const OptkOp *op, int32_t b, const RtTensor *t) {
  Mat m = mat_of(d, b, t);
  const OptkBuffer *bb = &d->bufs[b];
  bool vec = (bb->dim0 == OPTK_DIM_N && bb->dim1 == OPTK_DIM_ONE) ||
             (bb->dim0 == OPTK_DIM_ONE && bb->dim1 == OPTK_DIM_N);
  if (vec && square_n(d, op)) m.r = t->n, m.c = 1;
  return m;
}

static const char *NAMES[] = {"GEMM", "INV_ROOT", "SOLVE", "EIGVECS", "TRANSPOSE",
                              "ROWMEAN", "COLMEAN", "IDENTITY", "COPY"};

static bool same(Mat a, int64_t r, int64_t c) { return a.r == r && a.c == c; }

/* Expected shape of the output, or false when the inputs do not fit. */
static bool out_shape(const OptkOp *op, Mat a, Mat b, int64_t *r, int64_t *c) {
  bool ta = op->flags & OPTK_MATOP_TRANS_A, tb = op->flags & OPTK_MATOP_TRANS_B;
  switch (op->fn) {
  case OPTK_MAT_GEMM:
    *r = ta ? a.c : a.r;
    *c = tb ? b.r : b.c;
    return (ta ? a.r : a.c) == (tb ? b.c : b.r);
  case OPTK_MAT_INV_ROOT:
  case OPTK_MAT_EIGVECS: *r = a.r, *c = a.c; return a.r == a.c;
  case OPTK_MAT_SOLVE: *r = b.r, *c = b.c; return a.r == a.c && b.r == a.r;
  case OPTK_MAT_TRANSPOSE: *r = a.c, *c = a.r; return true;
  case OPTK_MAT_ROWMEAN: *r = a.r, *c = 1; return true;
  case OPTK_MAT_COLMEAN: *r = 1, *c = a.c; return true;
  case OPTK_MAT_COPY: *r = a.r, *c = a.c; return true;
  default: return true; /* IDENTITY: checked by the caller */
  }
}

int rt_matop_check(Optrt *o, const OptkDescriptor *d, const OptkOp *op, const RtTensor *t,
                   const char *label) {
  Mat c = mat_for(d, op, op->c, t);
  Mat a = op->fn == OPTK_MAT_IDENTITY ? c : mat_for(d, op, op->a, t);
  Mat b = op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE ? mat_for(d, op, op->b, t) : a;
  int64_t r = c.r, cc = c.c;
  bool ok = out_shape(op, a, b, &r, &cc) && same(c, r, cc);
  if (op->fn == OPTK_MAT_IDENTITY) ok = c.r == c.c;
  if (a.r > INT_MAX || a.c > INT_MAX || b.r > INT_MAX || b.c > INT_MAX || c.r > INT_MAX ||
      c.c > INT_MAX)
    ok = false;
  if (ok) return 0;
  return rt_error(o,
                  "%s: parameter %lld x %lld does not fit the rule's %s: '%s' %lld x %lld, "
                  "'%s' %lld x %lld -> '%s' %lld x %lld",
                  label, (long long)t->rows, (long long)(t->is2d ? t->cols : 0), NAMES[op->fn],
                  d->bufs[op->fn == OPTK_MAT_IDENTITY ? op->c : op->a].name, (long long)a.r,
                  (long long)a.c, d->bufs[op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE ? op->b : op->c].name,
                  (long long)b.r, (long long)b.c, d->bufs[op->c].name, (long long)c.r,
                  (long long)c.c);
}

static double *load(MatCtx *o, Mat m) {
  size_t n = (size_t)(m.r * m.c);
  double *v = rt_malloc(o->alloc, n * sizeof(double));
  if (!v) return NULL;
  if (m.dtype == OPTK_F64) memcpy(v, m.data, n * sizeof(double));
  else
    for (size_t i = 0; i < n; i++) v[i] = ((const float *)m.data)[i];
  return v;
}

static void store(Mat m, const double *v) {
  size_t n = (size_t)(m.r * m.c);
  if (m.dtype == OPTK_F64) memmove(m.data, v, n * sizeof(double));
  else
    for (size_t i = 0; i < n; i++) ((float *)m.data)[i] = (float)v[i];
}

/* Stores a column-major n x m array into row-major m.data. */
static void store_colmajor(Mat m, double *v, double *tmp) {
  for (int64_t i = 0; i < m.r; i++)
    for (int64_t j = 0; j < m.c; j++) tmp[i * m.c + j] = v[i + j * m.r];
  store(m, tmp);
}

/* c = alpha a' b' + beta c (alpha: slot d, or 1; beta: slot d + 1 with
 * ACCUMULATE, else 0). */
static int gemm(MatCtx *o, const OptkOp *op, const RtTensor *t, Mat a, Mat b, Mat c) {
  double alpha = op->d >= 0 ? t->slot[op->d] : 1.0;
  bool accum = (op->flags & OPTK_MATOP_ACCUMULATE) != 0;
  double beta = accum ? t->slot[op->d + 1] : 0.0;
  CBLAS_TRANSPOSE ta = (op->flags & OPTK_MATOP_TRANS_A) ? CblasTrans : CblasNoTrans;
  CBLAS_TRANSPOSE tb = (op->flags & OPTK_MATOP_TRANS_B) ? CblasTrans : CblasNoTrans;
  int m = (int)c.r, n = (int)c.c, k = (int)((op->flags & OPTK_MATOP_TRANS_A) ? a.r : a.c);
  bool alias = c.data == a.data || c.data == b.data;
  if (!alias && a.dtype == OPTK_F32 && b.dtype == OPTK_F32 && c.dtype == OPTK_F32) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, (float)alpha, a.data, (int)a.c, b.data, (int)b.c, (float)beta,
                c.data, (int)c.c);
    return 0;
  }
  if (!alias && a.dtype == OPTK_F64 && b.dtype == OPTK_F64 && c.dtype == OPTK_F64) {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a.data, (int)a.c, b.data, (int)b.c, beta,
                c.data, (int)c.c);
    return 0;
  }
  double *x = load(o, a), *y = load(o, b);
  double *z = accum ? load(o, c) : rt_malloc(o->alloc, (size_t)(m * n) * 8 + 8);
  int rc = x && y && z ? 0 : mat_error(o, "GEMM: out of memory");
  if (!rc) {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, x, (int)a.c, y, (int)b.c, beta, z, n);
    store(c, z);
  }
  rt_free(o->alloc, x);
  rt_free(o->alloc, y);
  rt_free(o->alloc, z);
  return rc;
}

/* Eigen-decomposition of symmetric n x n `v` in place: columns of the
 * column-major result are eigenvectors, w ascending. */
static int syevd(MatCtx *o, double *v, double *w, int n) {
  int lwork = -1, liwork = -1, iq = 0, info = 0;
  double q = 0;
  dsyevd_("V", "U", &n, v, &n, w, &q, &lwork, &iq, &liwork, &info, 1, 1);
  lwork = (int)q;
  liwork = iq;
  double *work = rt_malloc(o->alloc, (size_t)lwork * sizeof(double) + 8);
  int *iwork = rt_malloc(o->alloc, (size_t)liwork * sizeof(int) + 8);
  info = work && iwork ? 0 : -1000;
  if (!info) dsyevd_("V", "U", &n, v, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  rt_free(o->alloc, work);
  rt_free(o->alloc, iwork);
  if (info == -1000) return mat_error(o, "eigendecomposition: out of memory");
  if (info) return mat_error(o, "eigendecomposition (dsyevd) failed: info %d", info);
  return 0;
}

/* Eigenvectors are defined up to sign; each column is flipped so that its
 * largest-magnitude entry is positive (the interpreter's rule), so that
 * EIGVECS results do not depend on the LAPACK build. */
static void normalise_signs(double *v, int n) {
  for (int j = 0; j < n; j++) {
    double *col = v + (size_t)j * (size_t)n, big = 0;
    for (int i = 0; i < n; i++)
      if (fabs(col[i]) > fabs(big)) big = col[i];
    if (big < 0)
      for (int i = 0; i < n; i++) col[i] = -col[i];
  }
}

static int eig_op(MatCtx *o, const OptkOp *op, const RtTensor *t, Mat a, Mat c) {
  int n = (int)a.r;
  double k = op->fn == OPTK_MAT_INV_ROOT ? t->slot[op->d] : 1, eps = 0;
  if (op->fn == OPTK_MAT_INV_ROOT) eps = t->slot[op->d + 1];
  if (!(k > 0) || isnan(eps)) return mat_error(o, "inv_root: root %g must be > 0 (eps %g)", k, eps);
  double *v = load(o, a), *w = rt_malloc(o->alloc, (size_t)n * 8), *r = load(o, a);
  int rc = v && w && r ? syevd(o, v, w, n) : mat_error(o, "eigendecomposition: out of memory");
  if (!rc && op->fn == OPTK_MAT_EIGVECS) {
    normalise_signs(v, n);
    store_colmajor(c, v, r);
  }
  if (!rc && op->fn == OPTK_MAT_INV_ROOT) {
    double *scaled = w ? rt_malloc(o->alloc, (size_t)n * (size_t)n * 8) : NULL;
    if (!scaled) rc = mat_error(o, "inv_root: out of memory");
    for (int j = 0; !rc && j < n; j++) {
      double f = pow(w[j] > eps ? w[j] : eps, -1.0 / k);
      for (int i = 0; i < n; i++) scaled[i + j * n] = v[i + j * n] * f;
    }
    if (!rc) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, scaled, n, v, n, 0.0, r, n);
      store_colmajor(c, r, scaled);
    }
    rt_free(o->alloc, scaled);
  }
  rt_free(o->alloc, v);
  rt_free(o->alloc, w);
  rt_free(o->alloc, r);
  return rc;
}

/* Symmetric indefinite fall-back: A was overwritten, so reload it. */
static int sytr_solve(MatCtx *o, Mat a, double *bc, int n, int m) {
  double *f = load(o, a), q = 0;
  int *ipiv = rt_malloc(o->alloc, (size_t)n * sizeof(int)), lwork = -1, info = 0;
  if (f && ipiv) dsytrf_("L", &n, f, &n, ipiv, &q, &lwork, &info, 1);
  lwork = q > 1 ? (int)q : 1;
  double *work = f && ipiv ? rt_malloc(o->alloc, (size_t)lwork * 8) : NULL;
  int rc = work ? 0 : mat_error(o, "solve: out of memory");
  if (!rc) dsytrf_("L", &n, f, &n, ipiv, work, &lwork, &info, 1);
  if (!rc && info > 0) rc = mat_error(o, "solve: the matrix is singular (dsytrf pivot %d is zero)", info);
  if (!rc) dsytrs_("L", &n, &m, f, &n, ipiv, bc, &n, &info, 1);
  if (!rc) (*o->fallbacks)++;
  rt_free(o->alloc, f);
  rt_free(o->alloc, ipiv);
  rt_free(o->alloc, work);
  return rc;
}

static int solve_op(MatCtx *o, Mat a, Mat b, Mat c) {
  int n = (int)a.r, m = (int)b.c, info = 0;
  double *f = load(o, a), *rb = load(o, b), *bc = rt_malloc(o->alloc, (size_t)n * (size_t)m * 8);
  int rc = f && rb && bc ? 0 : mat_error(o, "solve: out of memory");
  for (int i = 0; !rc && i < n; i++)
    for (int j = 0; j < m; j++) bc[i + j * n] = rb[i * m + j];
  if (!rc) dpotrf_("L", &n, f, &n, &info, 1);
  if (!rc && info == 0) dpotrs_("L", &n, &m, f, &n, bc, &n, &info, 1);
  else if (!rc) rc = sytr_solve(o, a, bc, n, m);
  if (!rc) store_colmajor(c, bc, rb);
  rt_free(o->alloc, f);
  rt_free(o->alloc, rb);
  rt_free(o->alloc, bc);
  return rc;
}

/* Element k of an f32 or f64 matrix in double. */
static inline double mat_at(const void *data, bool f64, int64_t k) {
  return f64 ? ((const double *)data)[k] : ((const float *)data)[k];
}

/* The loops below convert and add, nothing else: the baseline x86-64
 * build (SSE2) does two elements per instruction, so they get AVX2 and
 * AVX-512 clones, picked once at load time (GCC's and Clang's ifunc
 * dispatch).  Vectorising over j keeps every sum's order. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef RT_CLONES
#define RT_CLONES
#endif

/* One pass over an r x c matrix of T: rs[i] = the sum of row i in double
 * (eight running sums, element j into sum j % 8, added pairwise, then
 * the rest in order: the loop vectorises and is not one add's latency
 * per element); cs[j] += column j's elements, row after row (the
 * reference interpreter's order).  Either may be NULL.
 *
 * Rows go RT_SUM_ROWS at a time, both sums in one loop over their
 * columns: a row's eight sums are eight chains of dependent adds, one add
 * per eight elements each, so one row alone runs at the adder's latency;
 * four rows keep four times the chains in flight, and the column sums
 * take their four adds in row order while the elements are in registers.
 * Every sum keeps its order, so the results are bit for bit those of one
 * row at a time. */
enum { RT_SUM_ROWS = 4 };

/* Eight doubles (GCC's vector extension: AVX-512 one register, AVX2 two,
 * SSE2 four); lane l is sum l. */
typedef double RtV8d __attribute__((vector_size(64)));
typedef float RtV8f __attribute__((vector_size(32)));

/* dst = 8 elements from p, in double (macros: a function returning a
 * 64-byte vector would have an ABI of its own in the baseline clone). */
#define RT_LOAD8_float(dst, p)                                                         \
  do {                                                                                 \
    RtV8f f8_;                                                                         \
    memcpy(&f8_, (p), sizeof f8_);                                                     \
    (dst) = __builtin_convertvector(f8_, RtV8d);                                       \
  } while (0)
#define RT_LOAD8_double(dst, p) memcpy(&(dst), (p), sizeof(dst))

#define DEFINE_SUMS(NAME, T)                                                           \
  static inline __attribute__((always_inline)) void NAME##_rows(                       \
      const T *a, int nrows, int64_t c, double *rs, double *cs, bool do_rs, bool do_cs) { \
    RtV8d s[RT_SUM_ROWS] = {{0}};                                                      \
    int64_t c8 = c - c % 8;                                                            \
    for (int64_t j = 0; j < c8; j += 8) {                                              \
      RtV8d col = {0}, x;                                                              \
      if (do_cs) RT_LOAD8_double(col, cs + j);                                         \
      for (int k = 0; k < nrows; k++) {                                                \
        RT_LOAD8_##T(x, a + k * c + j);                                                \
        if (do_rs) s[k] += x;                                                          \
        if (do_cs) col += x;                                                           \
      }                                                                                \
      if (do_cs) memcpy(cs + j, &col, sizeof col);                                     \
    }                                                                                  \
    for (int k = 0; k < nrows; k++) {                                                  \
      const T *row = a + k * c;                                                        \
      if (do_rs) {                                                                     \
        RtV8d v = s[k];                                                                \
        double sum = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); \
        for (int64_t j = c8; j < c; j++) sum += row[j];                                \
        rs[k] = sum;                                                                   \
      }                                                                                \
      if (do_cs)                                                                       \
        for (int64_t j = c8; j < c; j++) cs[j] += row[j];                              \
    }                                                                                  \
  }                                                                                    \
  RT_CLONES static void NAME(const T *a, int64_t r, int64_t c, double *rs, double *cs) { \
    for (int64_t i = 0; i < r; i += RT_SUM_ROWS) {                                     \
      int n = r - i < RT_SUM_ROWS ? (int)(r - i) : RT_SUM_ROWS;                         \
      const T *rows = a + i * c;                                                       \
      if (n < RT_SUM_ROWS)                                                             \
        NAME##_rows(rows, n, c, rs ? rs + i : NULL, cs, rs != NULL, cs != NULL);       \
      else if (rs && cs)                                                               \
        NAME##_rows(rows, RT_SUM_ROWS, c, rs + i, cs, true, true);                     \
      else if (rs)                                                                     \
        NAME##_rows(rows, RT_SUM_ROWS, c, rs + i, NULL, true, false);                  \
      else                                                                             \
        NAME##_rows(rows, RT_SUM_ROWS, c, NULL, cs, false, true);                      \
    }                                                                                  \
  }
DEFINE_SUMS(sums_f32, float)
DEFINE_SUMS(sums_f64, double)

/* c = sum / inner, or with ACCUMULATE c = alpha mean + beta c; sum is
 * overwritten. */
static void store_mean(const OptkOp *op, const RtTensor *t, Mat c, double *sum, int64_t nout,
                       double inner) {
  bool accum = (op->flags & OPTK_MATOP_ACCUMULATE) != 0;
  double alpha = accum ? t->slot[op->d] : 1.0, beta = accum ? t->slot[op->d + 1] : 0.0;
  for (int64_t k = 0; k < nout; k++) {
    double m = inner > 0 ? sum[k] / inner : NAN;
    sum[k] = accum ? alpha * m + beta * mat_at(c.data, c.dtype == OPTK_F64, k) : m;
  }
  store(c, sum);
}

/* ROWMEAN into rc (rop) and COLMEAN into cc (cop) of one matrix a, either
 * op NULL (Adafactor's factored second moments take both a step over the
 * whole gradient): one pass over a in its own dtype, sums in double. */
static int means_op(MatCtx *o, const RtTensor *t, Mat a, const OptkOp *rop, Mat rc,
                    const OptkOp *cop, Mat cc) {
  double *rs = rop ? rt_calloc(o->alloc, (size_t)a.r + 1, sizeof(double)) : NULL;
  double *cs = cop ? rt_calloc(o->alloc, (size_t)a.c + 1, sizeof(double)) : NULL;
  int rc_ = (rop && !rs) || (cop && !cs) ? mat_error(o, "matrix op: out of memory") : 0;
  if (!rc_ && a.dtype == OPTK_F64) sums_f64(a.data, a.r, a.c, rs, cs);
  else if (!rc_) sums_f32(a.data, a.r, a.c, rs, cs);
  if (!rc_ && rop) store_mean(rop, t, rc, rs, a.r, (double)a.c);
  if (!rc_ && cop) store_mean(cop, t, cc, cs, a.c, (double)a.r);
  rt_free(o->alloc, rs);
  rt_free(o->alloc, cs);
  return rc_;
}

bool rt_means_pair(const OptkOp *op, const OptkOp *next) {
  return op->kind == OPTK_OP_MATOP && next->kind == OPTK_OP_MATOP && op->a == next->a &&
         op->c != op->a && next->c != next->a && op->c != next->c &&
         ((op->fn == OPTK_MAT_ROWMEAN && next->fn == OPTK_MAT_COLMEAN) ||
          (op->fn == OPTK_MAT_COLMEAN && next->fn == OPTK_MAT_ROWMEAN));
}

/* TRANSPOSE, IDENTITY, COPY in double. */
static int simple_op(MatCtx *o, const OptkOp *op, const RtTensor *t, Mat a, Mat c) {
  double *v = op->fn == OPTK_MAT_IDENTITY ? NULL : load(o, a);
  double *out = rt_calloc(o->alloc, (size_t)(c.r * c.c), sizeof(double));
  int rc = out && (v || op->fn == OPTK_MAT_IDENTITY) ? 0 : mat_error(o, "matrix op: out of memory");
  for (int64_t i = 0; !rc && i < a.r; i++)
    for (int64_t j = 0; j < a.c; j++) {
      double e = op->fn == OPTK_MAT_IDENTITY ? (i == j ? (op->d >= 0 ? t->slot[op->d] : 1.0) : 0) : v[i * a.c + j];
      if (op->fn == OPTK_MAT_TRANSPOSE) out[j * a.r + i] = e;
      else out[i * a.c + j] = e;
    }
  if (!rc) store(c, out);
  rt_free(o->alloc, v);
  rt_free(o->alloc, out);
  return rc;
}

int rt_matop(const OptkDescriptor *d, const OptkOp *op, const OptkOp *pair, const RtTensor *t,
             const RtAlloc *alloc, char *err, int64_t *fallbacks) {
  MatCtx ctx = {alloc, err, fallbacks}, *o = &ctx;
  Mat c = mat_for(d, op, op->c, t);
  if (pair) { /* rt_means_pair(op, pair) */
    bool rows = op->fn == OPTK_MAT_ROWMEAN;
    Mat c2 = mat_for(d, pair, pair->c, t);
    return means_op(o, t, mat_for(d, op, op->a, t), rows ? op : pair, rows ? c : c2,
                    rows ? pair : op, rows ? c2 : c);
  }
  Mat a = op->fn == OPTK_MAT_IDENTITY ? c : mat_for(d, op, op->a, t);
  Mat b = op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE ? mat_for(d, op, op->b, t) : a;
  switch (op->fn) {
  case OPTK_MAT_GEMM: return gemm(o, op, t, a, b, c);
  case OPTK_MAT_INV_ROOT:
  case OPTK_MAT_EIGVECS: return eig_op(o, op, t, a, c);
  case OPTK_MAT_SOLVE: return solve_op(o, a, b, c);
  case OPTK_MAT_ROWMEAN: return means_op(o, t, a, op, c, NULL, c);
  case OPTK_MAT_COLMEAN: return means_op(o, t, a, NULL, c, op, c);
  default: return simple_op(o, op, t, a, c);
  }
}

/* hand_kernels.c: hand-written kernel descriptors (see hand_kernels.h).
 *
 * Each kernel is what optc would produce for the .opt text in its comment:
 * SCALAR functions compute per-step numbers in double into slots; SWEEP
 * functions run over [begin, end) in f32 (f64 where a state is f64) and
 * write one reduction partial per OPTK_BLOCK block with optk_block_sum's
 * order.  Only optk.h is used, so the file links into every test.
 */
#include "hand_kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>

#define P_BUF {"p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0}
#define G_BUF {"g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0}
#define BUF(name, role, dt, d0, d1) {name, OPTK_BUF_##role, OPTK_##dt, OPTK_DIM_##d0, OPTK_DIM_##d1, 0}
#define LO_CLOSED OPTK_HYPER_HAS_LO
#define UNIT_OPEN (OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI | OPTK_HYPER_HI_OPEN)
#define POSITIVE (OPTK_HYPER_HAS_LO | OPTK_HYPER_LO_OPEN)
#define N_OF(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))
#define SCALAR_OP(f) {OPTK_OP_SCALAR, f, 0, 0, 0, 0, 0, 0}
#define SWEEP_OP(f) {OPTK_OP_SWEEP, f, 0, 0, 0, 0, 0, 0}
#define MAT(kind, flags, a, b, c, d) {OPTK_OP_MATOP, OPTK_MAT_##kind, 0, flags, a, b, c, d}
#define SHA "0000000000000000000000000000000000000000000000000000000000000000"

#define DESC(nm, nd, H, B, OPS)                                                        \
  .magic = OPTK_MAGIC, .abi_version = OPTK_ABI_VERSION, .size = sizeof(OptkDescriptor),   \
  .needs = (nd), .name = (nm), .source_sha256 = SHA, .nhyper = N_OF(H), .nbuf = N_OF(B), \
  .nops = N_OF(OPS), .hypers = (H), .bufs = (B), .ops = (OPS)
#define SFNS(SF) .nscalar_fns = N_OF(SF), .scalar_fns = (SF)
#define WFNS(WF) .nsweep_fns = N_OF(WF), .sweep_fns = (WF)

/* ---- sgdm: optimizer sgdm; hyper lr = 0.01 in [0, inf); hyper mu = 0.9
 *      in [0, 1); state m = 0; update { m = mu * m + g; p -= lr * m } */
static const OptkHyper SGDM_H[] = {{"lr", 0.01, 0, 0, LO_CLOSED, 0}, {"mu", 0.9, 0, 1, UNIT_OPEN, 0}};
static const OptkBuffer SGDM_B[] = {P_BUF, G_BUF, BUF("m", STATE, F32, N, ONE)};
static const OptkBuffer SGDM16_B[] = {P_BUF, G_BUF, BUF("m", STATE, BF16, N, ONE)};

static void sgdm_s0(OptkScalarCtx *c) {
  c->slot[0] = c->hyper[0];
  c->slot[1] = c->hyper[1];
}

static void sgdm_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0], *m = c->buf[2];
  const float *g = c->buf[1];
  float lr = (float)c->slot[0], mu = (float)c->slot[1];
  for (int64_t i = b; i < e; i++) {
    m[i] = mu * m[i] + g[i];
    p[i] -= lr * m[i];
  }
}

static void sgdm_zero(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *m = c->buf[2];
  for (int64_t i = b; i < e; i++) m[i] = 0.0f;
}

static void sgdm16_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  uint16_t *m = c->buf[2];
  const float *g = c->buf[1];
  float lr = (float)c->slot[0], mu = (float)c->slot[1];
  for (int64_t i = b; i < e; i++) {
    float mi = mu * optk_bf16_to_f32(m[i]) + g[i];
    m[i] = optk_f32_to_bf16(mi);
    p[i] -= lr * mi;
  }
}

static const OptkOp SGDM_OPS[] = {SCALAR_OP(0), SWEEP_OP(0)};
static const OptkOp SGDM_INIT[] = {SWEEP_OP(1)};
static const OptkScalarFn SGDM_SF[] = {sgdm_s0};
static const OptkSweepFn SGDM_WF[] = {sgdm_w0, sgdm_zero};
static const OptkSweepFn SGDM16_WF[] = {sgdm16_w0};

const OptkDescriptor hk_sgdm = {DESC("sgdm", 0, SGDM_H, SGDM_B, SGDM_OPS), SFNS(SGDM_SF), WFNS(SGDM_WF),
                                .init_ops = SGDM_INIT, .ninit_ops = 1, .nslot = 2, .sweeps = 1};
const OptkDescriptor hk_sgdm_bf16 = {
    DESC("sgdm_bf16", 0, SGDM_H, SGDM16_B, SGDM_OPS), SFNS(SGDM_SF), WFNS(SGDM16_WF), .nslot = 2,
    .sweeps = 1};

/* ---- adam: the DESIGN.md sketch without weight decay's wd * p term
 *      folded: p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p) */
static const OptkHyper ADAM_H[] = {{"lr", 1e-3, 0, 0, LO_CLOSED, 0},
                                   {"beta1", 0.9, 0, 1, UNIT_OPEN, 0},
                                   {"beta2", 0.999, 0, 1, UNIT_OPEN, 0},
                                   {"eps", 1e-8, 0, 0, POSITIVE, 0},
                                   {"wd", 0.0, 0, 0, LO_CLOSED, 0}};
static const OptkBuffer ADAM_B[] = {P_BUF, G_BUF, BUF("m", STATE, F32, N, ONE),
                                    BUF("v", STATE, F32, N, ONE)};

static void adam_s0(OptkScalarCtx *c) {
  const double *h = c->hyper;
  c->slot[0] = h[1];
  c->slot[1] = h[2];
  c->slot[2] = 1.0 / (1.0 - pow(h[1], c->t));
  c->slot[3] = 1.0 / (1.0 - pow(h[2], c->t));
  c->slot[4] = h[0];
  c->slot[5] = h[3];
  c->slot[6] = h[4];
}

static void adam_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0], *m = c->buf[2], *v = c->buf[3];
  const float *g = c->buf[1];
  const double *s = c->slot;
  float b1 = (float)s[0], b2 = (float)s[1], c1 = (float)s[2], c2 = (float)s[3];
  float lr = (float)s[4], eps = (float)s[5], wd = (float)s[6];
  for (int64_t i = b; i < e; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    p[i] = p[i] - lr * ((m[i] * c1) / (sqrtf(v[i] * c2) + eps) + wd * p[i]);
  }
}

static const OptkOp ADAM_OPS[] = {SCALAR_OP(0), SWEEP_OP(0)};
static const OptkScalarFn ADAM_SF[] = {adam_s0};
static const OptkSweepFn ADAM_WF[] = {adam_w0};
const OptkDescriptor hk_adam = {DESC("adam", 0, ADAM_H, ADAM_B, ADAM_OPS), SFNS(ADAM_SF), WFNS(ADAM_WF), .nslot = 7,
                                .sweeps = 1};

/* ---- clip: hyper lr = 0.1; hyper maxnorm = 1 in (0, inf);
 *      state u : f64 = 0; state calls : scalar f64 = 5; state gmax : scalar = 0
 *      update { gn = sqrt(group.sum(g^2)); gmax = norminf(g); calls += 1
 *               u = lr * min(1, maxnorm / gn) * g; p -= u } */
static const OptkHyper CLIP_H[] = {{"lr", 0.1, 0, 0, LO_CLOSED, 0}, {"maxnorm", 1.0, 0, 0, POSITIVE, 0}};
static const OptkBuffer CLIP_B[] = {P_BUF, G_BUF, BUF("u", STATE, F64, N, ONE)};
static const OptkScalarState CLIP_SS[] = {{"calls", OPTK_F64, {0}}, {"gmax", OPTK_F32, {0}}};
static const double CLIP_SS_INIT[] = {5.0, 0.0};

static void clip_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  const float *g = c->buf[1];
  double x[OPTK_BLOCK];
  for (int64_t bs = b; bs < e; bs += OPTK_BLOCK) {
    int64_t cnt = e - bs < OPTK_BLOCK ? e - bs : OPTK_BLOCK;
    double mx = -INFINITY;
    for (int64_t i = 0; i < cnt; i++) {
      double gi = g[bs + i], a = fabs(gi);
      x[i] = gi * gi;
      mx = (isnan(a) || a > mx) ? a : mx;
    }
    c->partial[(bs / OPTK_BLOCK) * 2 + 0] = optk_block_sum(x, cnt);
    c->partial[(bs / OPTK_BLOCK) * 2 + 1] = mx;
  }
}

static void clip_s0(OptkScalarCtx *c) {
  double gn = sqrt(c->red[0]);
  c->sstate[0] += 1.0;
  c->sstate[1] = (double)(float)c->red[1];
  c->slot[0] = c->hyper[0] * fmin(1.0, c->hyper[1] / gn);
}

static void clip_w1(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *g = c->buf[1];
  double *u = c->buf[2];
  for (int64_t i = b; i < e; i++) {
    u[i] = c->slot[0] * g[i];
    p[i] = (float)(p[i] - u[i]);
  }
}

static const OptkOp CLIP_OPS[] = {SWEEP_OP(0),
                                  {OPTK_OP_COMBINE, 0, OPTK_SCOPE_GROUP, OPTK_RED_SUM, 0, 1, 0, 0},
                                  {OPTK_OP_COMBINE, 0, OPTK_SCOPE_TENSOR, OPTK_RED_MAX, 1, 1, 0, 0},
                                  SCALAR_OP(0), SWEEP_OP(1)};
static const OptkScalarFn CLIP_SF[] = {clip_s0};
static const OptkSweepFn CLIP_WF[] = {clip_w0, clip_w1};
const OptkDescriptor hk_clip = {DESC("clip", 0, CLIP_H, CLIP_B, CLIP_OPS), SFNS(CLIP_SF), WFNS(CLIP_WF),
                                .nsstate = 2, .sstates = CLIP_SS, .sstate_init = CLIP_SS_INIT,
                                .nred = 2, .nslot = 1, .sweeps = 2};

/* ---- everyk: hyper k = 3 in [1, 1000]; hyper lr = 0.1; state h = 0
 *      update { if (t - 1) % k == 0 { h = g^2 } else { h = h / 2 }
 *               p -= lr * g / (1 + h) } */
static const OptkHyper EVERYK_H[] = {
    {"k", 3, 1, 1000, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI, 0}, {"lr", 0.1, 0, 0, LO_CLOSED, 0}};
static const OptkBuffer EVERYK_B[] = {P_BUF, G_BUF, BUF("h", STATE, F32, N, ONE)};

static void everyk_s0(OptkScalarCtx *c) {
  c->slot[0] = fmod(c->t - 1.0, c->hyper[0]) == 0.0 ? 1.0 : 0.0;
  c->slot[1] = c->hyper[1];
}

static void everyk_refresh(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *h = c->buf[2];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) h[i] = g[i] * g[i];
}

static void everyk_decay(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *h = c->buf[2];
  for (int64_t i = b; i < e; i++) h[i] = h[i] * 0.5f;
}

static void everyk_update(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0], *h = c->buf[2];
  const float *g = c->buf[1];
  float lr = (float)c->slot[1];
  for (int64_t i = b; i < e; i++) p[i] -= lr * g[i] / (1.0f + h[i]);
}

static const OptkOp EVERYK_OPS[] = {SCALAR_OP(0),
                                    {OPTK_OP_JUMP_IF_ZERO, 0, 0, 0, 4, 0, 0, 0},
                                    SWEEP_OP(0),
                                    {OPTK_OP_JUMP, 0, 0, 0, 5, 0, 0, 0},
                                    SWEEP_OP(1),
                                    SWEEP_OP(2)};
static const OptkScalarFn EVERYK_SF[] = {everyk_s0};
static const OptkSweepFn EVERYK_WF[] = {everyk_refresh, everyk_decay, everyk_update};
const OptkDescriptor hk_everyk = {
    DESC("everyk", 0, EVERYK_H, EVERYK_B, EVERYK_OPS), SFNS(EVERYK_SF), WFNS(EVERYK_WF), .nslot = 2,
    .sweeps = 2};

/* ---- allmat: every MATOP once (2-D only); slots 0: 2.5, 1: 2 (root),
 *      2: 1e-12 (eps), 3: -1 */
static const OptkHyper NO_H[] = {{"lr", 0.1, 0, 0, LO_CLOSED, 0}};
static const OptkBuffer ALLMAT_B[] = {
    P_BUF, G_BUF,
    BUF("ptp", STATE, F64, COLS, COLS),  /* 2: p' p (mixed dtypes: double path) */
    BUF("ppt", STATE, F32, ROWS, ROWS),  /* 3: p p' (sgemm) */
    BUF("eye", STATE, F64, COLS, COLS),  /* 4: 2.5 I */
    BUF("copy", STATE, F32, N, ONE),     /* 5: p */
    BUF("tr", STATE, F64, COLS, ROWS),   /* 6: p' */
    BUF("rmean", STATE, F32, ROWS, ONE), /* 7 */
    BUF("cmean", STATE, F64, ONE, COLS), /* 8 */
    BUF("iroot", STATE, F64, COLS, COLS),/* 9: ptp^(-1/2) */
    BUF("evec", STATE, F64, COLS, COLS), /* 10 */
    BUF("cmt", STATE, F64, COLS, ONE),   /* 11: cmean' */
    BUF("sol", STATE, F64, COLS, ONE),   /* 12: ptp \ cmt (Cholesky) */
    BUF("neg", STATE, F64, COLS, COLS),  /* 13: -I */
    BUF("sol2", STATE, F32, COLS, ONE)}; /* 14: -I \ cmt (falls back to sytrf) */

static void allmat_s0(OptkScalarCtx *c) {
  c->slot[0] = 2.5;
  c->slot[1] = 2.0;
  c->slot[2] = 1e-12;
  c->slot[3] = -1.0;
}

static const OptkOp ALLMAT_OPS[] = {
    SCALAR_OP(0),
    MAT(GEMM, OPTK_MATOP_TRANS_A, 0, 0, 2, -1),
    MAT(GEMM, OPTK_MATOP_TRANS_B, 0, 0, 3, -1),
    MAT(IDENTITY, 0, -1, -1, 4, 0),
    MAT(COPY, 0, 0, -1, 5, -1),
    MAT(TRANSPOSE, 0, 0, -1, 6, -1),
    MAT(ROWMEAN, 0, 0, -1, 7, -1),
    MAT(COLMEAN, 0, 0, -1, 8, -1),
    MAT(INV_ROOT, 0, 2, -1, 9, 1),
    MAT(EIGVECS, 0, 2, -1, 10, -1),
    MAT(TRANSPOSE, 0, 8, -1, 11, -1),
    MAT(SOLVE, 0, 2, 11, 12, -1),
    MAT(IDENTITY, 0, -1, -1, 13, 3),
    MAT(SOLVE, 0, 13, 11, 14, -1)};
static const OptkScalarFn ALLMAT_SF[] = {allmat_s0};
const OptkDescriptor hk_allmat = {
    DESC("allmat", OPTK_NEED_2D, NO_H, ALLMAT_B, ALLMAT_OPS), SFNS(ALLMAT_SF),
    .nslot = 4};

/* ---- means: ROWMEAN and COLMEAN from f32 and f64 sources, plain and
 *      accumulating (c = 0.25 mean + 0.5 c: slots 0, 1); side by side
 *      (the runtime reads the matrix once for both), in both orders, and
 *      a ROWMEAN on its own. */
static const OptkBuffer MEANS_B[] = {
    P_BUF, G_BUF,
    BUF("pd", STATE, F64, ROWS, COLS),  /* 2: p in double (COPY) */
    BUF("rm", STATE, F64, ROWS, ONE),   /* 3: 0.25 rowmean(pd) + 0.5 rm */
    BUF("cm", STATE, F32, ONE, COLS),   /* 4: 0.25 colmean(pd) + 0.5 cm */
    BUF("rmf", STATE, F32, ROWS, ONE),  /* 5: rowmean(p) */
    BUF("cmd", STATE, F64, ONE, COLS),  /* 6: colmean(p) */
    BUF("rms", STATE, F64, ROWS, ONE)}; /* 7: rowmean(p), alone */

static void means_s0(OptkScalarCtx *c) {
  c->slot[0] = 0.25;
  c->slot[1] = 0.5;
}

static const OptkOp MEANS_OPS[] = {
    SCALAR_OP(0),
    MAT(COPY, 0, 0, -1, 2, -1),
    MAT(ROWMEAN, OPTK_MATOP_ACCUMULATE, 2, -1, 3, 0),
    MAT(COLMEAN, OPTK_MATOP_ACCUMULATE, 2, -1, 4, 0),
    MAT(COLMEAN, 0, 0, -1, 6, -1),
    MAT(ROWMEAN, 0, 0, -1, 5, -1),
    SCALAR_OP(0),
    MAT(ROWMEAN, 0, 0, -1, 7, -1)};
static const OptkScalarFn MEANS_SF[] = {means_s0};
const OptkDescriptor hk_means = {
    DESC("means", OPTK_NEED_2D, NO_H, MEANS_B, MEANS_OPS), SFNS(MEANS_SF), .nslot = 2};

/* ---- precond: state L : matrix(rows, rows) f64
 *      update { L = g @ g.T; R = inv_root(L, 2, 1e-6); p -= lr * (R @ g) } */
static const OptkBuffer PRECOND_B[] = {P_BUF, G_BUF, BUF("L", STATE, F64, ROWS, ROWS),
                                       BUF("R", SCRATCH, F64, ROWS, ROWS),
                                       BUF("u", SCRATCH, F32, N, ONE)};

static void precond_s0(OptkScalarCtx *c) {
  c->slot[0] = 2.0;
  c->slot[1] = 1e-6;
  c->slot[2] = c->hyper[0];
}

static void precond_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *u = c->buf[4];
  float lr = (float)c->slot[2];
  for (int64_t i = b; i < e; i++) p[i] -= lr * u[i];
}

static const OptkOp PRECOND_OPS[] = {SCALAR_OP(0), MAT(GEMM, OPTK_MATOP_TRANS_B, 1, 1, 2, -1),
                                     MAT(INV_ROOT, 0, 2, -1, 3, 0), MAT(GEMM, 0, 3, 1, 4, -1),
                                     SWEEP_OP(0)};
static const OptkScalarFn PRECOND_SF[] = {precond_s0};
static const OptkSweepFn PRECOND_WF[] = {precond_w0};
const OptkDescriptor hk_precond = {
    DESC("precond", OPTK_NEED_2D, NO_H, PRECOND_B, PRECOND_OPS), SFNS(PRECOND_SF), WFNS(PRECOND_WF),
    .nslot = 3, .sweeps = 1};

/* ---- newton: update { d = solve(hessian(), g); p -= d } */
static const OptkBuffer NEWTON_B[] = {P_BUF, G_BUF, BUF("H", SCRATCH, F64, N, N),
                                      BUF("d", SCRATCH, F64, N, ONE)};

static void newton_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const double *d = c->buf[3];
  for (int64_t i = b; i < e; i++) p[i] = (float)(p[i] - d[i]);
}

static const OptkOp NEWTON_OPS[] = {{OPTK_OP_HESSIAN, 0, 0, 0, 2, 0, 0, 0}, MAT(SOLVE, 0, 2, 1, 3, -1),
                                    SWEEP_OP(0)};
static const OptkSweepFn NEWTON_WF[] = {newton_w0};
const OptkDescriptor hk_newton = {
    DESC("newton", OPTK_NEED_HESSIAN, NO_H, NEWTON_B, NEWTON_OPS), WFNS(NEWTON_WF),
    .sweeps = 1};

/* ---- hvpstep: update { p -= lr * hvp(g) } (v f32, hv f64) */
static const OptkBuffer HVP_B[] = {P_BUF, G_BUF, BUF("v", SCRATCH, F32, N, ONE),
                                   BUF("hv", SCRATCH, F64, N, ONE)};

static void lr_slot(OptkScalarCtx *c) { c->slot[0] = c->hyper[0]; }

static void hvp_copy(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *v = c->buf[2];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) v[i] = g[i];
}

static void hvp_update(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const double *hv = c->buf[3];
  for (int64_t i = b; i < e; i++) p[i] = (float)(p[i] - c->slot[0] * hv[i]);
}

static const OptkOp HVP_OPS[] = {SCALAR_OP(0), SWEEP_OP(0), {OPTK_OP_HVP, 0, 0, 0, 2, 3, 0, 0},
                                 SWEEP_OP(1)};
static const OptkScalarFn LR_SF[] = {lr_slot};
static const OptkSweepFn HVP_WF[] = {hvp_copy, hvp_update};
const OptkDescriptor hk_hvpstep = {
    DESC("hvpstep", OPTK_NEED_HVP, NO_H, HVP_B, HVP_OPS), SFNS(LR_SF), WFNS(HVP_WF), .nslot = 1,
    .sweeps = 2};

/* ---- line search: update { d = -g; alpha = linesearch(d, armijo|wolfe) }
 *      slots 0..3: step0 1, c1 1e-4, c2 0.9, max_evals default; slot 4:
 *      the accepted step, kept in scalar state `alpha`. */
static const OptkBuffer LS_B[] = {P_BUF, G_BUF, BUF("d", SCRATCH, F32, N, ONE)};
static const OptkScalarState LS_SS[] = {{"alpha", OPTK_F64, {0}}};
static const double LS_SS_INIT[] = {0.0};

static void ls_s0(OptkScalarCtx *c) {
  c->slot[0] = 1.0;
  c->slot[1] = 1e-4;
  c->slot[2] = 0.9;
  c->slot[3] = NAN;
  c->slot[4] = -1.0;
}

static void ls_s1(OptkScalarCtx *c) { c->sstate[0] = c->slot[4]; }

static void ls_neg(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *d = c->buf[2];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) d[i] = -g[i];
}

static void ls_pos(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *d = c->buf[2];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) d[i] = g[i];
}

static const OptkOp LS_ARMIJO_OPS[] = {SCALAR_OP(0), SWEEP_OP(0),
                                       {OPTK_OP_LINESEARCH, 0, 0, 0, 2, OPTK_LS_ARMIJO, 0, 4},
                                       SCALAR_OP(1)};
static const OptkOp LS_WOLFE_OPS[] = {SCALAR_OP(0), SWEEP_OP(0),
                                      {OPTK_OP_LINESEARCH, 0, 0, 0, 2, OPTK_LS_WOLFE, 0, 4},
                                      SCALAR_OP(1)};
static const OptkScalarFn LS_SF[] = {ls_s0, ls_s1};
static const OptkSweepFn LS_WF[] = {ls_neg};
static const OptkSweepFn LS_BAD_WF[] = {ls_pos};
#define LS_NEEDS (OPTK_NEED_LINESEARCH | OPTK_NEED_LOSS)
#define LS_REST .nslot = 5, .nsstate = 1, .sstates = LS_SS, .sstate_init = LS_SS_INIT, .sweeps = 1
const OptkDescriptor hk_ls_armijo = {
    DESC("ls_armijo", LS_NEEDS, NO_H, LS_B, LS_ARMIJO_OPS), SFNS(LS_SF), WFNS(LS_WF), LS_REST};
const OptkDescriptor hk_ls_wolfe = {
    DESC("ls_wolfe", LS_NEEDS, NO_H, LS_B, LS_WOLFE_OPS), SFNS(LS_SF), WFNS(LS_WF), LS_REST};
const OptkDescriptor hk_ls_bad = {
    DESC("ls_bad", LS_NEEDS, NO_H, LS_B, LS_ARMIJO_OPS), SFNS(LS_SF), WFNS(LS_BAD_WF), LS_REST};

/* ---- lossy: update { p -= lr * f * g } */
static const OptkBuffer PG_B[] = {P_BUF, G_BUF};

static void lossy_s0(OptkScalarCtx *c) { c->slot[0] = c->hyper[0] * c->f; }

static void lossy_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) p[i] = (float)(p[i] - c->slot[0] * g[i]);
}

static const OptkOp LOSSY_OPS[] = {SCALAR_OP(0), SWEEP_OP(0)};
static const OptkScalarFn LOSSY_SF[] = {lossy_s0};
static const OptkSweepFn LOSSY_WF[] = {lossy_w0};
const OptkDescriptor hk_lossy = {
    DESC("lossy", OPTK_NEED_LOSS, NO_H, PG_B, LOSSY_OPS), SFNS(LOSSY_SF), WFNS(LOSSY_WF), .nslot = 1,
    .sweeps = 1};

/* ---- noise: update { p -= lr * (g + 0.5 * rademacher() + 0.25 * normal()) }
 *      call sites 0 and 1 */
static void noise_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *g = c->buf[1];
  uint64_t k0 = optk_rng_key(c->seed, c->step, c->tensor_id, 0);
  uint64_t k1 = optk_rng_key(c->seed, c->step, c->tensor_id, 1);
  for (int64_t i = b; i < e; i++) {
    double u1, u2;
    optk_normal_uniforms(optk_rng_u64(k1, (uint64_t)i), &u1, &u2);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double r = optk_rademacher(optk_rng_u64(k0, (uint64_t)i));
    p[i] = (float)(p[i] - c->slot[0] * (g[i] + 0.5 * r + 0.25 * z));
  }
}

static const OptkOp NOISE_OPS[] = {SCALAR_OP(0), SWEEP_OP(0)};
static const OptkSweepFn NOISE_WF[] = {noise_w0};
const OptkDescriptor hk_noise = {DESC("noise", 0, NO_H, PG_B, NOISE_OPS), SFNS(LR_SF),
                                 WFNS(NOISE_WF), .nslot = 1, .sweeps = 1};

/* ---- chunks: optimizer chunks; hyper lr = 0 in [0, inf);
 *      update { p = p + lr * g }, whose sweep also counts its calls and
 *      keeps the longest [begin, end) it was given. */
static const OptkHyper CHUNKS_H[] = {{"lr", 0.0, 0, 0, LO_CLOSED, 0}};
static const OptkBuffer CHUNKS_B[] = {P_BUF, G_BUF};
static atomic_llong chunk_calls, chunk_longest;

static void chunks_s0(OptkScalarCtx *c) { c->slot[0] = c->hyper[0]; }

static void chunks_w0(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *g = c->buf[1];
  for (int64_t i = b; i < e; i++) p[i] += (float)c->slot[0] * g[i];
  atomic_fetch_add(&chunk_calls, 1);
  long long seen = atomic_load(&chunk_longest);
  while (e - b > seen && !atomic_compare_exchange_weak(&chunk_longest, &seen, e - b)) {
  }
}

void hk_chunks_seen(int64_t *calls, int64_t *longest) {
  *calls = atomic_exchange(&chunk_calls, 0);
  *longest = atomic_exchange(&chunk_longest, 0);
}

static const OptkOp CHUNKS_OPS[] = {SCALAR_OP(0), SWEEP_OP(0)};
static const OptkScalarFn CHUNKS_SF[] = {chunks_s0};
static const OptkSweepFn CHUNKS_WF[] = {chunks_w0};
const OptkDescriptor hk_chunks = {DESC("chunks", 0, CHUNKS_H, CHUNKS_B, CHUNKS_OPS),
                                  SFNS(CHUNKS_SF), WFNS(CHUNKS_WF), .nslot = 1, .sweeps = 1};

/* lower.c: checked AST -> function-level SSA IR (see lower.h, docs/ir.md).
 *
 * The environment maps every name that can change during a step to its
 * current SSA value: env[ENV_P], env[ENV_G], env[ENV_F], then one entry per
 * state, then one per local (-1: not assigned on this path).  `mem` holds
 * what memory holds for p and each state, so a STORE is emitted only where
 * memory must change: before a host call that reads p, and at the end.
 * `if` lowers both branches from copies of the environment and merges
 * with SELECT; when a branch emitted a barrier, the branch is also wrapped
 * in FN_IF/FN_ENDIF so the plan can skip it (its condition must then be
 * group-uniform).  Wrappers of branches without barriers are dropped at
 * the end.
 *
 * Matrices (docs/ir.md): values shaped like p are ELEM whatever they came
 * from; other matrices are MAT values.  Matrix ops (@ with transposes
 * folded into GEMM's flags, .T, rowmean, colmean, outer, inv_root,
 * eigvecs, solve) are FN_MATOP barriers, hessian() FN_HESSIAN; an operand
 * that is elementwise MAT work is first written to a scratch by an
 * FN_MSWEEP, as is a matrix state's new value; a matrix state's final
 * value is stored by an FN_MSWEEP into its buffer.  `I` is row == col
 * with its size taken from the other operand.
 */
#include "lower.h"

#include <math.h>
#include <string.h>

#include "ir_build.h"

enum { ENV_P, ENV_G, ENV_F, ENV_FIXED };

typedef struct Lower {
  const SemaProgram *sp;
  DiagSink *diags;
  IrProgram *prog;
  IrFunc *f;
  int *env, nenv;
  int *mem;           /* [ENV_FIXED + nstates]: value in memory (-1 unknown) */
  int *state_buf;     /* state -> buffer, or -1 */
  int *state_ss;      /* state -> scalar state, or -1 */
  int *state_mbuf;    /* state -> matrix buffer (not shaped like p), or -1 */
  int *state_hist;    /* history state -> first of its buffers S, Y, RHO, or -1 */
  int *state_hss;     /* history state -> first of its scalar states len, head */
  int pver, gver, fver;
  const int *params;  /* arguments of the def being inlined */
  int depth;
  int nbarriers;      /* barriers emitted so far (if-conversion test) */
  int unrolled;
  bool too_large;     /* LOWER_MAX_INSTS reached: reported once, then stop */
  int errors;
} Lower;

static int lower_expr(Lower *L, const AstNode *e);
static void lower_body(Lower *L, const AstList *body);
static int mstate_of(const Lower *L, int v);

static void error_at(Lower *L, Span at, const char *fmt, const char *arg) {
  diag_error(L->diags, at, fmt, arg);
  L->errors++;
}

/* What lowering does not support: one error at the construct, and a
 * placeholder value. */
static int not_compiled(Lower *L, Span at, const char *what) {
  diag_error(L->diags, at, "%s is not supported by this version of optc", what);
  L->errors++;
  return L->f ? irf_const(L->f, 0, at) : -1;
}

static int state_slot(int state) { return ENV_FIXED + state; }
static int local_slot(const Lower *L, int local) { return ENV_FIXED + L->sp->nstates + local; }

/* ---- leaves and memory --------------------------------------------------- */

static int load(Lower *L, int buf, int version, Span at) {
  return irf_leaf(L->f, IR_LOAD, buf, version, IR_SHAPE_ELEM, at);
}

static int state_entry_value(Lower *L, int s, Span at) {
  if (L->state_hist[s] >= 0) return -1; /* a history is never a value */
  if (L->state_buf[s] >= 0) return load(L, L->state_buf[s], 0, at);
  if (L->state_mbuf[s] >= 0) {
    const IrBuffer *b = &L->prog->bufs[L->state_mbuf[s]];
    int v = irf_leaf(L->f, IR_LOAD, L->state_mbuf[s], 0, IR_SHAPE_MAT, at);
    L->f->data[v].mdim[0] = (uint8_t)b->dim0;
    L->f->data[v].mdim[1] = (uint8_t)b->dim1;
    return v;
  }
  return irf_leaf(L->f, IR_SSTATE, L->state_ss[s], 0, IR_SHAPE_SCALAR, at);
}

static void init_env(Lower *L) {
  Span at = L->sp->update ? L->sp->update->span : SPAN_NONE;
  L->nenv = ENV_FIXED + L->sp->nstates + L->sp->nlocals;
  L->env = xmalloc(sizeof(int) * (size_t)L->nenv);
  L->mem = xmalloc(sizeof(int) * (size_t)(ENV_FIXED + L->sp->nstates));
  for (int i = 0; i < L->nenv; i++) L->env[i] = -1;
  L->env[ENV_P] = load(L, 0, 0, at);
  L->env[ENV_G] = load(L, 1, 0, at);
  L->env[ENV_F] = irf_leaf(L->f, IR_LOSS, 0, 0, IR_SHAPE_SCALAR, at);
  for (int s = 0; s < L->sp->nstates; s++) L->env[state_slot(s)] = state_entry_value(L, s, at);
  memcpy(L->mem, L->env, sizeof(int) * (size_t)(ENV_FIXED + L->sp->nstates));
}

static int store_value(Lower *L, int op, int index, int value) {
  IrFInst in;
  memset(&in, 0, sizeof in);
  in.op = op;
  in.args[0] = value;
  in.args[1] = in.args[2] = -1;
  for (int k = 0; k < 4; k++) in.xargs[k] = -1;
  in.index = index;
  in.span = L->f->data[value].span;
  in.shape = op == IR_STORE ? IR_SHAPE_ELEM : IR_SHAPE_SCALAR;
  return irf_push(L->f, &in);
}

/* Makes memory hold p's current value (host calls read p). */
static void sync_p(Lower *L) {
  if (L->env[ENV_P] == L->mem[ENV_P]) return;
  store_value(L, IR_STORE, 0, L->env[ENV_P]);
  L->mem[ENV_P] = L->env[ENV_P];
}

/* A barrier of the matrix ops (FN_MATOP, FN_MSWEEP, FN_HESSIAN); its
 * value is ELEM when (d0, d1) is shaped like p, else MAT. */
static int mat_barrier(Lower *L, int op, int arg, int d0, int d1, Span at) {
  IrFInst in;
  memset(&in, 0, sizeof in);
  in.op = op;
  in.args[0] = arg;
  in.args[1] = in.args[2] = -1;
  for (int k = 0; k < 4; k++) in.xargs[k] = -1;
  bool elem = (d0 == OPTK_DIM_ROWS && d1 == OPTK_DIM_COLS) || (d0 == OPTK_DIM_N && d1 == OPTK_DIM_ONE) ||
              (d0 == OPTK_DIM_N && d1 == OPTK_DIM_COLS);
  in.shape = elem ? IR_SHAPE_ELEM : IR_SHAPE_MAT;
  in.mdim[0] = (uint8_t)d0;
  in.mdim[1] = (uint8_t)d1;
  in.index = in.out = -1;
  in.span = at;
  L->nbarriers++;
  return irf_push(L->f, &in);
}

/* A sweep writing v (MAT or scalar) into `buf` (-1: a scratch) of dims
 * (d0, d1). */
static int msweep(Lower *L, int v, int buf, int d0, int d1, Span at) {
  int m = mat_barrier(L, FN_MSWEEP, v, d0, d1, at);
  L->f->data[m].shape = IR_SHAPE_MAT;
  L->f->data[m].index = buf;
  return m;
}

static bool mat_known(const IrFInst *in) {
  return in->mdim[0] != IR_DIM_ANY && in->mdim[1] != IR_DIM_ANY;
}

/* A MAT operand of a matrix op must be in memory: elementwise matrix work
 * gets its own sweep.  Loads, barrier outputs and ELEM values (the
 * scheduler gives those a buffer) pass through. */
static int materialize(Lower *L, int v, Span at) {
  const IrFInst *in = &L->f->data[v];
  if (!irf_is_mat(in) || in->op == IR_LOAD || irf_is_barrier(in)) return v;
  if (!mat_known(in)) return not_compiled(L, at, "the identity I without a size from its context");
  return msweep(L, v, -1, in->mdim[0], in->mdim[1], at);
}

/* The final values of p and the states, in state order after p. */
static void store_final(Lower *L) {
  sync_p(L);
  for (int s = 0; s < L->sp->nstates; s++) {
    int v = L->env[state_slot(s)];
    if (v < 0 || v == L->mem[state_slot(s)]) continue;
    if (L->state_mbuf[s] >= 0) {
      const IrBuffer *b = &L->prog->bufs[L->state_mbuf[s]];
      msweep(L, v, L->state_mbuf[s], b->dim0, b->dim1, L->f->data[v].span);
    } else if (L->state_buf[s] >= 0) {
      store_value(L, IR_STORE, L->state_buf[s], v);
    } else {
      store_value(L, IR_SSTATE_SET, L->state_ss[s], v);
    }
  }
}

/* ---- names --------------------------------------------------------------- */

static int lower_builtin_var(Lower *L, const AstNode *e) {
  switch (e->ref.index) {
  case BV_P: return L->env[ENV_P];
  case BV_G: return L->env[ENV_G];
  case BV_F: return L->env[ENV_F];
  case BV_T: return irf_leaf(L->f, IR_STEP, 0, 0, IR_SHAPE_SCALAR, e->span);
  case BV_N: return irf_leaf(L->f, IR_NUMEL, 0, 0, IR_SHAPE_SCALAR, e->span);
  case BV_ROWS: return irf_leaf(L->f, IR_ROWS, 0, 0, IR_SHAPE_SCALAR, e->span);
  case BV_COLS: return irf_leaf(L->f, IR_COLS, 0, 0, IR_SHAPE_SCALAR, e->span);
  case BV_INF: return irf_const(L->f, INFINITY, e->span);
  case BV_PI: return irf_const(L->f, 3.14159265358979323846, e->span);
  default: { /* BV_I: row == col, its size from the other operand */
    int r = irf_leaf(L->f, IR_ROW_INDEX, 0, 0, IR_SHAPE_MAT, e->span);
    int c = irf_leaf(L->f, IR_COL_INDEX, 0, 0, IR_SHAPE_MAT, e->span);
    for (int k = 0; k < 2; k++) L->f->data[r].mdim[k] = L->f->data[c].mdim[k] = IR_DIM_ANY;
    return irf_op2(L->f, IR_EQ, r, c, e->span);
  }
  }
}

static int lower_name(Lower *L, const AstNode *e) {
  int v = -1;
  switch (e->ref.kind) {
  case REF_BUILTIN: return lower_builtin_var(L, e);
  case REF_HYPER: return irf_leaf(L->f, IR_HYPER, e->ref.index, 0, IR_SHAPE_SCALAR, e->span);
  case REF_STATE: v = L->env[state_slot(e->ref.index)]; break;
  case REF_LOCAL: v = L->env[local_slot(L, e->ref.index)]; break;
  case REF_PARAM: v = L->params ? L->params[e->ref.index] : -1; break;
  default: break;
  }
  if (v < 0) {
    error_at(L, e->span, "'%s' has no value here", e->name.id);
    return irf_const(L->f, 0, e->span);
  }
  int ms = mstate_of(L, v);
  if (ms >= 0 && L->env[state_slot(ms)] != v) {
    char what[256];
    snprintf(what, sizeof what, "'%s' holds the value matrix state '%s' had before it was assigned",
             e->name.id, L->sp->states[ms]->state.name);
    error_at(L, e->span, "%s; a matrix state's buffer keeps only its latest value", what);
  }
  return v;
}

/* ---- operators ----------------------------------------------------------- */

static IrOp binary_op(AstOp op) {
  switch (op) {
  case AST_OP_ADD: return IR_ADD;
  case AST_OP_SUB: return IR_SUB;
  case AST_OP_MUL: return IR_MUL;
  case AST_OP_DIV: return IR_DIV;
  case AST_OP_POW: return IR_POW;
  case AST_OP_EQ: return IR_EQ;
  case AST_OP_NE: return IR_NE;
  case AST_OP_LT: return IR_LT;
  case AST_OP_LE: return IR_LE;
  case AST_OP_GT: return IR_GT;
  case AST_OP_GE: return IR_GE;
  case AST_OP_AND: return IR_AND;
  case AST_OP_OR: return IR_OR;
  default: return IR_OP_COUNT;
  }
}

/* ---- matrix ops ------------------------------------------------------------ */

/* v's dims as a matrix: a MAT's own, (ROWS, COLS) for values shaped like p. */
static void dims_of(const Lower *L, int v, int d[2]) {
  const IrFInst *in = &L->f->data[v];
  d[0] = irf_is_mat(in) ? in->mdim[0] : OPTK_DIM_ROWS;
  d[1] = irf_is_mat(in) ? in->mdim[1] : OPTK_DIM_COLS;
}

static int matop(Lower *L, OptkMatOp fn, int a, int b, uint32_t flags, int d0, int d1, Span at) {
  int v = mat_barrier(L, FN_MATOP, a, d0, d1, at);
  IrFInst *in = &L->f->data[v];
  in->index = fn;
  in->aux = (int32_t)flags;
  in->xargs[0] = b;
  return v;
}

/* A matrix operand: materialized, and (for GEMM, trans != 0) a transpose
 * folded into the flag `trans`. */
static int mat_operand(Lower *L, int v, uint32_t trans, uint32_t *flags, int d[2], Span at) {
  v = materialize(L, v, at);
  const IrFInst *in = &L->f->data[v];
  if (irf_is_scalar(in)) {
    d[0] = d[1] = OPTK_DIM_ONE;
    return not_compiled(L, at, "a matrix op on a scalar");
  }
  if (trans && in->op == FN_MATOP && in->index == OPTK_MAT_TRANSPOSE) {
    *flags |= trans;
    v = in->args[0];
    dims_of(L, v, d);
    int t = d[0];
    d[0] = d[1], d[1] = t;
    return v;
  }
  dims_of(L, v, d);
  return v;
}

/* v = s * x or x * s with s a scalar and x not: returns x and sets *s;
 * otherwise returns v and leaves *s alone. */
static int scaled_operand(const Lower *L, int v, int *s) {
  const IrFInst *in = &L->f->data[v];
  if (in->op != IR_MUL) return v;
  for (int k = 0; k < 2; k++) {
    int x = in->args[k], y = in->args[1 - k];
    if (irf_is_scalar(&L->f->data[y]) && !irf_is_scalar(&L->f->data[x])) {
      *s = y;
      return x;
    }
  }
  return v;
}

/* A scalar factor of either operand goes to GEMM's alpha (xargs[1]):
 * `2 * A @ A` and `(1 - b) * g.T @ g` are one GEMM each, with no sweep
 * writing the scaled operand to a scratch (nor, for the second, a
 * transpose).  alpha * (A B) rounds differently from (alpha A) B; both
 * are the same product. */
static int lower_matmul(Lower *L, const AstNode *e) {
  uint32_t flags = 0;
  int da[2], db[2], sa = -1, sb = -1;
  int a = scaled_operand(L, lower_expr(L, e->binary.lhs), &sa);
  int b = scaled_operand(L, lower_expr(L, e->binary.rhs), &sb);
  a = mat_operand(L, a, OPTK_MATOP_TRANS_A, &flags, da, e->span);
  b = mat_operand(L, b, OPTK_MATOP_TRANS_B, &flags, db, e->span);
  int alpha = sa >= 0 && sb >= 0 ? irf_op2(L->f, IR_MUL, sa, sb, e->span) : sa >= 0 ? sa : sb;
  int m = matop(L, OPTK_MAT_GEMM, a, b, flags, da[0], db[1], e->span);
  L->f->data[m].xargs[1] = alpha;
  return m;
}

static int transpose_of(Lower *L, int v, Span at) {
  int d[2];
  v = materialize(L, v, at);
  if (irf_is_scalar(&L->f->data[v])) return v;
  dims_of(L, v, d);
  return matop(L, OPTK_MAT_TRANSPOSE, v, -1, 0, d[1], d[0], at);
}

static bool has_dim_n(const Lower *L, int v) {
  int d[2];
  dims_of(L, v, d);
  return d[0] == OPTK_DIM_N || d[1] == OPTK_DIM_N;
}

/* The GEMM, ROWMEAN or COLMEAN behind v = G or s * G (one not
 * accumulating yet, with no n x n operand, where vectors like p would be
 * n x 1 columns, lowered at or after `fresh`: part of this expression,
 * not a local's value that other code may read, whose product would be
 * computed twice): its index, with *s the factor or -1; -1 when v is
 * neither. */
static int gemm_behind(const Lower *L, int v, int fresh, int *s) {
  *s = -1;
  int g = scaled_operand(L, v, s);
  const IrFInst *in = &L->f->data[g];
  bool adds = in->index == OPTK_MAT_GEMM || in->index == OPTK_MAT_ROWMEAN ||
              in->index == OPTK_MAT_COLMEAN;
  if (g >= fresh && in->op == FN_MATOP && adds && in->xargs[3] < 0 &&
      !has_dim_n(L, g) && !has_dim_n(L, in->args[0]) &&
      (in->xargs[0] < 0 || !has_dim_n(L, in->xargs[0]))) /* rowmean: no second operand */
    return g;
  *s = -1;
  return -1;
}

/* x * y, either of them -1 for 1; const 1 when both are. */
static int scalar_product(Lower *L, int x, int y, Span at) {
  if (x >= 0 && y >= 0) return irf_op2(L->f, IR_MUL, x, y, at);
  return x >= 0 ? x : y >= 0 ? y : irf_const(L->f, 1, at);
}

/* `t * M + s * (A @ B)`, either side first, `-` too (t, s optional scalar
 * factors, M of the product's dims; rowmean and colmean likewise, as
 * Adafactor's `b * R + (1 - b) * rowmean(...)`): one GEMM that adds its product to M,
 * c = alpha A B + beta M with alpha = +-s, beta = +-t (xargs[1..3]); the
 * scheduler copies M into the output first.  Muon's `3.4445 * X + B @ X`
 * and Shampoo's `L + g @ g.T` then need no sweep.  The product must be
 * part of this expression (fresh[k]: the first instruction lowered for
 * side k, x or y: gemm_behind).  -1 when x op y is not of that form. */
static int gemm_sum(Lower *L, IrOp op, int x, int y, const int fresh[2], Span at) {
  if (op != IR_ADD && op != IR_SUB) return -1;
  for (int side = 0; side < 2; side++) {
    int s, g = gemm_behind(L, side ? x : y, fresh[!side], &s);
    if (g < 0) continue;
    int t = -1, m = scaled_operand(L, side ? y : x, &t);
    int dg[2], dm[2];
    if (irf_is_scalar(&L->f->data[m])) continue;
    dims_of(L, g, dg);
    dims_of(L, m, dm);
    if (dg[0] != dm[0] || dg[1] != dm[1] || dg[0] == IR_DIM_ANY || dg[1] == IR_DIM_ANY) continue;
    m = materialize(L, m, at);
    const IrFInst gi = L->f->data[g];
    int alpha = scalar_product(L, s, gi.xargs[1], at);
    int beta = t >= 0 ? t : irf_const(L->f, 1, at);
    if (op == IR_SUB) { /* x - y: the right side changes sign */
      if (side) beta = irf_op1(L->f, IR_NEG, beta, at);
      else alpha = irf_op1(L->f, IR_NEG, alpha, at);
    }
    int v = matop(L, (OptkMatOp)gi.index, gi.args[0], gi.xargs[0], (uint32_t)gi.aux, gi.mdim[0],
                  gi.mdim[1], at);
    L->f->data[v].xargs[1] = alpha;
    L->f->data[v].xargs[2] = beta;
    L->f->data[v].xargs[3] = m;
    return v;
  }
  return -1;
}

static int lower_binary(Lower *L, const AstNode *e) {
  IrOp op = binary_op(e->binary.op);
  if (op == IR_OP_COUNT) return lower_matmul(L, e);
  int fresh[2] = {L->f->len, 0}; /* the first instruction of each side */
  int a = lower_expr(L, e->binary.lhs);
  fresh[1] = L->f->len;
  int b = lower_expr(L, e->binary.rhs);
  int sum = gemm_sum(L, op, a, b, fresh, e->span);
  return sum >= 0 ? sum : irf_op2(L->f, op, a, b, e->span);
}

static int lower_unary(Lower *L, const AstNode *e) {
  int a = lower_expr(L, e->unary.operand);
  if (e->unary.op == AST_OP_NEG) return irf_op1(L->f, IR_NEG, a, e->span);
  if (e->unary.op == AST_OP_NOT) return irf_op1(L->f, IR_NOT, a, e->span);
  return a;
}

/* ---- calls --------------------------------------------------------------- */

/* A barrier instruction (reduction, host call) with one value argument. */
static IrFInst barrier_inst(int op, int arg, Span at) {
  IrFInst in;
  memset(&in, 0, sizeof in);
  in.op = op;
  in.args[0] = arg;
  in.args[1] = in.args[2] = -1;
  for (int k = 0; k < 4; k++) in.xargs[k] = -1;
  in.shape = IR_SHAPE_BARRIER;
  in.span = at;
  return in;
}

static int push_barrier(Lower *L, IrFInst *in) {
  L->nbarriers++;
  return irf_push(L->f, in);
}

static int reduce(Lower *L, int value, OptkReduceKind kind, bool group, Span at) {
  IrFInst in = barrier_inst(IR_REDUCE, value, at);
  in.aux = kind;
  in.index = group ? OPTK_SCOPE_GROUP : OPTK_SCOPE_TENSOR;
  in.uniform = group;
  return push_barrier(L, &in);
}

static int mreduce(Lower *L, int value, OptkReduceKind kind, Span at) {
  if (!mat_known(&L->f->data[value]))
    return not_compiled(L, at, "a reduction of the identity I");
  IrFInst in = barrier_inst(FN_MREDUCE, value, at);
  in.aux = kind;
  return push_barrier(L, &in);
}

static int dim_value(Lower *L, int d, Span at) {
  IrOp op = d == OPTK_DIM_ROWS ? IR_ROWS : d == OPTK_DIM_COLS ? IR_COLS : IR_NUMEL;
  if (d == OPTK_DIM_ONE) return irf_const(L->f, 1, at);
  return irf_leaf(L->f, op, 0, 0, IR_SHAPE_SCALAR, at);
}

/* sum, mean, dot, norm, norminf of a matrix: a sweep over its domain. */
static int lower_mat_reduction(Lower *L, const AstNode *e, const int *a) {
  Span at = e->span;
  IrFunc *f = L->f;
  if (e->call.group) return not_compiled(L, at, "a group reduction of a matrix");
  switch (e->call.builtin) {
  case BF_SUM: return mreduce(L, a[0], OPTK_RED_SUM, at);
  case BF_DOT: return mreduce(L, irf_op2(f, IR_MUL, a[0], a[1], at), OPTK_RED_SUM, at);
  case BF_NORM: return irf_op1(f, IR_SQRT, mreduce(L, irf_op2(f, IR_MUL, a[0], a[0], at), OPTK_RED_SUM, at), at);
  case BF_NORMINF: return mreduce(L, irf_op1(f, IR_ABS, a[0], at), OPTK_RED_MAX, at);
  default: { /* BF_MEAN */
    int d0 = f->data[a[0]].mdim[0], d1 = f->data[a[0]].mdim[1];
    int r = dim_value(L, d0, at), c = dim_value(L, d1, at);
    int sum = mreduce(L, a[0], OPTK_RED_SUM, at);
    return irf_op2(f, IR_DIV, sum, irf_op2(f, IR_MUL, r, c, at), at);
  }
  }
}

static int lower_reduction(Lower *L, const AstNode *e, const int *a) {
  bool group = e->call.group;
  Span at = e->span;
  IrFunc *f = L->f;
  for (int k = 0; k < e->call.args.len && k < 2; k++)
    if (irf_is_mat(&f->data[a[k]])) return lower_mat_reduction(L, e, a);
  switch (e->call.builtin) {
  case BF_SUM: return reduce(L, a[0], OPTK_RED_SUM, group, at);
  case BF_DOT: return reduce(L, irf_op2(f, IR_MUL, a[0], a[1], at), OPTK_RED_SUM, group, at);
  case BF_NORM:
    return irf_op1(f, IR_SQRT,
                   reduce(L, irf_op2(f, IR_MUL, a[0], a[0], at), OPTK_RED_SUM, group, at), at);
  case BF_NORMINF: return reduce(L, irf_op1(f, IR_ABS, a[0], at), OPTK_RED_MAX, group, at);
  default: { /* BF_MEAN: the count is n, or the group's element count */
    int sum = reduce(L, a[0], OPTK_RED_SUM, group, at);
    int count = group ? reduce(L, irf_const(f, 1, at), OPTK_RED_SUM, true, at)
                      : irf_leaf(f, IR_NUMEL, 0, 0, IR_SHAPE_SCALAR, at);
    return irf_op2(f, IR_DIV, sum, count, at);
  }
  }
}

static int lower_elem_call(Lower *L, const AstNode *e, const int *a) {
  static const IrOp UNARY[] = {
      [BF_ABS] = IR_ABS,   [BF_SIGN] = IR_SIGN, [BF_SQRT] = IR_SQRT,
      [BF_RSQRT] = IR_RSQRT, [BF_EXP] = IR_EXP, [BF_LOG] = IR_LOG,
      [BF_LOG1P] = IR_LOG1P, [BF_TANH] = IR_TANH, [BF_SIGMOID] = IR_SIGMOID};
  IrFunc *f = L->f;
  switch (e->call.builtin) {
  case BF_MIN: return irf_op2(f, IR_MIN, a[0], a[1], e->span);
  case BF_MAX: return irf_op2(f, IR_MAX, a[0], a[1], e->span);
  case BF_CLIP: return irf_op2(f, IR_MIN, irf_op2(f, IR_MAX, a[0], a[1], e->span), a[2], e->span);
  case BF_WHERE: return irf_op3(f, IR_SELECT, a[0], a[1], a[2], e->span);
  default: return irf_op1(f, UNARY[e->call.builtin], a[0], e->span);
  }
}

static int lower_rng(Lower *L, const AstNode *e) {
  IrRngKind kind = e->call.builtin == BF_NORMAL    ? IR_RNG_NORMAL
                   : e->call.builtin == BF_UNIFORM ? IR_RNG_UNIFORM
                                                   : IR_RNG_RADEMACHER;
  return irf_leaf(L->f, IR_RNG, L->f->nsites++, kind, IR_SHAPE_ELEM, e->span);
}

static int host_inst(Lower *L, int op, int arg, Span at) {
  IrFInst in = barrier_inst(op, arg, at);
  return push_barrier(L, &in);
}

static int lower_hvp(Lower *L, const AstNode *e, const int *a) {
  sync_p(L); /* the host evaluates the Hessian at the current p */
  return host_inst(L, FN_HVP, a[0], e->span);
}

static int lower_gnb(Lower *L, Span at) {
  sync_p(L); /* the host evaluates the gradient at the current p */
  return host_inst(L, FN_GNB, -1, at);
}

/* linesearch(d, armijo|wolfe[, step0[, c1[, c2[, max_evals]]]]): moves p,
 * refreshes g and f; its value is the accepted step. */
static int lower_linesearch(Lower *L, const AstNode *e) {
  const AstNode *m = e->call.args.items[1];
  bool wolfe = m->kind == AST_NAME && strcmp(m->name.id, "wolfe") == 0;
  int d = lower_expr(L, e->call.args.items[0]);
  static const double DEFAULTS[4] = {1.0, 1e-4, 0.9, 20}; /* step0 c1 c2 max_evals */
  int xs[4];
  for (int k = 0; k < 4; k++)
    xs[k] = k + 2 < e->call.args.len ? lower_expr(L, e->call.args.items[k + 2])
                                     : irf_const(L->f, DEFAULTS[k], e->span);
  sync_p(L);
  int v = host_inst(L, FN_LINESEARCH, d, e->span);
  IrFInst *in = &L->f->data[v];
  in->aux = wolfe ? OPTK_LS_WOLFE : OPTK_LS_ARMIJO;
  in->uniform = true;
  memcpy(in->xargs, xs, sizeof xs);
  L->pver++, L->gver++, L->fver++;
  L->env[ENV_P] = L->mem[ENV_P] = load(L, 0, L->pver, e->span);
  L->env[ENV_G] = load(L, 1, L->gver, e->span);
  L->env[ENV_F] = irf_leaf(L->f, IR_LOSS, 0, L->fver, IR_SHAPE_SCALAR, e->span);
  return v;
}

static int lower_def_call(Lower *L, const AstNode *e, const int *a) {
  if (L->depth > LOWER_MAX_INLINE) {
    error_at(L, e->span, "calls of '%s' nest too deeply to inline", e->call.callee);
    return irf_const(L->f, 0, e->span);
  }
  const int *saved = L->params;
  L->params = a;
  L->depth++;
  int v = lower_expr(L, e->call.def->def.body);
  L->depth--;
  L->params = saved;
  return v;
}

static int lower_hessian(Lower *L, Span at) {
  sync_p(L); /* the host evaluates the Hessian at the current p */
  int v = mat_barrier(L, FN_HESSIAN, -1, OPTK_DIM_N, OPTK_DIM_N, at);
  L->f->data[v].shape = IR_SHAPE_MAT;
  return v;
}

/* solve(A, b): b's shape (ELEM for a vector like p). */
static int lower_solve(Lower *L, const AstNode *e, const int *a) {
  uint32_t flags = 0;
  int da[2], db[2];
  int m = mat_operand(L, a[0], 0, &flags, da, e->span);
  int b = materialize(L, a[1], e->span);
  dims_of(L, b, db);
  return matop(L, OPTK_MAT_SOLVE, m, b, 0, db[0], db[1], e->span);
}

/* outer(u, v) = u v' for vectors: values like p are columns (N, ONE). */
static int lower_outer(Lower *L, const AstNode *e, const int *a) {
  int u = materialize(L, a[0], e->span), v = materialize(L, a[1], e->span);
  int du[2], dv[2];
  dims_of(L, u, du);
  dims_of(L, v, dv);
  int r = irf_is_mat(&L->f->data[u]) ? du[0] : OPTK_DIM_N;
  int c = irf_is_mat(&L->f->data[v]) ? dv[0] : OPTK_DIM_N;
  return matop(L, OPTK_MAT_GEMM, u, v, OPTK_MATOP_TRANS_B, r, c, e->span);
}

static int lower_mat_call(Lower *L, const AstNode *e, const int *a) {
  Span at = e->span;
  uint32_t flags = 0;
  int d[2];
  switch (e->call.builtin) {
  case BF_TRANSPOSE: return transpose_of(L, a[0], at);
  case BF_OUTER: return lower_outer(L, e, a);
  case BF_ROWMEAN: case BF_COLMEAN: {
    int v = materialize(L, a[0], at);
    dims_of(L, v, d);
    bool row = e->call.builtin == BF_ROWMEAN;
    return matop(L, row ? OPTK_MAT_ROWMEAN : OPTK_MAT_COLMEAN, v, -1, 0,
                 row ? d[0] : OPTK_DIM_ONE, row ? OPTK_DIM_ONE : d[1], at);
  }
  default: break;
  }
  int v = mat_operand(L, a[0], 0, &flags, d, at);
  if (e->call.builtin == BF_EIGVECS) return matop(L, OPTK_MAT_EIGVECS, v, -1, 0, d[0], d[1], at);
  int eps = e->call.args.len > 2 ? a[2] : irf_const(L->f, 0, at); /* BF_INV_ROOT */
  int m = matop(L, OPTK_MAT_INV_ROOT, v, -1, 0, d[0], d[1], at);
  L->f->data[m].xargs[1] = a[1];
  L->f->data[m].xargs[2] = eps;
  return m;
}

static int lower_builtin_call(Lower *L, const AstNode *e, const int *a) {
  switch (builtin_class((BuiltinFn)e->call.builtin)) {
  case BC_ELEM: return lower_elem_call(L, e, a);
  case BC_RED: return lower_reduction(L, e, a);
  case BC_RNG: return lower_rng(L, e);
  case BC_MAT: return lower_mat_call(L, e, a);
  case BC_HOST:
    if (e->call.builtin == BF_HVP) return lower_hvp(L, e, a);
    if (e->call.builtin == BF_HESSIAN) return lower_hessian(L, e->span);
    if (e->call.builtin == BF_SOLVE) return lower_solve(L, e, a);
    if (e->call.builtin == BF_GNB) return lower_gnb(L, e->span);
    break;
  default: break;
  }
  char what[96];
  snprintf(what, sizeof what, "'%s'", e->call.callee);
  return not_compiled(L, e->span, what);
}

/* lbfgs_direction(H, v) and history_push(H, s, y): the whole group's
 * history, run by the runtime (OPTK_OP_HISTORY); H is not a value. */
static int lower_history(Lower *L, const AstNode *e) {
  bool push = e->call.builtin == BF_HISTORY_PUSH;
  int h = e->call.args.items[0]->ref.index;
  int v = lower_expr(L, e->call.args.items[1]);
  IrFInst in = barrier_inst(push ? FN_HIST_PUSH : FN_HIST_DIR, v, e->span);
  if (push) in.args[1] = lower_expr(L, e->call.args.items[2]);
  in.index = L->state_hist[h];
  in.out = L->state_hss[h];
  if (!push) in.shape = IR_SHAPE_ELEM;
  return push_barrier(L, &in);
}

/* Calls with more arguments than any builtin or def takes are bounded by
 * sema; 64 keeps the argument array on the stack. */
enum { MAX_CALL_ARGS = 64 };

static int lower_call(Lower *L, const AstNode *e) {
  if (e->call.builtin == BF_LINESEARCH) return lower_linesearch(L, e);
  if (e->call.builtin == BF_LBFGS_DIRECTION || e->call.builtin == BF_HISTORY_PUSH)
    return lower_history(L, e);
  int a[MAX_CALL_ARGS];
  int n = e->call.args.len;
  if (n > MAX_CALL_ARGS) {
    error_at(L, e->span, "too many arguments in a call of '%s'", e->call.callee);
    return irf_const(L->f, 0, e->span);
  }
  for (int i = 0; i < n; i++) a[i] = lower_expr(L, e->call.args.items[i]);
  if (e->call.def) return lower_def_call(L, e, a);
  return lower_builtin_call(L, e, a);
}

/* True (after one error) once the body outgrows LOWER_MAX_INSTS, which
 * nested defs that call each other twice can reach in one expression. */
static bool over_budget(Lower *L, Span at) {
  if (L->f->len < LOWER_MAX_INSTS) return false;
  if (!L->too_large)
    error_at(L, at, "the update is too large to lower (%s)", "over a million instructions");
  L->too_large = true;
  return true;
}

static int lower_expr(Lower *L, const AstNode *e) {
  if (over_budget(L, e->span)) return 0;
  switch (e->kind) {
  case AST_NUM: return irf_const(L->f, e->num.value, e->span);
  case AST_NAME: return lower_name(L, e);
  case AST_UNARY: return lower_unary(L, e);
  case AST_BINARY: return lower_binary(L, e);
  case AST_CALL: return lower_call(L, e);
  default: /* AST_TRANSPOSE */
    return transpose_of(L, lower_expr(L, e->unary.operand), e->span);
  }
}

/* ---- statements ---------------------------------------------------------- */

/* The matrix state whose buffer holds value v, or -1. */
static int mstate_of(const Lower *L, int v) {
  const IrFInst *in = &L->f->data[v];
  int b = in->op == IR_LOAD && irf_is_mat(in) ? in->index
          : in->op == FN_MSWEEP                ? in->index
          : in->op == FN_MATOP || in->op == FN_HESSIAN ? in->out
                                                        : -1;
  for (int s = 0; b > 1 && s < L->sp->nstates; s++)
    if (L->state_mbuf[s] == b) return s;
  return -1;
}

/* Assigning a matrix state writes its buffer at once (rounded to its
 * dtype, as every later use reads it): a matrix op of the state's dims
 * writes there directly, anything else is stored by a sweep.  The value
 * then lives in the buffer, so the old value is gone (lower_name checks
 * that nothing reads it later). */
static int matrix_state_value(Lower *L, int state, int v, Span at) {
  int buf = L->state_mbuf[state];
  const IrBuffer *b = &L->prog->bufs[buf];
  if (mstate_of(L, v) == state) return v;
  IrFInst *in = &L->f->data[v];
  bool op = (in->op == FN_MATOP || in->op == FN_HESSIAN) && irf_is_mat(in) && in->out <= 1;
  if (op && in->mdim[0] == b->dim0 && in->mdim[1] == b->dim1) {
    in->out = buf;
    return v;
  }
  return msweep(L, v, buf, b->dim0, b->dim1, at);
}

static void lower_assign(Lower *L, const AstNode *s) {
  static const IrOp COMPOUND[] = {[AST_ADD_SET] = IR_ADD, [AST_SUB_SET] = IR_SUB,
                                  [AST_MUL_SET] = IR_MUL, [AST_DIV_SET] = IR_DIV};
  int slot = s->ref.kind == REF_STATE   ? state_slot(s->ref.index)
             : s->ref.kind == REF_LOCAL ? local_slot(L, s->ref.index)
                                        : ENV_P;
  int v = lower_expr(L, s->assign.value);
  if (s->assign.op != AST_SET) {
    if (L->env[slot] < 0) {
      error_at(L, s->assign.target_span, "'%s' has no value here", s->assign.target);
      return;
    }
    v = irf_op2(L->f, COMPOUND[s->assign.op], L->env[slot], v, s->span);
  }
  if (s->ref.kind == REF_STATE && L->state_mbuf[s->ref.index] >= 0)
    v = L->mem[slot] = matrix_state_value(L, s->ref.index, v, s->span);
  L->env[slot] = v;
}

/* Lowers one branch from a copy of the environment; the result is left in
 * L->env.  Returns whether the branch emitted a barrier. */
static bool lower_branch(Lower *L, const AstList *body, int cond, Span at) {
  int before = L->nbarriers;
  IrFInst mark;
  memset(&mark, 0, sizeof mark);
  mark.op = FN_IF;
  mark.args[0] = cond;
  mark.args[1] = mark.args[2] = -1;
  for (int k = 0; k < 4; k++) mark.xargs[k] = -1;
  mark.shape = IR_SHAPE_BARRIER;
  mark.index = L->f->nblocks++;
  mark.span = at;
  int open = irf_push(L->f, &mark);
  lower_body(L, body);
  mark.op = FN_ENDIF;
  mark.args[0] = -1;
  int close = irf_push(L->f, &mark);
  bool barrier = L->nbarriers != before;
  if (!barrier) {
    L->f->data[open].index = L->f->data[close].index = -1; /* dropped later */
  } else if (!L->f->data[cond].uniform) {
    diag_error(L->diags, at,
               "this condition can differ between the tensors of a group, but its block "
               "uses a reduction, hvp or linesearch: use only hypers, t, f, constants and "
               "group reductions in it");
    L->errors++;
  }
  return barrier;
}

/* A matrix state assigned in a branch already holds its value in memory
 * on both paths: the later of the two values (in program order, so after
 * the block) stands for the buffer. */
static void merge_env(Lower *L, int cond, const int *then_env, Span at) {
  for (int i = 0; i < L->nenv; i++) {
    int a = then_env[i], b = L->env[i];
    if (a == b) continue;
    bool mstate = i >= ENV_FIXED && i < ENV_FIXED + L->sp->nstates && L->state_mbuf[i - ENV_FIXED] >= 0;
    if (mstate && a >= 0 && b >= 0) {
      L->env[i] = L->mem[i] = a > b ? a : b;
      continue;
    }
    L->env[i] = (a < 0 || b < 0) ? -1 : irf_op3(L->f, IR_SELECT, cond, a, b, at);
  }
}

static void lower_if_cond(Lower *L, int cond, const AstList *then_body,
                          const AstList *else_body, Span at) {
  size_t bytes = sizeof(int) * (size_t)L->nenv;
  int *entry = xmalloc(bytes), *then_env = xmalloc(bytes);
  int entry_mem = L->mem[ENV_P];
  memcpy(entry, L->env, bytes);
  lower_branch(L, then_body, cond, at);
  memcpy(then_env, L->env, bytes);
  int then_mem = L->mem[ENV_P];
  memcpy(L->env, entry, bytes);
  L->mem[ENV_P] = entry_mem;
  if (else_body && else_body->len) lower_branch(L, else_body, irf_op1(L->f, IR_NOT, cond, at), at);
  merge_env(L, cond, then_env, at);
  if (then_mem != entry_mem || L->mem[ENV_P] != entry_mem) L->mem[ENV_P] = -1;
  free(entry);
  free(then_env);
}

static void lower_if(Lower *L, const AstNode *s) {
  int cond = lower_expr(L, s->if_.cond);
  lower_if_cond(L, cond, &s->if_.then_body, &s->if_.else_body, s->if_.cond->span);
}

/* every K { }: runs when (t - 1) mod K == 0. */
static void lower_every(Lower *L, const AstNode *s) {
  Span at = s->loop.count->span;
  IrFunc *f = L->f;
  int k = lower_expr(L, s->loop.count);
  int t1 = irf_op2(f, IR_SUB, irf_leaf(f, IR_STEP, 0, 0, IR_SHAPE_SCALAR, at), irf_const(f, 1, at), at);
  int cond = irf_op2(f, IR_EQ, irf_op2(f, IR_MOD, t1, k, at), irf_const(f, 0, at), at);
  lower_if_cond(L, cond, &s->loop.body, NULL, at);
}

/* Folds a constant expression (repeat counts, scalar state inits). */
static bool lower_constant(Lower *L, const AstNode *e, double *out) {
  IrFunc tmp, *saved = L->f;
  irf_init(&tmp);
  L->f = &tmp;
  int v = lower_expr(L, e);
  L->f = saved;
  int n = tmp.len;
  pass_fold(&tmp);
  bool ok = v == n - 1 && tmp.len > 0 && tmp.data[tmp.len - 1].op == IR_CONST;
  if (ok) *out = tmp.data[tmp.len - 1].imm;
  irf_free(&tmp);
  return ok;
}

static void lower_repeat(Lower *L, const AstNode *s) {
  double n = 0;
  if (!lower_constant(L, s->loop.count, &n) || n < 0 || n != floor(n)) {
    error_at(L, s->loop.count->span, "the count of %s must be a constant integer >= 0", "repeat");
    return;
  }
  if (L->unrolled + n > LOWER_MAX_UNROLL) {
    error_at(L, s->loop.count->span, "%s unrolls to more than 10000 iterations", "repeat");
    return;
  }
  L->unrolled += (int)n;
  for (int i = 0; i < (int)n && !L->too_large; i++) lower_body(L, &s->loop.body);
}

static void lower_stmt(Lower *L, const AstNode *s) {
  switch (s->kind) {
  case AST_ASSIGN: lower_assign(L, s); break;
  case AST_IF: lower_if(L, s); break;
  case AST_EVERY: lower_every(L, s); break;
  case AST_REPEAT: lower_repeat(L, s); break;
  case AST_EXPR_STMT: lower_expr(L, s->expr_stmt.expr); break;
  default: break;
  }
}

static void lower_body(Lower *L, const AstList *body) {
  for (int i = 0; i < body->len && !over_budget(L, body->items[i]->span); i++)
    lower_stmt(L, body->items[i]);
}

/* Drops the FN_IF/FN_ENDIF pairs of branches without barriers. */
static int keep_marked(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  (void)user, (void)old, (void)i;
  if ((in->op == FN_IF || in->op == FN_ENDIF) && in->index < 0) return -1;
  return irf_push(out, in);
}

/* ---- tables ---------------------------------------------------------------- */

static OptkDType dtype_of(AstDType d) {
  return d == AST_DT_F64 ? OPTK_F64 : d == AST_DT_BF16 ? OPTK_BF16 : OPTK_F32;
}

static void add_hypers(Lower *L) {
  for (int i = 0; i < L->sp->nhypers; i++) {
    const AstNode *h = L->sp->hypers[i];
    uint32_t flags = 0;
    if (h->hyper.lo) flags |= OPTK_HYPER_HAS_LO | (h->hyper.lo_open ? OPTK_HYPER_LO_OPEN : 0);
    if (h->hyper.hi) flags |= OPTK_HYPER_HAS_HI | (h->hyper.hi_open ? OPTK_HYPER_HI_OPEN : 0);
    ir_program_add_hyper(L->prog, h->hyper.name, h->hyper.def_value,
                         h->hyper.lo ? h->hyper.lo_value : -INFINITY,
                         h->hyper.hi ? h->hyper.hi_value : INFINITY, flags);
  }
}

static OptkDim optk_dim(TyDim d) {
  switch (d) {
  case DIM_ROWS: return OPTK_DIM_ROWS;
  case DIM_COLS: return OPTK_DIM_COLS;
  case DIM_N: return OPTK_DIM_N;
  default: return OPTK_DIM_ONE;
  }
}

/* matrix(rows, cols) is shaped like p: an ordinary tensor state with
 * those dims.  Other shapes are matrix buffers (MAT values). */
static void add_matrix_state(Lower *L, int i, const AstNode *s, OptkDType dt) {
  OptkDim r = optk_dim(s->ty.rows), c = optk_dim(s->ty.cols);
  if (dt == OPTK_BF16) {
    not_compiled(L, s->state.name_span, "a bf16 matrix state (matrix ops need f32 or f64)");
    dt = OPTK_F32;
  }
  int b = ir_program_add_buffer(L->prog, s->state.name, OPTK_BUF_STATE, dt, r, c);
  if (r == OPTK_DIM_ROWS && c == OPTK_DIM_COLS) L->state_buf[i] = b;
  else L->state_mbuf[i] = b;
}

/* The hyper sizing history `s`: the named one, or for a whole number M
 * a fixed hyper "NAME.m" = M in [M, M]; either becomes a whole-number
 * hyper that sizes the state (optk.h). */
static int history_hyper(Lower *L, const AstNode *s) {
  const AstNode *m = s->state.rows;
  int h;
  if (m->kind == AST_NAME && m->ref.kind == REF_HYPER) {
    h = m->ref.index;
  } else {
    char name[300];
    snprintf(name, sizeof name, "%.250s.m", s->state.name);
    double v = m->kind == AST_NUM ? m->num.value : 1;
    h = ir_program_add_hyper(L->prog, name, v, v, v, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  }
  L->prog->hypers[h].flags |= OPTK_HYPER_INTEGER | OPTK_HYPER_SIZES_STATE;
  return h;
}

/* A history: buffers NAME.s and NAME.y (n x m, its dtype) and NAME.rho
 * (m, f64), and scalar states NAME.len and NAME.head. */
static void add_history_state(Lower *L, int i, const AstNode *s, OptkDType dt) {
  static const char *const PARTS[] = {"s", "y", "rho", "len", "head"};
  uint32_t h = (uint32_t)history_hyper(L, s) + 1;
  char name[300];
  for (int k = 0; k < 3; k++) {
    snprintf(name, sizeof name, "%.250s.%s", s->state.name, PARTS[k]);
    int b = ir_program_add_buffer(L->prog, name, OPTK_BUF_STATE, k < 2 ? dt : OPTK_F64,
                                  k < 2 ? OPTK_DIM_N : OPTK_DIM_ONE, OPTK_DIM_ONE);
    L->prog->bufs[b].count_hyper = h;
    if (k == 0) L->state_hist[i] = b;
  }
  for (int k = 3; k < 5; k++) {
    snprintf(name, sizeof name, "%.250s.%s", s->state.name, PARTS[k]);
    int ss = ir_program_add_sstate(L->prog, name, OPTK_F64, 0);
    if (k == 3) L->state_hss[i] = ss;
  }
}

static void add_states(Lower *L) {
  int n = L->sp->nstates;
  L->state_hist = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  L->state_hss = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  L->state_buf = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  L->state_ss = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  L->state_mbuf = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  ir_program_add_buffer(L->prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(L->prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  for (int i = 0; i < n; i++) {
    const AstNode *s = L->sp->states[i];
    L->state_buf[i] = L->state_ss[i] = L->state_mbuf[i] = -1;
    L->state_hist[i] = L->state_hss[i] = -1;
    OptkDType dt = dtype_of(s->state.dtype);
    if (s->state.skind == AST_STATE_HISTORY)
      add_history_state(L, i, s, dt);
    else if (s->state.skind == AST_STATE_TENSOR)
      L->state_buf[i] = ir_program_add_buffer(L->prog, s->state.name, OPTK_BUF_STATE, dt,
                                              OPTK_DIM_N, OPTK_DIM_ONE);
    else if (s->state.skind == AST_STATE_SCALAR)
      L->state_ss[i] = ir_program_add_sstate(L->prog, s->state.name, dt, 0);
    else
      add_matrix_state(L, i, s, dt);
  }
}

/* init: the initial value of each state, evaluated once per tensor. */
static void lower_inits(Lower *L, IrFunc *init) {
  L->f = init;
  init_env(L);
  for (int i = 0; i < L->sp->nstates; i++) {
    const AstNode *s = L->sp->states[i];
    double c;
    if (L->state_hist[i] >= 0) continue; /* starts empty: len = 0 */
    if (L->state_ss[i] >= 0 && lower_constant(L, s->state.init, &c)) {
      L->prog->sstates[L->state_ss[i]].init = c;
      continue;
    }
    /* Buffers start zeroed (docs/abi.md, "Buffers"): a literal 0 needs no
     * sweep (-0, written as a negation, does). */
    const AstNode *value = s->state.init;
    if (value->kind == AST_NUM && value->num.value == 0) continue;
    int v = lower_expr(L, s->state.init);
    if (L->state_mbuf[i] >= 0) {
      const IrBuffer *b = &L->prog->bufs[L->state_mbuf[i]];
      msweep(L, v, L->state_mbuf[i], b->dim0, b->dim1, s->state.init->span);
    } else if (L->state_buf[i] >= 0) {
      store_value(L, IR_STORE, L->state_buf[i], v);
    } else {
      store_value(L, IR_SSTATE_SET, L->state_ss[i], v);
    }
  }
  free(L->env);
  free(L->mem);
}

int lower_program(IrProgram *prog, IrFunc *body, IrFunc *init, const SemaProgram *sp,
                  DiagSink *diags) {
  Lower L;
  memset(&L, 0, sizeof L);
  L.sp = sp;
  L.diags = diags;
  L.prog = prog;
  prog->needs = sp->needs;
  add_hypers(&L);
  add_states(&L);
  lower_inits(&L, init);
  L.f = body;
  init_env(&L);
  if (sp->update) lower_body(&L, &sp->update->update.body);
  store_final(&L);
  irf_rebuild(body, keep_marked, NULL);
  free(L.env);
  free(L.mem);
  free(L.state_buf);
  free(L.state_ss);
  free(L.state_mbuf);
  free(L.state_hist);
  free(L.state_hss);
  return L.errors;
}

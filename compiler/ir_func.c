/* ir_func.c: the function level of the IR: building, rebuilding for
 * passes, printing and verifying (see ir_func.h, docs/ir.md).
 *
 * Shapes propagate from arguments: an operation is ELEM when any argument
 * is per element, MAT when any is a matrix (dims broadcast; ELEM when the
 * result is rows x cols), SCALAR otherwise; a scalar is group-uniform when
 * all its arguments are. */
#include "ir_func.h"

#include <math.h>
#include <string.h>

static const char *const FN_NAMES[] = {"hvp", "linesearch", "if", "endif",
                                       "matop", "msweep", "mreduce", "hessian", "gnb",
                                       "lbfgs_direction", "history_push"};
static const int FN_NARGS[] = {1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 2};
static const char *const MATOPS[] = {"gemm", "inv_root", "solve", "eigvecs", "transpose",
                                     "rowmean", "colmean", "identity", "copy"};

static const int IR_NARGS[] = {
#define X(name, nargs) nargs,
    IR_OPS(X)
#undef X
};

const char *irf_op_name(int op) {
  if (op >= 0 && op < IR_OP_COUNT) return ir_op_name((IrOp)op);
  if (op >= FN_HVP && op < FN_OP_END) return FN_NAMES[op - FN_HVP];
  return "?";
}

int irf_op_nargs(int op) {
  if (op >= 0 && op < IR_OP_COUNT) return IR_NARGS[op];
  if (op >= FN_HVP && op < FN_OP_END) return FN_NARGS[op - FN_HVP];
  return 0;
}

bool irf_is_pure(int op) {
  switch (op) {
  case IR_STORE:
  case IR_SSTATE_SET:
  case IR_SLOT_SET:
  case FN_LINESEARCH:
  case FN_IF:
  case FN_ENDIF:
  case FN_HVP: /* a host call: never merged, deleted when unused (dce) */
  case FN_MATOP:
  case FN_MSWEEP:
  case FN_MREDUCE:
  case FN_HESSIAN:
  case FN_GNB:
  case FN_HIST_DIR:
  case FN_HIST_PUSH:
    return false;
  default:
    return op < IR_OP_COUNT;
  }
}

bool irf_is_barrier(const IrFInst *in) {
  return in->op == IR_REDUCE || in->op >= FN_HVP;
}

bool irf_is_elem(const IrFInst *in) {
  return in->shape == IR_SHAPE_ELEM || in->op == FN_HVP || in->op == FN_GNB;
}

bool irf_is_mat(const IrFInst *in) { return in->shape == IR_SHAPE_MAT; }

bool irf_is_scalar(const IrFInst *in) {
  if (in->op == IR_REDUCE || in->op == FN_LINESEARCH || in->op == FN_MREDUCE) return true;
  return in->shape == IR_SHAPE_SCALAR;
}

static int broadcast_dim(int a, int b) {
  if (a == IR_DIM_ANY) return b;
  if (b == IR_DIM_ANY || a != OPTK_DIM_ONE) return a;
  return b;
}

/* MAT operands combined elementwise: dims broadcast (ONE and ANY give
 * way); a result shaped like p is ELEM, computed in parameter sweeps. */
static void mat_shape(IrFInst *in, const IrFInst *a, bool first) {
  if (first) {
    in->mdim[0] = a->mdim[0], in->mdim[1] = a->mdim[1];
  } else {
    in->mdim[0] = (uint8_t)broadcast_dim(in->mdim[0], a->mdim[0]);
    in->mdim[1] = (uint8_t)broadcast_dim(in->mdim[1], a->mdim[1]);
  }
}

void irf_init(IrFunc *f) { memset(f, 0, sizeof *f); }

void irf_free(IrFunc *f) {
  VEC_FREE(f);
  f->nsites = f->nblocks = 0;
}

int irf_push(IrFunc *f, const IrFInst *in) {
  VEC_PUSH(f, *in);
  return f->len - 1;
}

static IrFInst blank(int op, Span at) {
  IrFInst in;
  memset(&in, 0, sizeof in);
  in.op = op;
  in.args[0] = in.args[1] = in.args[2] = -1;
  for (int i = 0; i < 4; i++) in.xargs[i] = -1;
  in.span = at;
  return in;
}

int irf_const(IrFunc *f, double v, Span at) {
  IrFInst in = blank(IR_CONST, at);
  in.imm = v;
  in.shape = IR_SHAPE_SCALAR;
  in.uniform = true;
  return irf_push(f, &in);
}

int irf_leaf(IrFunc *f, IrOp op, int index, int aux, IrShape shape, Span at) {
  IrFInst in = blank(op, at);
  in.index = index;
  in.aux = aux;
  in.shape = shape;
  in.uniform = shape == IR_SHAPE_SCALAR &&
               (op == IR_HYPER || op == IR_STEP || op == IR_LOSS || op == IR_CONST);
  return irf_push(f, &in);
}

static int push_op(IrFunc *f, IrOp op, const int *args, int n, Span at) {
  IrFInst in = blank(op, at);
  in.shape = IR_SHAPE_SCALAR;
  in.uniform = true;
  bool mat = false;
  for (int i = 0; i < n; i++) {
    const IrFInst *a = &f->data[args[i]];
    in.args[i] = args[i];
    if (irf_is_mat(a)) mat_shape(&in, a, !mat), mat = true;
    if (irf_is_elem(a)) in.shape = IR_SHAPE_ELEM;
    if (!a->uniform) in.uniform = false;
  }
  if (mat && in.shape != IR_SHAPE_ELEM)
    in.shape = in.mdim[0] == OPTK_DIM_ROWS && in.mdim[1] == OPTK_DIM_COLS ? IR_SHAPE_ELEM
                                                                          : IR_SHAPE_MAT;
  if (in.shape != IR_SHAPE_SCALAR) in.uniform = false;
  return irf_push(f, &in);
}

int irf_op1(IrFunc *f, IrOp op, int a, Span at) { return push_op(f, op, &a, 1, at); }

int irf_op2(IrFunc *f, IrOp op, int a, int b, Span at) {
  int args[2] = {a, b};
  return push_op(f, op, args, 2, at);
}

int irf_op3(IrFunc *f, IrOp op, int a, int b, int c, Span at) {
  int args[3] = {a, b, c};
  return push_op(f, op, args, 3, at);
}

void irf_rebuild(IrFunc *f, IrfRewriteFn fn, void *user) {
  IrFunc out;
  irf_init(&out);
  out.nsites = f->nsites;
  out.nblocks = f->nblocks;
  int *map = xmalloc(sizeof(int) * (size_t)(f->len ? f->len : 1));
  for (int i = 0; i < f->len; i++) {
    IrFInst in = f->data[i];
    for (int k = 0; k < 3; k++)
      if (in.args[k] >= 0) in.args[k] = map[in.args[k]];
    for (int k = 0; k < 4; k++)
      if (in.xargs[k] >= 0) in.xargs[k] = map[in.xargs[k]];
    map[i] = fn(user, &out, f, i, &in);
  }
  free(map);
  irf_free(f);
  *f = out;
}

/* ---- printing ---------------------------------------------------------- */

static const char *shape_tag(const IrFInst *in) {
  if (in->op == IR_REDUCE || in->op == FN_LINESEARCH || in->op == FN_MREDUCE) return "s";
  if (irf_is_elem(in)) return "e";
  if (irf_is_mat(in)) return "m";
  return in->shape == IR_SHAPE_BARRIER ? "-" : (in->uniform ? "u" : "s");
}

static void print_operands(Str *out, const IrFInst *in, const IrProgram *t) {
  static const char *const RNG[] = {"uniform", "normal", "rademacher"};
  switch (in->op) {
  case IR_CONST: str_putc(out, ' '); str_put_double(out, in->imm); return;
  case IR_HYPER:
    if (t && in->index < t->nhypers) str_printf(out, " %s", t->hypers[in->index].name);
    else str_printf(out, " #%d", in->index);
    return;
  case IR_SSTATE: case IR_SSTATE_SET:
    if (t && in->index < t->nsstates) str_printf(out, " %s", t->sstates[in->index].name);
    else str_printf(out, " #%d", in->index);
    if (in->op == IR_SSTATE_SET) str_printf(out, ", %%%d", in->args[0]);
    return;
  case IR_LOAD: case IR_STORE:
    if (t && in->index < t->nbufs) str_printf(out, " %s", t->bufs[in->index].name);
    else str_printf(out, " buf%d", in->index);
    if (in->op == IR_STORE) str_printf(out, ", %%%d", in->args[0]);
    else if (in->aux) str_printf(out, ".v%d", in->aux);
    return;
  case IR_LOSS: str_printf(out, " v%d", in->aux); return;
  case IR_RNG: str_printf(out, " %s site%d", RNG[in->aux % 3], in->index); return;
  case IR_POWI: str_printf(out, " %%%d, %d", in->args[0], in->index); return;
  case IR_REDUCE:
    str_printf(out, ".%s.%s %%%d", in->aux == OPTK_RED_MAX ? "max" : "sum",
               in->index == OPTK_SCOPE_GROUP ? "group" : "tensor", in->args[0]);
    return;
  case FN_MATOP:
    str_printf(out, " %s %%%d", in->index >= 0 && in->index <= OPTK_MAT_COPY ? MATOPS[in->index] : "?",
               in->args[0]);
    for (int k = 0; k < 3; k++) {
      static const char *const GEMM_ARGS[] = {", %%%d", " alpha %%%d", " beta %%%d"};
      bool named = in->index == OPTK_MAT_GEMM || in->xargs[3] >= 0; /* alpha, beta */
      if (in->xargs[k] >= 0) str_printf(out, named ? GEMM_ARGS[k] : ", %%%d", in->xargs[k]);
    }
    if (in->xargs[3] >= 0) str_printf(out, " plus %%%d", in->xargs[3]);
    if (in->aux & OPTK_MATOP_TRANS_A) str_puts(out, " trans_a");
    if (in->aux & OPTK_MATOP_TRANS_B) str_puts(out, " trans_b");
    return;
  case FN_MSWEEP:
    str_printf(out, " %%%d", in->args[0]);
    if (t && in->index >= 0 && in->index < t->nbufs) str_printf(out, " -> %s", t->bufs[in->index].name);
    return;
  case FN_MREDUCE:
    str_printf(out, ".%s %%%d", in->aux == OPTK_RED_MAX ? "max" : "sum", in->args[0]);
    return;
  case FN_HIST_DIR: case FN_HIST_PUSH:
    if (t && in->index >= 0 && in->index < t->nbufs) str_printf(out, " %s", t->bufs[in->index].name);
    else str_printf(out, " buf%d", in->index);
    for (int k = 0; k < irf_op_nargs(in->op); k++) str_printf(out, ", %%%d", in->args[k]);
    return;
  case FN_IF: str_printf(out, " %%%d  block%d", in->args[0], in->index); return;
  case FN_ENDIF: str_printf(out, " block%d", in->index); return;
  case FN_LINESEARCH:
    str_printf(out, ".%s %%%d", in->aux == OPTK_LS_WOLFE ? "wolfe" : "armijo", in->args[0]);
    for (int k = 0; k < 4; k++)
      if (in->xargs[k] >= 0) str_printf(out, ", %%%d", in->xargs[k]);
    return;
  default:
    for (int k = 0; k < irf_op_nargs(in->op); k++)
      str_printf(out, "%s%%%d", k ? ", " : " ", in->args[k]);
  }
}

void irf_print(Str *out, const IrFunc *f, const char *title, const IrProgram *tables) {
  str_printf(out, "func %s {\n", title);
  int depth = 1;
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    if (in->op == FN_ENDIF && depth > 1) depth--;
    for (int d = 0; d < depth; d++) str_puts(out, "  ");
    bool value = in->op != IR_STORE && in->op != IR_SSTATE_SET && in->op != FN_IF &&
                 in->op != FN_ENDIF && in->op != FN_HIST_PUSH;
    if (value) str_printf(out, "%%%d %s = ", i, shape_tag(in));
    str_puts(out, irf_op_name(in->op));
    print_operands(out, in, tables);
    str_putc(out, '\n');
    if (in->op == FN_IF) depth++;
  }
  str_puts(out, "}\n");
}

/* ---- verification ------------------------------------------------------ */

static int fail(char **err, int i, const char *what) {
  Str s = {0};
  str_printf(&s, "function IR: %%%d: %s", i, what);
  *err = str_take(&s);
  return -1;
}

static const char *check_inst(const IrFunc *f, int i) {
  const IrFInst *in = &f->data[i];
  if (in->op < 0 || in->op >= FN_OP_END) return "unknown opcode";
  int n = irf_op_nargs(in->op);
  for (int k = 0; k < 3; k++) {
    int a = in->args[k];
    if (k < n && (a < 0 || a >= i)) return "argument is not an earlier value";
    if (k >= n && a != -1) return "extra argument";
  }
  for (int k = 0; k < 4; k++)
    if (in->xargs[k] >= i || in->xargs[k] < -1) return "bad linesearch argument";
  for (int k = 0; k < n; k++) {
    const IrFInst *a = &f->data[in->args[k]];
    if (a->op == IR_STORE || a->op == IR_SSTATE_SET || a->op == FN_IF || a->op == FN_ENDIF ||
        a->op == FN_HIST_PUSH)
      return "argument has no value";
    if (irf_is_elem(a) && in->shape == IR_SHAPE_SCALAR) return "scalar value uses an element value";
    if (irf_is_mat(a) && in->shape == IR_SHAPE_SCALAR) return "scalar value uses a matrix value";
  }
  if (in->op == FN_IF && irf_is_elem(&f->data[in->args[0]])) return "if condition is per element";
  if (in->op == IR_SSTATE_SET && irf_is_elem(&f->data[in->args[0]]))
    return "scalar state set from an element value";
  return NULL;
}

int irf_verify(const IrFunc *f, char **err) {
  int depth = 0;
  for (int i = 0; i < f->len; i++) {
    const char *msg = check_inst(f, i);
    if (msg) return fail(err, i, msg);
    if (f->data[i].op == FN_IF) depth++;
    if (f->data[i].op == FN_ENDIF && --depth < 0) return fail(err, i, "endif without if");
  }
  if (depth != 0) return fail(err, f->len, "if without endif");
  return 0;
}

/* ---- constant evaluation (shared by fold and simplify) ------------------ */

static double fsign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }

static double nan_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmin(a, b); }
static double nan_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmax(a, b); }

bool irf_fold_value(int op, const double *a, int32_t index, double *out) {
  switch (op) {
  case IR_NEG: *out = -a[0]; return true;
  case IR_ADD: *out = a[0] + a[1]; return true;
  case IR_SUB: *out = a[0] - a[1]; return true;
  case IR_MUL: *out = a[0] * a[1]; return true;
  case IR_DIV: *out = a[0] / a[1]; return true;
  case IR_MOD: *out = fmod(a[0], a[1]); return true;
  case IR_FMA: *out = fma(a[0], a[1], a[2]); return true;
  case IR_POW: *out = pow(a[0], a[1]); return true;
  case IR_POWI: *out = pow(a[0], (double)index); return true;
  case IR_SQRT: *out = sqrt(a[0]); return true;
  case IR_RSQRT: *out = 1.0 / sqrt(a[0]); return true;
  case IR_EXP: *out = exp(a[0]); return true;
  case IR_LOG: *out = log(a[0]); return true;
  case IR_LOG1P: *out = log1p(a[0]); return true;
  case IR_TANH: *out = tanh(a[0]); return true;
  case IR_SIGMOID: *out = 1.0 / (1.0 + exp(-a[0])); return true;
  case IR_ABS: *out = fabs(a[0]); return true;
  case IR_SIGN: *out = fsign(a[0]); return true;
  case IR_MIN: *out = nan_min(a[0], a[1]); return true;
  case IR_MAX: *out = nan_max(a[0], a[1]); return true;
  case IR_LT: *out = a[0] < a[1]; return true;
  case IR_LE: *out = a[0] <= a[1]; return true;
  case IR_GT: *out = a[0] > a[1]; return true;
  case IR_GE: *out = a[0] >= a[1]; return true;
  case IR_EQ: *out = a[0] == a[1]; return true;
  case IR_NE: *out = a[0] != a[1]; return true;
  case IR_AND: *out = a[0] != 0 && a[1] != 0; return true;
  case IR_OR: *out = a[0] != 0 || a[1] != 0; return true;
  case IR_NOT: *out = a[0] == 0; return true;
  case IR_SELECT: *out = a[0] != 0 ? a[1] : a[2]; return true;
  default: return false;
  }
}

/* sema_const.c: constant expressions.
 *
 * Hyper defaults and range ends, `repeat` counts, `every` periods and
 * inv_root's exponent must be known when the program is compiled.  A
 * constant expression is made of numbers, `inf`, `pi`, the arithmetic and
 * comparison operators and the elementwise functions; it is evaluated in
 * double.  Each node gets the scalar type and names their built-in ref.
 */
#include <math.h>
#include <string.h>

#include "sema_internal.h"

static bool fold(Sema *s, AstNode *e, const char *what, double *out);

static bool fold_name(Sema *s, AstNode *e, const char *what, double *out) {
  if (e->ref.kind == REF_PARAM) {
    diag_error(s->diags, e->span,
               "%s must be a constant expression, but '%s' is a parameter of the def",
               what, e->name.id);
    return false;
  }
  int bv = sema_builtin_var(e->name.id);
  if (bv == BV_INF || bv == BV_PI) {
    e->ref = (Ref){REF_BUILTIN, bv};
    *out = bv == BV_INF ? INFINITY : 3.14159265358979323846;
    return true;
  }
  int g = sema_map_get(&s->globals, e->name.id);
  if (g >= 0 && (g >> SEMA_SYM_SHIFT) == SYM_HYPER)
    s->hyper_used[g & ((1 << SEMA_SYM_SHIFT) - 1)] = true;
  const char *kind = bv == BV_I ? "the identity matrix"
                     : bv >= 0 ? "a built-in that changes at run time"
                     : g >= 0 && (g >> SEMA_SYM_SHIFT) == SYM_HYPER ? "a hyper, settable at run time"
                     : g >= 0 ? "a state"
                     : sema_map_get(&s->localmap, e->name.id) >= 0 ? "a local variable"
                     : NULL;
  if (!kind) {
    sema_unknown(s, e->span, e->name.id, false);
    return false;
  }
  diag_error(s->diags, e->span,
             "%s must be a constant expression, but '%s' is %s", what,
             e->name.id, kind);
  return false;
}

static double apply_binary(AstOp op, double a, double b) {
  switch (op) {
  case AST_OP_ADD: return a + b;
  case AST_OP_SUB: return a - b;
  case AST_OP_MUL: return a * b;
  case AST_OP_DIV: return a / b;
  case AST_OP_POW: return pow(a, b);
  case AST_OP_EQ: return a == b;
  case AST_OP_NE: return a != b;
  case AST_OP_LT: return a < b;
  case AST_OP_LE: return a <= b;
  case AST_OP_GT: return a > b;
  case AST_OP_GE: return a >= b;
  case AST_OP_AND: return a != 0 && b != 0;
  case AST_OP_OR: return a != 0 || b != 0;
  default: return NAN;
  }
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double sign_of(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }

static double apply_call(BuiltinFn f, const double *a) {
  switch (f) {
  case BF_ABS: return fabs(a[0]);
  case BF_SIGN: return sign_of(a[0]);
  case BF_SQRT: return sqrt(a[0]);
  case BF_RSQRT: return 1.0 / sqrt(a[0]);
  case BF_EXP: return exp(a[0]);
  case BF_LOG: return log(a[0]);
  case BF_LOG1P: return log1p(a[0]);
  case BF_TANH: return tanh(a[0]);
  case BF_SIGMOID: return sigmoid(a[0]);
  case BF_MIN: return isnan(a[0]) || isnan(a[1]) ? NAN : fmin(a[0], a[1]);
  case BF_MAX: return isnan(a[0]) || isnan(a[1]) ? NAN : fmax(a[0], a[1]);
  case BF_CLIP: return fmin(fmax(a[0], a[1]), a[2]);
  case BF_WHERE: return a[0] != 0 ? a[1] : a[2];
  default: return NAN;
  }
}

static bool fold_call(Sema *s, AstNode *e, const char *what, double *out) {
  int f = builtin_lookup(e->call.callee);
  if (e->call.group || f < 0 || builtin_class((BuiltinFn)f) != BC_ELEM) {
    diag_error(s->diags, e->span,
               "%s must be a constant expression; only elementwise functions "
               "such as sqrt or min may be called in one", what);
    return false;
  }
  int lo, hi;
  builtin_arity((BuiltinFn)f, &lo, &hi);
  if (e->call.args.len != lo) {
    diag_error(s->diags, e->span, "%s() takes %d argument%s, but %d %s given",
               e->call.callee, lo, lo == 1 ? "" : "s", e->call.args.len,
               e->call.args.len == 1 ? "was" : "were");
    return false;
  }
  double a[3] = {0, 0, 0};
  bool ok = true;
  for (int i = 0; i < e->call.args.len; i++)
    ok = fold(s, e->call.args.items[i], what, &a[i]) && ok;
  e->call.builtin = f;
  *out = apply_call((BuiltinFn)f, a);
  return ok;
}

static bool fold(Sema *s, AstNode *e, const char *what, double *out) {
  if (!e) return false;
  e->ty = ty_make(TY_SCALAR);
  switch (e->kind) {
  case AST_NUM: *out = e->num.value; return true;
  case AST_NAME: return fold_name(s, e, what, out);
  case AST_UNARY: {
    double v;
    if (!fold(s, e->unary.operand, what, &v)) return false;
    *out = e->unary.op == AST_OP_NEG ? -v : e->unary.op == AST_OP_NOT ? (v == 0) : v;
    return true;
  }
  case AST_BINARY: {
    double a, b;
    bool ok = fold(s, e->binary.lhs, what, &a);
    ok = fold(s, e->binary.rhs, what, &b) && ok;
    if (ok && e->binary.op == AST_OP_MATMUL) {
      diag_error(s->diags, e->span, "%s must be a constant expression; '@' is for matrices", what);
      return false;
    }
    *out = apply_binary(e->binary.op, a, b);
    return ok;
  }
  case AST_CALL: return fold_call(s, e, what, out);
  default:
    diag_error(s->diags, e->span, "%s must be a constant expression", what);
    return false;
  }
}

bool sema_fold(Sema *s, AstNode *e, const char *what, double *out) {
  *out = 0;
  if (!fold(s, e, what, out)) return false;
  if (isnan(*out)) {
    diag_error(s->diags, e->span, "%s is not a number (it evaluates to NaN)", what);
    return false;
  }
  return true;
}

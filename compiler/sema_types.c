/* sema_types.c: types and shapes of expressions.
 *
 * A TY_TENSOR is shaped like p.  For a 2-D parameter it is also the
 * matrix(rows, cols), and for any parameter the column matrix(n, 1); both
 * are the same memory (row-major), so ty_canon maps them to TY_TENSOR and
 * every comparison goes through it.  The identity I has no size of its
 * own: until its context gives one it has the "pending" type
 * matrix(NONE, NONE), a square matrix of unknown size.
 *
 * Broadcasting (elementwise operators and functions): a scalar goes with
 * anything; two matrices go together when each dimension is equal or one
 * of them is 1 (so row and column vectors stretch); a tensor goes with a
 * tensor, the matrix(rows, cols) it is, and the vectors matrix(1, cols),
 * matrix(rows, 1) and matrix(1, 1).
 */
#include "sema_internal.h"

Type ty_make(TyKind k) {
  Type t = {k, DIM_NONE, DIM_NONE};
  return t;
}

Type ty_matrix(TyDim r, TyDim c) {
  Type t = {TY_MATRIX, r, c};
  return t;
}

Type ty_pending_identity(void) { return ty_matrix(DIM_NONE, DIM_NONE); }

bool ty_is_pending(Type t) { return t.kind == TY_MATRIX && t.rows == DIM_NONE; }

bool ty_is_error(Type t) { return t.kind == TY_ERROR; }

const char *ty_dim_name(TyDim d) {
  switch (d) {
  case DIM_ONE: return "1";
  case DIM_ROWS: return "rows";
  case DIM_COLS: return "cols";
  case DIM_N: return "n";
  case DIM_NONE: break;
  }
  return "?";
}

void ty_format(Str *out, Type t) {
  switch (t.kind) {
  case TY_ERROR: str_puts(out, "<error>"); return;
  case TY_SCALAR: str_puts(out, "scalar"); return;
  case TY_TENSOR: str_puts(out, "tensor"); return;
  case TY_VOID: str_puts(out, "nothing"); return;
  case TY_MATRIX: break;
  }
  if (ty_is_pending(t)) {
    str_puts(out, "I (a square matrix of unknown size)");
    return;
  }
  str_printf(out, "matrix(%s, %s)", ty_dim_name(t.rows), ty_dim_name(t.cols));
}

const char *ty_text(Sema *s, Type t) {
  Str buf = {0};
  ty_format(&buf, t);
  const char *r = arena_strdup(&s->prog->main->arena, buf.data);
  str_free(&buf);
  return r;
}

Type ty_canon(Type t) {
  if (t.kind != TY_MATRIX) return t;
  if (t.rows == DIM_ROWS && t.cols == DIM_COLS) return ty_make(TY_TENSOR);
  if (t.rows == DIM_N && t.cols == DIM_ONE) return ty_make(TY_TENSOR);
  return t;
}

bool ty_same(Type a, Type b) {
  a = ty_canon(a);
  b = ty_canon(b);
  if (a.kind != b.kind) return false;
  return a.kind != TY_MATRIX || (a.rows == b.rows && a.cols == b.cols);
}

static bool dim_join(TyDim a, TyDim b, TyDim *out) {
  if (a == b || b == DIM_ONE) {
    *out = a;
    return true;
  }
  if (a == DIM_ONE) {
    *out = b;
    return true;
  }
  return false;
}

/* A tensor against a (non-pending) matrix: the matrix must be the tensor
 * itself or a vector or 1 x 1 that stretches over it. */
static bool tensor_with_matrix(Type m) {
  if (ty_canon(m).kind == TY_TENSOR) return true;
  bool r = m.rows == DIM_ONE || m.rows == DIM_ROWS;
  bool c = m.cols == DIM_ONE || m.cols == DIM_COLS;
  return r && c;
}

static bool pending_with(Type other, Type *out) {
  if (ty_is_pending(other)) {
    *out = other;
    return true;
  }
  if (other.kind != TY_MATRIX || other.rows != other.cols) return false;
  *out = other;
  return true;
}

bool ty_broadcast(Type a, Type b, Type *out) {
  if (a.kind == TY_ERROR || b.kind == TY_ERROR) {
    *out = ty_make(TY_ERROR);
    return true;
  }
  if (a.kind == TY_VOID || b.kind == TY_VOID) return false;
  if (a.kind == TY_SCALAR || b.kind == TY_SCALAR) {
    *out = a.kind == TY_SCALAR ? b : a;
    return true;
  }
  if (ty_is_pending(a)) return pending_with(b, out);
  if (ty_is_pending(b)) return pending_with(a, out);
  if (a.kind == TY_TENSOR || b.kind == TY_TENSOR) {
    Type m = a.kind == TY_TENSOR ? b : a;
    *out = ty_make(TY_TENSOR);
    return m.kind == TY_TENSOR || tensor_with_matrix(m);
  }
  TyDim r, c;
  if (!dim_join(a.rows, b.rows, &r) || !dim_join(a.cols, b.cols, &c)) return false;
  *out = ty_matrix(r, c);
  return true;
}

void ty_note_need(Sema *s, Type t) {
  if (t.kind != TY_MATRIX) return;
  if (t.rows == DIM_ROWS || t.rows == DIM_COLS || t.cols == DIM_ROWS ||
      t.cols == DIM_COLS)
    s->needs |= OPTK_NEED_2D;
}

bool ty_as_matrix(Sema *s, Type t, Type *out) {
  if (t.kind == TY_TENSOR) {
    *out = ty_matrix(DIM_ROWS, DIM_COLS);
    s->needs |= OPTK_NEED_2D;
    return true;
  }
  if (t.kind != TY_MATRIX) return false;
  *out = t;
  return true;
}

Type sema_set_ty(Sema *s, AstNode *e, Type t) {
  ty_note_need(s, t);
  e->ty = t;
  return t;
}

static void resolve_list(Sema *s, AstList *l, Type t) {
  for (int i = 0; i < l->len; i++) sema_resolve_pending(s, l->items[i], t);
}

void sema_resolve_pending(Sema *s, AstNode *e, Type t) {
  if (!e || !ty_is_pending(e->ty)) return;
  sema_set_ty(s, e, t);
  switch (e->kind) {
  case AST_UNARY: sema_resolve_pending(s, e->unary.operand, t); break;
  case AST_TRANSPOSE: sema_resolve_pending(s, e->unary.operand, t); break;
  case AST_BINARY: /* a pending result has pending operands or scalars */
    sema_resolve_pending(s, e->binary.lhs, t);
    sema_resolve_pending(s, e->binary.rhs, t);
    break;
  case AST_CALL: /* def arguments are never pending (sema_expr.c) */
    if (e->call.def) sema_resolve_pending(s, e->call.def->def.body, t);
    else resolve_list(s, &e->call.args, t);
    break;
  default: break;
  }
}

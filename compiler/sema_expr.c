/* sema_expr.c: names, operators and calls inside expressions.
 *
 * sema_expr(s, e) checks e in the context s->ctx (update, state init or
 * def body), sets e->ty and the name and call annotations, and returns
 * the type; TY_ERROR means an error was reported here or below.  Def
 * bodies are checked once per distinct list of argument types (memoised
 * per def), with the def's parameters bound to those types.
 */
#include <string.h>

#include "sema_internal.h"

/* Expression frames counted across inlined defs.  The parser bounds one
 * expression to FRONT_MAX_DEPTH; defs calling defs multiply that, and this
 * keeps the C stack safe on any input. */
enum { SEMA_MAX_DEPTH = 1000 };
/* Defs calling defs, deeper than any real helper library needs. */
enum { SEMA_MAX_DEF_DEPTH = 32 };

static Type err(void) { return ty_make(TY_ERROR); }
static Type scalar(void) { return ty_make(TY_SCALAR); }
static Type tensor(void) { return ty_make(TY_TENSOR); }

/* ---- names ------------------------------------------------------------ */

static Type builtin_var_type(int bv) {
  if (bv == BV_P || bv == BV_G) return tensor();
  if (bv == BV_I) return ty_pending_identity();
  return scalar();
}

static Type name_builtin(Sema *s, AstNode *e, int bv) {
  if (s->ctx == CTX_INIT && (bv == BV_G || bv == BV_T || bv == BV_F)) {
    diag_error(s->diags, e->span,
               "'%s' is not available when a state is created; an initial value "
               "may use numbers, hypers, p, n, rows, cols and I",
               e->name.id);
    return err();
  }
  if (bv == BV_F) s->needs |= OPTK_NEED_LOSS;
  e->ref = (Ref){REF_BUILTIN, bv};
  return builtin_var_type(bv);
}

static Type name_global(Sema *s, AstNode *e, int g) {
  int idx = g & ((1 << SEMA_SYM_SHIFT) - 1);
  if ((g >> SEMA_SYM_SHIFT) == SYM_HYPER) {
    s->hyper_used[idx] = true;
    e->ref = (Ref){REF_HYPER, idx};
    return scalar();
  }
  if (s->ctx == CTX_INIT) {
    diag_error(s->diags, e->span,
               "an initial value cannot read the state '%s'; it may use numbers, "
               "hypers, p, n, rows, cols and I",
               e->name.id);
    return err();
  }
  if (s->prog->states[idx]->state.skind == AST_STATE_HISTORY) {
    diag_error(s->diags, e->span,
               "'%s' is a history of secant pairs, not a value: read it with "
               "lbfgs_direction(%s, v), add to it with history_push(%s, s, y)",
               e->name.id, e->name.id, e->name.id);
    return err();
  }
  s->state_use[idx].read = true;
  e->ref = (Ref){REF_STATE, idx};
  return s->prog->states[idx]->ty;
}

static Type name_local(Sema *s, AstNode *e, int idx) {
  SemaLocal *l = &s->prog->locals[idx];
  s->local_use[idx].read = true;
  e->ref = (Ref){REF_LOCAL, idx};
  if (s->defined[idx]) return l->ty;
  diag_error(s->diags, e->span,
             "'%s' is not assigned on every path to this point; assign it before "
             "the `if` or `every`, or in both branches",
             e->name.id);
  diag_note(s->diags, l->first, "'%s' is first assigned here", e->name.id);
  return err();
}

static Type name_misc(Sema *s, AstNode *e) {
  const char *id = e->name.id;
  int tgt = s->ctx == CTX_UPDATE ? sema_map_get(&s->targets, id) : -1;
  if (tgt >= 0) {
    diag_error(s->diags, e->span, "'%s' is read before its first assignment", id);
    diag_note(s->diags, s->target_nodes.data[tgt]->assign.target_span,
              "'%s' is first assigned here", id);
  } else if (sema_map_get(&s->defmap, id) >= 0 || builtin_lookup(id) >= 0) {
    diag_error(s->diags, e->span, "'%s' is a function; call it: %s(...)", id, id);
  } else {
    sema_unknown(s, e->span, id, false);
  }
  return err();
}

static Type check_name(Sema *s, AstNode *e) {
  if (s->ctx == CTX_DEF) { /* sema_scan_defs resolved it */
    if (e->ref.kind == REF_PARAM) return s->param_types[e->ref.index];
    return e->ref.kind == REF_BUILTIN ? builtin_var_type(e->ref.index) : err();
  }
  int bv = sema_builtin_var(e->name.id);
  if (bv >= 0) return name_builtin(s, e, bv);
  int g = sema_map_get(&s->globals, e->name.id);
  if (g >= 0) return name_global(s, e, g);
  int l = s->ctx == CTX_UPDATE ? sema_map_get(&s->localmap, e->name.id) : -1;
  if (l >= 0) return name_local(s, e, l);
  return name_misc(s, e);
}

/* ---- operators -------------------------------------------------------- */

/* Broadcasts the operands' types; reports a mismatch naming `what`. */
static Type combine(Sema *s, Span at, const char *what, AstNode *a, AstNode *b) {
  Type r;
  if (!ty_broadcast(a->ty, b->ty, &r)) {
    diag_error(s->diags, at, "%s do not match: %s and %s", what,
               ty_text(s, a->ty), ty_text(s, b->ty));
    return err();
  }
  if (!ty_is_pending(r)) {
    sema_resolve_pending(s, a, r);
    sema_resolve_pending(s, b, r);
  }
  return r;
}

static Type check_binary(Sema *s, AstNode *e);

Type sema_settle(Sema *s, AstNode *e, Type want) {
  if (!e || !ty_is_pending(e->ty)) return e ? e->ty : err();
  if (want.kind == TY_MATRIX && want.rows == want.cols && want.rows != DIM_NONE) {
    sema_resolve_pending(s, e, want);
    return want;
  }
  if (want.kind == TY_TENSOR || want.kind == TY_MATRIX)
    diag_error(s->diags, e->span, "I is a square matrix, so it cannot be a %s",
               ty_text(s, want));
  else
    diag_error(s->diags, e->span,
               "the size of I is not known here; use it beside a square matrix "
               "(e.g. A + eps * I) or assign it to a matrix state");
  e->ty = err();
  return err();
}

Type sema_expr_settled(Sema *s, AstNode *e, Type want) {
  sema_expr(s, e);
  return sema_settle(s, e, want);
}

/* A @ B.  A tensor multiplied by an n x n matrix is the column n x 1;
 * otherwise it is the matrix rows x cols of a 2-D parameter. */
static bool matmul_view(Sema *s, Type t, Type other, bool left, Type *out) {
  if (t.kind == TY_TENSOR && !left && other.kind == TY_MATRIX && other.cols == DIM_N) {
    *out = ty_matrix(DIM_N, DIM_ONE);
    return true;
  }
  return ty_as_matrix(s, t, out);
}

static Type check_matmul(Sema *s, AstNode *e) {
  AstNode *a = e->binary.lhs, *b = e->binary.rhs;
  if (ty_is_error(a->ty) || ty_is_error(b->ty)) return err();
  Type ma, mb;
  if (!matmul_view(s, a->ty, b->ty, true, &ma) || !matmul_view(s, b->ty, a->ty, false, &mb)) {
    diag_error(s->diags, e->span,
               "'@' multiplies matrices, but its operands are %s and %s; use '*' "
               "to scale by a scalar",
               ty_text(s, a->ty), ty_text(s, b->ty));
    return err();
  }
  bool pa = ty_is_pending(ma), pb = ty_is_pending(mb);
  if (pa && pb) return ma;
  if (pa) sema_resolve_pending(s, a, ma = ty_matrix(mb.rows, mb.rows));
  if (pb) sema_resolve_pending(s, b, mb = ty_matrix(ma.cols, ma.cols));
  if (ma.cols != mb.rows) {
    diag_error(s->diags, e->span,
               "inner dimensions of '@' do not agree: %s @ %s (%s against %s)",
               ty_text(s, ma), ty_text(s, mb), ty_dim_name(ma.cols),
               ty_dim_name(mb.rows));
    return err();
  }
  return ty_matrix(ma.rows, mb.cols);
}

static Type check_binary(Sema *s, AstNode *e) {
  sema_expr(s, e->binary.lhs);
  sema_expr(s, e->binary.rhs);
  if (!e->binary.lhs || !e->binary.rhs) return err();
  if (e->binary.op == AST_OP_MATMUL) return check_matmul(s, e);
  const char *what = arena_printf(&s->prog->main->arena, "the operands of '%s'",
                                  ast_op_text(e->binary.op));
  return combine(s, e->span, what, e->binary.lhs, e->binary.rhs);
}

static Type check_transpose(Sema *s, AstNode *e, AstNode *operand, const char *what) {
  Type t = sema_expr(s, operand);
  if (ty_is_error(t) || ty_is_pending(t)) return t;
  Type m;
  if (!ty_as_matrix(s, t, &m)) {
    diag_error(s->diags, e->span, "%s transposes a matrix, but this is a %s", what,
               ty_text(s, t));
    return err();
  }
  return ty_matrix(m.cols, m.rows);
}

/* ---- calls ------------------------------------------------------------ */

bool sema_check_arity(Sema *s, AstNode *e, const char *what, int lo, int hi) {
  int n = e->call.args.len;
  if (n >= lo && n <= hi) return true;
  if (lo == hi)
    diag_error(s->diags, e->span, "%s takes %d argument%s, but %d %s given", what, lo,
               lo == 1 ? "" : "s", n, n == 1 ? "was" : "were");
  else
    diag_error(s->diags, e->span, "%s takes %d to %d arguments, but %d %s given", what,
               lo, hi, n, n == 1 ? "was" : "were");
  return false;
}

static Type arg_ty(const AstNode *e, int i) {
  return i < e->call.args.len && e->call.args.items[i] ? e->call.args.items[i]->ty : err();
}

static AstNode *arg(const AstNode *e, int i) { return e->call.args.items[i]; }

static bool arg_is_special(BuiltinFn f, int i);

static bool any_error(const AstNode *e, int f) {
  for (int i = 0; i < e->call.args.len; i++)
    if (!(f >= 0 && arg_is_special((BuiltinFn)f, i)) && ty_is_error(arg_ty(e, i)))
      return true;
  return false;
}

static void arg_error(Sema *s, const AstNode *e, int i, const char *fmt, const char *a1) {
  Str msg = {0};
  str_printf(&msg, fmt, e->call.callee, a1);
  AstNode *x = arg(e, i);
  diag_error(s->diags, x ? x->span : e->span, "%s", msg.data);
  str_free(&msg);
}

static Type want_scalar(Sema *s, AstNode *e, int i, const char *role) {
  Type t = arg_ty(e, i);
  if (ty_is_error(t) || t.kind == TY_SCALAR) return t;
  Str msg = {0};
  str_printf(&msg, "%s of %s() must be a scalar, but it is a %s", role, e->call.callee,
             ty_text(s, t));
  diag_error(s->diags, arg(e, i)->span, "%s", msg.data);
  str_free(&msg);
  return err();
}

static Type call_elem(Sema *s, AstNode *e, BuiltinFn f) {
  if (f == BF_MIN || f == BF_MAX) {
    const char *what = arena_printf(&s->prog->main->arena, "the arguments of %s()",
                                    e->call.callee);
    return combine(s, e->span, what, arg(e, 0), arg(e, 1));
  }
  if (f == BF_CLIP) {
    Type lo = want_scalar(s, e, 1, "the lower bound");
    Type hi = want_scalar(s, e, 2, "the upper bound");
    return ty_is_error(lo) || ty_is_error(hi) ? err() : arg_ty(e, 0);
  }
  if (f == BF_WHERE) {
    Type v = combine(s, e->span, "the values of where()", arg(e, 1), arg(e, 2));
    Type r;
    if (ty_is_error(v)) return v;
    if (!ty_broadcast(arg_ty(e, 0), v, &r)) {
      diag_error(s->diags, arg(e, 0)->span,
                 "the condition of where() is a %s, which does not match its "
                 "values (%s)",
                 ty_text(s, arg_ty(e, 0)), ty_text(s, v));
      return err();
    }
    if (!ty_is_pending(r)) {
      for (int i = 0; i < 3; i++) sema_resolve_pending(s, arg(e, i), r);
    }
    return r;
  }
  return arg_ty(e, 0);
}

static Type call_reduce(Sema *s, AstNode *e, BuiltinFn f) {
  for (int i = 0; i < e->call.args.len; i++) {
    Type t = ty_canon(arg_ty(e, i));
    if (t.kind == TY_SCALAR) {
      arg_error(s, e, i, "%s() reduces a tensor or a matrix, but its argument is a %s",
                "scalar");
      return err();
    }
    if (e->call.group && t.kind != TY_TENSOR) {
      arg_error(s, e, i,
                "group.%s() reduces over every tensor of the group, so its argument "
                "must be a tensor, not a %s",
                ty_text(s, t));
      return err();
    }
  }
  if (f == BF_DOT && !ty_same(arg_ty(e, 0), arg_ty(e, 1))) {
    diag_error(s->diags, e->span, "the arguments of dot() must have the same shape, "
               "but they are %s and %s", ty_text(s, arg_ty(e, 0)),
               ty_text(s, arg_ty(e, 1)));
    return err();
  }
  return scalar();
}

static Type want_tensor(Sema *s, AstNode *e, int i) {
  Type t = arg_ty(e, i);
  if (ty_is_error(t) || ty_canon(t).kind == TY_TENSOR) return tensor();
  arg_error(s, e, i, "%s() takes a tensor shaped like p, but this is a %s",
            ty_text(s, t));
  return err();
}

static Type want_square(Sema *s, AstNode *e, int i) {
  Type t = arg_ty(e, i), m;
  if (ty_is_error(t)) return t;
  if (ty_as_matrix(s, t, &m) && m.rows == m.cols) return m;
  arg_error(s, e, i, "%s() takes a square matrix, but this is a %s", ty_text(s, t));
  return err();
}

static Type call_solve(Sema *s, AstNode *e) {
  Type a = want_square(s, e, 0), b = arg_ty(e, 1);
  if (ty_is_error(a) || ty_is_error(b)) return err();
  if (b.kind == TY_TENSOR && (a.rows == DIM_N || a.rows == DIM_ROWS)) {
    if (a.rows == DIM_ROWS) s->needs |= OPTK_NEED_2D;
    return tensor();
  }
  if (b.kind == TY_MATRIX && b.rows == a.rows) return ty_matrix(a.rows, b.cols);
  diag_error(s->diags, e->span, "the sizes of solve()'s arguments do not agree: %s and %s",
             ty_text(s, a), ty_text(s, b));
  return err();
}

static Type call_linesearch(Sema *s, AstNode *e, bool ls_ok) {
  s->needs |= OPTK_NEED_LINESEARCH | OPTK_NEED_LOSS;
  if (!ls_ok) {
    diag_error(s->diags, e->span,
               "linesearch() moves p, so it must stand alone: write it as a "
               "statement or as `step = linesearch(...)`");
    return err();
  }
  Type r = want_tensor(s, e, 0);
  AstNode *m = arg(e, 1);
  if (!m || m->kind != AST_NAME ||
      (strcmp(m->name.id, "armijo") != 0 && strcmp(m->name.id, "wolfe") != 0)) {
    diag_error(s->diags, m ? m->span : e->span,
               "the second argument of linesearch() must be armijo or wolfe");
    r = err();
  } else {
    m->ty = ty_make(TY_VOID);
  }
  static const char *const ROLES[] = {"", "", "the initial step", "c1", "c2",
                                      "max_evals"};
  for (int i = 2; i < e->call.args.len; i++)
    if (ty_is_error(want_scalar(s, e, i, ROLES[i]))) r = err();
  return ty_is_error(r) ? r : scalar();
}

static TyDim vector_len(Sema *s, Type t, bool *ok) {
  *ok = true;
  if (t.kind == TY_TENSOR) return DIM_N;
  if (t.kind == TY_MATRIX && t.cols == DIM_ONE && t.rows != DIM_NONE) return t.rows;
  if (t.kind == TY_MATRIX && t.rows == DIM_ONE) return t.cols;
  *ok = false;
  return DIM_NONE;
}

static Type call_outer(Sema *s, AstNode *e) {
  TyDim d[2];
  for (int i = 0; i < 2; i++) {
    bool ok;
    d[i] = vector_len(s, arg_ty(e, i), &ok);
    if (!ok) {
      arg_error(s, e, i, "%s() takes vectors, but this is a %s",
                ty_text(s, arg_ty(e, i)));
      return err();
    }
  }
  return ty_matrix(d[0], d[1]);
}

static Type call_inv_root(Sema *s, AstNode *e) {
  Type a = want_square(s, e, 0);
  double k;
  AstNode *kn = arg(e, 1);
  if (sema_fold(s, kn, "the root k of inv_root()", &k) && !(k > 0)) {
    diag_error(s->diags, kn->span, "the root k of inv_root() must be positive");
    a = err();
  }
  if (e->call.args.len == 3 && ty_is_error(want_scalar(s, e, 2, "eps"))) a = err();
  return a;
}

static Type call_matrix(Sema *s, AstNode *e, BuiltinFn f) {
  Type m;
  switch (f) {
  case BF_OUTER: return call_outer(s, e);
  case BF_INV_ROOT: return call_inv_root(s, e);
  case BF_EIGVECS: return want_square(s, e, 0);
  default: break;
  }
  if (!ty_as_matrix(s, arg_ty(e, 0), &m)) {
    arg_error(s, e, 0, "%s() takes a matrix, but this is a %s", ty_text(s, arg_ty(e, 0)));
    return err();
  }
  if (f == BF_ROWMEAN) return ty_matrix(m.rows, DIM_ONE);
  if (f == BF_COLMEAN) return ty_matrix(DIM_ONE, m.cols);
  return ty_matrix(m.cols, m.rows); /* transpose */
}

/* The first argument of lbfgs_direction and history_push: the name of a
 * history state (never evaluated as a value). */
static bool history_arg(Sema *s, AstNode *e, bool push) {
  AstNode *h = arg(e, 0);
  int g = h->kind == AST_NAME ? sema_map_get(&s->globals, h->name.id) : -1;
  int idx = g & ((1 << SEMA_SYM_SHIFT) - 1);
  if (g < 0 || (g >> SEMA_SYM_SHIFT) != SYM_STATE ||
      s->prog->states[idx]->state.skind != AST_STATE_HISTORY) {
    diag_error(s->diags, h->span,
               "the first argument of %s() must name a history state (`state H : "
               "history(m)`)", e->call.callee);
    return false;
  }
  h->ref = (Ref){REF_STATE, idx};
  h->ty = ty_make(TY_VOID);
  if (push) s->state_use[idx].written = true;
  else s->state_use[idx].read = true;
  return true;
}

/* lbfgs_direction(H, v) -> tensor; history_push(H, s, y) only as a
 * statement (`ls_ok`), no value. */
static Type call_history(Sema *s, AstNode *e, BuiltinFn f, bool ls_ok) {
  bool push = f == BF_HISTORY_PUSH;
  if (push && !ls_ok) {
    diag_error(s->diags, e->span,
               "history_push() changes the history and has no value: write it as a "
               "statement");
    return err();
  }
  bool ok = history_arg(s, e, push);
  for (int i = 1; i < e->call.args.len; i++)
    if (ty_is_error(want_tensor(s, e, i))) ok = false;
  if (!ok) return err();
  return push ? ty_make(TY_VOID) : tensor();
}

static Type call_host(Sema *s, AstNode *e, BuiltinFn f, bool ls_ok) {
  switch (f) {
  case BF_LBFGS_DIRECTION:
  case BF_HISTORY_PUSH: return call_history(s, e, f, ls_ok);
  case BF_HVP: s->needs |= OPTK_NEED_HVP; return want_tensor(s, e, 0);
  case BF_HESSIAN: s->needs |= OPTK_NEED_HESSIAN; return ty_matrix(DIM_N, DIM_N);
  case BF_GNB: s->needs |= OPTK_NEED_GNB; return tensor();
  case BF_SOLVE: return call_solve(s, e);
  default: return call_linesearch(s, e, ls_ok);
  }
}

/* Arguments that are not ordinary values: linesearch's method name,
 * inv_root's constant root and the history named by lbfgs_direction and
 * history_push. */
static bool arg_is_special(BuiltinFn f, int i) {
  if (f == BF_LBFGS_DIRECTION || f == BF_HISTORY_PUSH) return i == 0;
  return (f == BF_LINESEARCH || f == BF_INV_ROOT) && i == 1;
}

static void check_args(Sema *s, AstNode *e, int f) {
  BuiltinClass cls = f >= 0 ? builtin_class((BuiltinFn)f) : BC_HOST;
  for (int i = 0; i < e->call.args.len; i++) {
    if (f >= 0 && arg_is_special((BuiltinFn)f, i)) continue;
    sema_expr(s, arg(e, i));
    /* elementwise functions carry I's unknown size through; the rest
     * need to know it */
    if (cls != BC_ELEM && arg(e, i)) sema_settle(s, arg(e, i), err());
  }
}

static bool call_allowed(Sema *s, AstNode *e, BuiltinFn f) {
  BuiltinClass cls = builtin_class(f);
  if (e->call.group && cls != BC_RED) {
    diag_error(s->diags, e->span,
               "group.%s() does not exist: only the reductions sum, mean, dot, norm "
               "and norminf have a group form",
               e->call.callee);
    return false;
  }
  if (s->ctx == CTX_INIT && cls != BC_ELEM) {
    diag_error(s->diags, e->span,
               "an initial value may call only elementwise functions, and %s() is "
               "not one",
               e->call.callee);
    return false;
  }
  return true;
}

static Type call_builtin(Sema *s, AstNode *e, BuiltinFn f, bool ls_ok) {
  e->call.builtin = (int)f;
  e->call.def = NULL;
  int lo, hi;
  builtin_arity(f, &lo, &hi);
  const char *what = arena_printf(&s->prog->main->arena, "%s()", e->call.callee);
  bool ok = call_allowed(s, e, f) && sema_check_arity(s, e, what, lo, hi);
  if (!ok || (f != BF_LINESEARCH && f != BF_HISTORY_PUSH)) ls_ok = false;
  bool hist = f == BF_LBFGS_DIRECTION || f == BF_HISTORY_PUSH; /* H is never a value */
  check_args(s, e, ok || hist ? (int)f : -1);
  if (!ok || any_error(e, (int)f)) return err();
  switch (builtin_class(f)) {
  case BC_ELEM: return call_elem(s, e, f);
  case BC_RED: return call_reduce(s, e, f);
  case BC_RNG: return tensor();
  case BC_HOST: return call_host(s, e, f, ls_ok);
  case BC_MAT: return call_matrix(s, e, f);
  }
  return err();
}

/* ---- defs ------------------------------------------------------------- */

static bool types_equal(const Type *a, const Type *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].kind != b[i].kind || a[i].rows != b[i].rows || a[i].cols != b[i].cols)
      return false;
  return true;
}

static SemaMemo *memo_find(SemaDef *d, const Type *args, int n) {
  for (int i = 0; i < d->memo.len; i++)
    if (types_equal(d->memo.data[i].args, args, n)) return &d->memo.data[i];
  return NULL;
}

static void note_call(Sema *s, AstNode *e, const Type *args, int n) {
  Str sig = {0};
  for (int i = 0; i < n; i++) {
    if (i) str_puts(&sig, ", ");
    ty_format(&sig, args[i]);
  }
  diag_note(s->diags, e->span, "in this call of '%s' with arguments (%s)",
            e->call.callee, sig.data ? sig.data : "");
  str_free(&sig);
}

static Type check_def_body(Sema *s, AstNode *e, SemaDef *d, Type *args) {
  if (s->def_depth >= SEMA_MAX_DEF_DEPTH) {
    diag_error(s->diags, e->span, "defs call defs more than %d deep here",
               SEMA_MAX_DEF_DEPTH);
    return err();
  }
  SemaCtx ctx = s->ctx;
  SemaDef *cur = s->cur_def;
  Type *params = s->param_types;
  int nerr = s->diags->nerrors;
  s->ctx = CTX_DEF;
  s->cur_def = d;
  s->param_types = args;
  s->def_depth++;
  s->call_noted = false;
  d->visiting = true;
  Type r = sema_expr(s, d->node->def.body);
  d->visiting = false;
  s->def_depth--;
  s->ctx = ctx;
  s->cur_def = cur;
  s->param_types = params;
  /* only the innermost call gets the note: outer ones would repeat it */
  if (s->diags->nerrors > nerr && !s->call_noted) {
    note_call(s, e, args, d->node->def.nparams);
    s->call_noted = true;
  }
  return s->diags->nerrors > nerr ? err() : r;
}

static Type call_def(Sema *s, AstNode *e, SemaDef *d) {
  e->call.builtin = -1;
  e->call.def = d->node;
  int n = d->node->def.nparams;
  const char *what = arena_printf(&s->prog->main->arena, "def '%s'", e->call.callee);
  bool ok = !e->call.group;
  if (!ok)
    diag_error(s->diags, e->span, "group.%s() is not a reduction: only built-in "
               "reductions have a group form", e->call.callee);
  if (ok && !sema_check_arity(s, e, what, n, n)) {
    diag_note(s->diags, d->node->def.name_span, "'%s' is defined here", e->call.callee);
    ok = false;
  }
  check_args(s, e, -1);
  if (!ok || any_error(e, -1) || d->bad || d->cyclic || d->visiting || !d->node->def.body)
    return err();
  Type *args = xmalloc(sizeof(Type) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) args[i] = arg_ty(e, i);
  SemaMemo *m = memo_find(d, args, n);
  if (m) {
    free(args);
    return m->result;
  }
  Type r = check_def_body(s, e, d, args);
  SemaMemo entry = {args, r};
  VEC_PUSH(&d->memo, entry);
  return r;
}

static Type check_call(Sema *s, AstNode *e, bool ls_ok) {
  int f = builtin_lookup(e->call.callee);
  if (f >= 0) return call_builtin(s, e, (BuiltinFn)f, ls_ok);
  int d = sema_map_get(&s->defmap, e->call.callee);
  if (d >= 0) return call_def(s, e, &s->defs[d]);
  e->call.builtin = -1;
  sema_unknown(s, e->call.callee_span, e->call.callee, true);
  check_args(s, e, -1);
  return err();
}

/* ---- dispatch --------------------------------------------------------- */

static Type check_node(Sema *s, AstNode *e, bool ls_ok) {
  switch (e->kind) {
  case AST_NUM: return scalar();
  case AST_NAME: return check_name(s, e);
  case AST_UNARY: return sema_expr(s, e->unary.operand);
  case AST_BINARY: return check_binary(s, e);
  case AST_TRANSPOSE: return check_transpose(s, e, e->unary.operand, "'.T'");
  case AST_CALL: return check_call(s, e, ls_ok);
  default: /* the parser puts only expressions here */
    unreachable_msg("sema_expr on a %s node", ast_kind_name(e->kind));
  }
}

Type sema_expr(Sema *s, AstNode *e) {
  bool ls_ok = s->ls_ok;
  s->ls_ok = false;
  if (!e) return err();
  if (s->depth >= SEMA_MAX_DEPTH) {
    if (!s->depth_reported)
      diag_error(s->diags, e->span,
                 "expression nested more than %d deep (counting inlined defs)",
                 SEMA_MAX_DEPTH);
    s->depth_reported = true;
    return e->ty = err();
  }
  s->depth++;
  Type t = check_node(s, e, ls_ok);
  s->depth--;
  return sema_set_ty(s, e, t);
}

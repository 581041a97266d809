/* sema_stmt.c: the update block.
 *
 * Statements run in order, as pseudo-code.  A local comes into being at
 * its first assignment (in source order) and keeps that type.  Whether a
 * local holds a value is tracked along the path being checked in
 * s->defined; every local that becomes defined is logged so that a branch
 * can be undone: after `if c {A} else {B}` exactly the locals defined
 * before, plus those defined by both A and B, are defined; after `every`
 * or an `if` without `else`, only those defined before; after `repeat N`
 * those of its body when N >= 1.  Undoing costs what the branch defined,
 * never the number of locals.
 */
#include <math.h>
#include <string.h>

#include "sema_internal.h"

/* `repeat` is unrolled into straight-line code, so its count bounds the
 * size of the generated kernel: 1000 iterations of a few statements is
 * already far beyond Newton-Schulz (5) or CG (tens). */
enum { SEMA_MAX_REPEAT = 1000 };

static void check_body(Sema *s, AstList *body);

/* ---- prepass: every name assigned anywhere --------------------------- */

static void collect_targets(Sema *s, AstList *body) {
  for (int i = 0; i < body->len; i++) {
    AstNode *st = body->items[i];
    if (!st) continue;
    if (st->kind == AST_ASSIGN && st->assign.target &&
        sema_map_get(&s->targets, st->assign.target) < 0) {
      sema_map_put(&s->targets, st->assign.target, s->target_nodes.len);
      VEC_PUSH(&s->target_nodes, st);
    } else if (st->kind == AST_IF) {
      collect_targets(s, &st->if_.then_body);
      collect_targets(s, &st->if_.else_body);
    } else if (st->kind == AST_EVERY || st->kind == AST_REPEAT) {
      collect_targets(s, &st->loop.body);
    }
  }
}

/* ---- flow of definedness ---------------------------------------------- */

static void flow_define(Sema *s, int local) {
  if (s->defined[local]) return;
  s->defined[local] = 1;
  VEC_PUSH(&s->log, local);
}

static void flow_undo(Sema *s, int mark) {
  while (s->log.len > mark) s->defined[s->log.data[--s->log.len]] = 0;
}

/* ---- assignments ------------------------------------------------------ */

static const char *readonly_hint(int bv) {
  switch (bv) {
  case BV_G: return "the gradient 'g'";
  case BV_T: return "the step number 't'";
  case BV_F: return "the loss 'f'";
  case BV_N: return "the element count 'n'";
  case BV_ROWS: return "the row count 'rows'";
  case BV_COLS: return "the column count 'cols'";
  case BV_I: return "the identity 'I'";
  case BV_INF: return "the constant 'inf'";
  default: return "the constant 'pi'";
  }
}

/* A target that is a built-in or a global: p and states get their type
 * and ref (true); read-only ones are reported (false). */
static bool target_fixed(Sema *s, AstNode *st, Type *ty) {
  const char *name = st->assign.target;
  int bv = sema_builtin_var(name);
  *ty = ty_make(TY_ERROR);
  if (bv == BV_P) {
    st->ref = (Ref){REF_BUILTIN, BV_P};
    *ty = ty_make(TY_TENSOR);
    return true;
  }
  if (bv >= 0) {
    diag_error(s->diags, st->assign.target_span,
               "cannot assign to %s: it is read-only; compute into a local instead "
               "(e.g. `%s2 = ...`)",
               readonly_hint(bv), name);
    return false;
  }
  int g = sema_map_get(&s->globals, name);
  int idx = g & ((1 << SEMA_SYM_SHIFT) - 1);
  if ((g >> SEMA_SYM_SHIFT) == SYM_HYPER) {
    diag_error(s->diags, st->assign.target_span,
               "cannot assign to the hyper '%s': hypers are fixed during a step; use "
               "a local instead (e.g. `%s_t = ...`)",
               name, name);
    return false;
  }
  if (s->prog->states[idx]->state.skind == AST_STATE_HISTORY) {
    diag_error(s->diags, st->assign.target_span,
               "cannot assign to the history '%s': add a pair with history_push(%s, s, y)",
               name, name);
    return false;
  }
  st->ref = (Ref){REF_STATE, idx};
  s->state_use[idx].written = true;
  if (st->assign.op != AST_SET) s->state_use[idx].read = true;
  *ty = s->prog->states[idx]->ty;
  return true;
}

static int new_local(Sema *s, AstNode *st, Type ty) {
  SemaProgram *p = s->prog;
  int idx = p->nlocals++;
  p->locals[idx] = (SemaLocal){st->assign.target, ty, st->assign.target_span};
  sema_map_put(&s->localmap, st->assign.target, idx);
  return idx;
}

static void report_mismatch(Sema *s, AstNode *st, Type target, Type value, int local) {
  if (local >= 0) {
    const SemaLocal *l = &s->prog->locals[local];
    diag_error(s->diags, st->assign.value->span,
               "'%s' is a %s and cannot become a %s: a local keeps the type of its "
               "first assignment",
               l->name, ty_text(s, target), ty_text(s, value));
    diag_note(s->diags, l->first, "'%s' is first assigned here", l->name);
    return;
  }
  diag_error(s->diags, st->assign.value->span, "%s '%s' is a %s and cannot hold a %s",
             st->ref.kind == REF_STATE ? "state" : "parameter", st->assign.target,
             ty_text(s, target), ty_text(s, value));
}

/* The value must broadcast into the target without changing its type. */
static void check_fits(Sema *s, AstNode *st, Type target, int local) {
  AstNode *v = st->assign.value;
  Type vt = sema_settle(s, v, target);
  Type r;
  if (ty_is_error(vt) || ty_is_error(target)) return;
  if (ty_broadcast(target, vt, &r) && ty_same(r, target)) return;
  report_mismatch(s, st, target, vt, local);
}

static void assign_local(Sema *s, AstNode *st) {
  const char *name = st->assign.target;
  int idx = sema_map_get(&s->localmap, name);
  bool compound = st->assign.op != AST_SET;
  if (compound && (idx < 0 || !s->defined[idx])) {
    diag_error(s->diags, st->assign.target_span,
               "'%s' has no value yet, so '%s' cannot update it; write `%s = ...` first",
               name, ast_assign_op_text(st->assign.op), name);
    if (idx >= 0) s->local_use[idx].read = true;
  }
  if (idx < 0) {
    Type vt = sema_settle(s, st->assign.value, ty_make(TY_ERROR));
    /* a matrix(rows, cols) or matrix(n, 1) value makes a tensor local:
     * the same memory, and what lowering keeps per element */
    idx = new_local(s, st, compound ? ty_make(TY_ERROR) : ty_canon(vt));
  } else {
    if (compound) s->local_use[idx].read = true;
    check_fits(s, st, s->prog->locals[idx].ty, idx);
  }
  st->ref = (Ref){REF_LOCAL, idx};
  st->ty = s->prog->locals[idx].ty;
  flow_define(s, idx);
}

static void check_assign(Sema *s, AstNode *st) {
  const char *name = st->assign.target;
  if (!name) return;
  bool known = sema_builtin_var(name) >= 0 || sema_map_get(&s->globals, name) >= 0;
  Type ty = ty_make(TY_ERROR);
  bool fixed = known && target_fixed(s, st, &ty);
  bool to_p = fixed && st->ref.kind == REF_BUILTIN;
  const AstNode *v = st->assign.value;
  bool push = v && v->kind == AST_CALL && v->call.callee &&
              builtin_lookup(v->call.callee) == BF_HISTORY_PUSH;
  s->ls_ok = st->assign.op == AST_SET && !to_p && !push;
  sema_expr(s, st->assign.value);
  s->ls_ok = false;
  st->ty = ty;
  if (!st->assign.value) return;
  if (fixed) check_fits(s, st, ty, -1);
  else if (!known) assign_local(s, st);
}

/* ---- control ---------------------------------------------------------- */

static void check_if(Sema *s, AstNode *st) {
  Type c = sema_expr_settled(s, st->if_.cond, ty_make(TY_ERROR));
  if (!ty_is_error(c) && c.kind != TY_SCALAR)
    diag_error(s->diags, st->if_.cond->span,
               "the condition of `if` must be a scalar, but it is a %s; reduce it "
               "first (e.g. with norm(...) or sum(...)) or use where(c, a, b)",
               ty_text(s, c));
  int mark = s->log.len;
  check_body(s, &st->if_.then_body);
  int nthen = s->log.len - mark;
  int *then_defs = xmalloc(sizeof(int) * (size_t)(nthen ? nthen : 1));
  if (nthen) memcpy(then_defs, s->log.data + mark, sizeof(int) * (size_t)nthen);
  flow_undo(s, mark);
  if (st->if_.has_else) {
    check_body(s, &st->if_.else_body);
    int nelse = s->log.len - mark;
    int *both = xmalloc(sizeof(int) * (size_t)(nelse ? nelse : 1));
    int nboth = 0;
    for (int i = 0; i < nthen; i++) s->mark[then_defs[i]] = 1;
    for (int i = mark; i < s->log.len; i++)
      if (s->mark[s->log.data[i]]) both[nboth++] = s->log.data[i];
    for (int i = 0; i < nthen; i++) s->mark[then_defs[i]] = 0;
    flow_undo(s, mark);
    for (int i = 0; i < nboth; i++) flow_define(s, both[i]);
    free(both);
  }
  free(then_defs);
}

static void check_every(Sema *s, AstNode *st) {
  AstNode *k = st->loop.count;
  int g = k && k->kind == AST_NAME ? sema_map_get(&s->globals, k->name.id) : -1;
  if (g >= 0 && (g >> SEMA_SYM_SHIFT) == SYM_HYPER) {
    sema_expr(s, k);
    AstNode *h = s->prog->hypers[g & ((1 << SEMA_SYM_SHIFT) - 1)];
    if (!(h->hyper.def_value >= 1))
      diag_error(s->diags, k->span,
                 "the period of `every` must be at least 1, but the hyper '%s' "
                 "defaults to %g",
                 h->hyper.name, h->hyper.def_value);
  } else {
    double v;
    if (sema_fold(s, k, "the period of `every`", &v) && !(v >= 1 && v == floor(v) && isfinite(v)))
      diag_error(s->diags, k->span,
                 "the period of `every` must be a whole number of steps, at least 1");
  }
  int mark = s->log.len;
  check_body(s, &st->loop.body);
  flow_undo(s, mark);
}

static void check_repeat(Sema *s, AstNode *st) {
  double v = 1;
  AstNode *k = st->loop.count;
  if (sema_fold(s, k, "the count of `repeat`", &v)) {
    if (!(v >= 0 && v == floor(v))) {
      diag_error(s->diags, k->span, "the count of `repeat` must be a whole number, at least 0");
      v = 1;
    } else if (v > SEMA_MAX_REPEAT) {
      diag_error(s->diags, k->span,
                 "`repeat` is unrolled, so its count is at most %d; this one is %g",
                 SEMA_MAX_REPEAT, v);
    }
  }
  int mark = s->log.len;
  check_body(s, &st->loop.body);
  if (v == 0) flow_undo(s, mark);
}

static void check_expr_stmt(Sema *s, AstNode *st) {
  AstNode *e = st->expr_stmt.expr;
  if (!e) return;
  int f = e->kind == AST_CALL && !e->call.group && e->call.callee
              ? builtin_lookup(e->call.callee)
              : -1;
  bool ls = f == BF_LINESEARCH || f == BF_HISTORY_PUSH;
  s->ls_ok = ls;
  sema_expr(s, e);
  s->ls_ok = false;
  if (!ls)
    diag_error(s->diags, e->span,
               "this value is computed but never used; assign it (`x = ...`); only "
               "linesearch(...) stands alone as a statement");
}

static void check_stmt(Sema *s, AstNode *st) {
  switch (st->kind) {
  case AST_ASSIGN: check_assign(s, st); break;
  case AST_IF: check_if(s, st); break;
  case AST_EVERY: check_every(s, st); break;
  case AST_REPEAT: check_repeat(s, st); break;
  case AST_EXPR_STMT: check_expr_stmt(s, st); break;
  default: break;
  }
}

static void check_body(Sema *s, AstList *body) {
  for (int i = 0; i < body->len; i++)
    if (body->items[i]) check_stmt(s, body->items[i]);
}

/* ---- driver ----------------------------------------------------------- */

void sema_warn_unread_locals(Sema *s) {
  for (int i = 0; i < s->prog->nlocals; i++) {
    const SemaLocal *l = &s->prog->locals[i];
    if (!s->local_use[i].read && !ty_is_error(l->ty))
      diag_warning(s->diags, l->first, "local '%s' is assigned but never read", l->name);
  }
}

void sema_update(Sema *s, AstNode *update) {
  AstList *body = &update->update.body;
  collect_targets(s, body);
  size_t n = (size_t)(s->target_nodes.len ? s->target_nodes.len : 1);
  s->defined = xcalloc(n, 1);
  s->mark = xcalloc(n, 1);
  s->local_use = xcalloc(n, sizeof(SemaLocalUse));
  s->prog->locals = xcalloc(n, sizeof(SemaLocal));
  s->ctx = CTX_UPDATE;
  check_body(s, body);
}

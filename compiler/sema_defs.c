/* sema_defs.c: the names inside def bodies, and recursion between defs.
 *
 * A def body sees only its parameters, inf, pi, I, the built-in functions
 * and the other defs.  Its names are resolved once here (REF_PARAM or
 * REF_BUILTIN), whether or not the def is ever called; types are checked
 * later, per call (sema_expr.c).  A def with a name error is marked `bad`
 * and its calls are not checked further, so each error is reported once.
 * Defs are inlined, so a def calling itself, directly or through others,
 * is an error (reported with the chain).
 */
#include <string.h>

#include "sema_internal.h"

typedef struct Scan {
  Sema *s;
  SemaDef *d;
  SemaMap params;
} Scan;

static void scan_expr(Scan *sc, AstNode *e);

static void scan_name(Scan *sc, AstNode *e) {
  Sema *s = sc->s;
  const char *id = e->name.id;
  int p = sema_map_get(&sc->params, id);
  if (p >= 0) {
    e->ref = (Ref){REF_PARAM, p};
    return;
  }
  int bv = sema_builtin_var(id);
  if (bv == BV_INF || bv == BV_PI || bv == BV_I) {
    e->ref = (Ref){REF_BUILTIN, bv};
    return;
  }
  sc->d->bad = true;
  if (bv >= 0 || sema_map_get(&s->globals, id) >= 0) {
    diag_error(s->diags, e->span,
               "def '%s' cannot see '%s': a def sees only its parameters, inf, pi "
               "and I; pass '%s' as an argument",
               sc->d->node->def.name, id, id);
    return;
  }
  sema_unknown(s, e->span, id, false);
}

static void add_callee(SemaDef *d, int callee) {
  if (d->ncallees == d->capcallees) {
    d->capcallees = d->capcallees ? 2 * d->capcallees : 4;
    d->callees = xrealloc(d->callees, sizeof(int) * (size_t)d->capcallees);
  }
  d->callees[d->ncallees++] = callee;
}

static bool scan_builtin(Scan *sc, AstNode *e, BuiltinFn f) {
  Sema *s = sc->s;
  e->call.builtin = (int)f;
  if (f == BF_LINESEARCH) {
    diag_error(s->diags, e->span, "linesearch() moves p, so it cannot be called inside a def");
    return false;
  }
  if (f == BF_LBFGS_DIRECTION || f == BF_HISTORY_PUSH) {
    diag_error(s->diags, e->span,
               "%s() works on a history state, which a def cannot see; call it in the "
               "update block", e->call.callee);
    return false;
  }
  if (e->call.group && builtin_class(f) != BC_RED) {
    diag_error(s->diags, e->span,
               "group.%s() does not exist: only the reductions sum, mean, dot, norm "
               "and norminf have a group form",
               e->call.callee);
    return false;
  }
  int lo, hi;
  builtin_arity(f, &lo, &hi);
  const char *what = arena_printf(&s->prog->main->arena, "%s()", e->call.callee);
  return sema_check_arity(s, e, what, lo, hi);
}

static bool scan_def_call(Scan *sc, AstNode *e, int di) {
  Sema *s = sc->s;
  AstNode *callee = s->defs[di].node;
  e->call.builtin = -1;
  e->call.def = callee;
  add_callee(sc->d, di);
  if (e->call.group) {
    diag_error(s->diags, e->span, "group.%s() is not a reduction: only built-in "
               "reductions have a group form", e->call.callee);
    return false;
  }
  const char *what = arena_printf(&s->prog->main->arena, "def '%s'", e->call.callee);
  int n = callee->def.nparams;
  if (sema_check_arity(s, e, what, n, n)) return true;
  diag_note(s->diags, callee->def.name_span, "'%s' is defined here", e->call.callee);
  return false;
}

static void scan_call(Scan *sc, AstNode *e) {
  Sema *s = sc->s;
  int f = builtin_lookup(e->call.callee);
  int di = f < 0 ? sema_map_get(&s->defmap, e->call.callee) : -1;
  bool ok;
  if (f >= 0) ok = scan_builtin(sc, e, (BuiltinFn)f);
  else if (di >= 0) ok = scan_def_call(sc, e, di);
  else {
    e->call.builtin = -1;
    sema_unknown(s, e->call.callee_span, e->call.callee, true);
    ok = false;
  }
  if (!ok) sc->d->bad = true;
  for (int i = 0; i < e->call.args.len; i++)
    if (!(f == BF_LINESEARCH && i == 1) &&
        !((f == BF_LBFGS_DIRECTION || f == BF_HISTORY_PUSH) && i == 0))
      scan_expr(sc, e->call.args.items[i]);
}

static void scan_expr(Scan *sc, AstNode *e) {
  if (!e) return;
  switch (e->kind) {
  case AST_NUM: break;
  case AST_NAME: scan_name(sc, e); break;
  case AST_UNARY:
  case AST_TRANSPOSE: scan_expr(sc, e->unary.operand); break;
  case AST_BINARY:
    scan_expr(sc, e->binary.lhs);
    scan_expr(sc, e->binary.rhs);
    break;
  case AST_CALL: scan_call(sc, e); break;
  default: sc->d->bad = true; break;
  }
}

static void scan_def(Sema *s, SemaDef *d) {
  Scan sc = {s, d, {0}};
  AstNode *n = d->node;
  for (int i = 0; i < n->def.nparams; i++) {
    const char *name = n->def.params[i].name;
    if (!name) continue;
    int prev = sema_map_get(&sc.params, name);
    if (prev >= 0) {
      diag_error(s->diags, n->def.params[i].span,
                 "parameter '%s' appears twice in def '%s'", name, n->def.name);
      diag_note(s->diags, n->def.params[prev].span, "first listed here");
      d->bad = true;
      continue;
    }
    sema_map_put(&sc.params, name, i);
  }
  s->ctx = CTX_DEF;
  s->cur_def = d;
  scan_expr(&sc, n->def.body);
  s->cur_def = NULL;
  s->ctx = CTX_UPDATE;
  sema_map_free(&sc.params);
}

/* ---- recursion -------------------------------------------------------- */

/* Defs named in a reported cycle; a generated cycle of thousands would
 * otherwise make a message of as many names. */
enum { SEMA_CHAIN_SHOWN = 8 };

typedef struct Frame {
  int def, next;
} Frame;

static void report_cycle(Sema *s, const Frame *stack, int depth, int target) {
  int from = depth - 1;
  while (stack[from].def != target) from--;
  AstNode *start = s->defs[target].node;
  for (int i = from; i < depth; i++) s->defs[stack[i].def].cyclic = true;
  if (from == depth - 1) {
    diag_error(s->diags, start->def.name_span,
               "def '%s' calls itself; defs are inlined, so they cannot recurse",
               start->def.name);
    return;
  }
  Str chain = {0};
  for (int i = from; i < depth; i++) {
    if (i - from == SEMA_CHAIN_SHOWN && depth - i > 1) {
      str_printf(&chain, "... (%d more) -> ", depth - i - 1);
      i = depth - 1;
    }
    str_printf(&chain, "%s -> ", s->defs[stack[i].def].node->def.name);
  }
  str_puts(&chain, start->def.name);
  diag_error(s->diags, start->def.name_span,
             "defs call each other in a cycle: %s; defs are inlined, so they cannot "
             "recurse",
             chain.data);
  str_free(&chain);
}

/* Iterative depth-first search (a chain of many defs must not exhaust the
 * C stack).  color: 0 unvisited, 1 on the stack, 2 done. */
static void find_cycles(Sema *s) {
  unsigned char *color = xcalloc((size_t)(s->ndefs ? s->ndefs : 1), 1);
  Frame *stack = xmalloc(sizeof(Frame) * (size_t)(s->ndefs ? s->ndefs : 1));
  for (int root = 0; root < s->ndefs; root++) {
    if (color[root]) continue;
    int depth = 0;
    stack[depth++] = (Frame){root, 0};
    color[root] = 1;
    while (depth > 0) {
      Frame *f = &stack[depth - 1];
      SemaDef *d = &s->defs[f->def];
      if (f->next == d->ncallees) {
        color[f->def] = 2;
        depth--;
        continue;
      }
      int c = d->callees[f->next++];
      if (color[c] == 1) {
        if (!s->defs[c].cyclic) report_cycle(s, stack, depth, c);
      } else if (color[c] == 0) {
        color[c] = 1;
        stack[depth++] = (Frame){c, 0};
      }
    }
  }
  free(color);
  free(stack);
}

void sema_scan_defs(Sema *s) {
  for (int i = 0; i < s->ndefs; i++) scan_def(s, &s->defs[i]);
  find_cycles(s);
}

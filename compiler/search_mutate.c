/* search_mutate.c: one random mutation of a candidate program.
 *
 * The parent is parsed and checked afresh (a new AstModule and arena per
 * child), one change is made to its update body in place (new nodes come
 * from the module's arena), the module is printed with fmt and the text is
 * checked again by sema: only text that sema accepts leaves this file.
 * Variables offered to a mutation are p, g, t, the hypers, the scalar and
 * tensor states, and the locals whose first assignment ends before the
 * place being changed, each with its kind (scalar or tensor), so that most
 * children type-check; sema is the judge of the rest.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "search_internal.h"

/* Tries of different mutation kinds before a parent is given up on. */
enum { MUT_TRIES = 8 };

typedef struct Var {
  const char *name;
  TyKind kind;
  int avail; /* source offset from which it may be read */
} Var;

typedef struct { AstList **data; int len, cap; } ListVec;
typedef struct { AstNode **data; int len, cap; } NodeVec;
typedef struct { Var *data; int len, cap; } VarVec;

typedef struct Mut {
  SearchChecked *c;
  AstModule *m;
  SearchRng *rng;
  ListVec lists;
  NodeVec exprs;
  VarVec vars;
} Mut;

static const char *const UNARY_FNS[] = {"abs", "sign", "sqrt", "rsqrt", "exp", "log", "log1p", "tanh", "sigmoid"};
static const char *const BINARY_FNS[] = {"min", "max"};
static const char *const REDUCE_FNS[] = {"sum", "mean", "norm", "norminf"};
static const char *const CONSTANTS[] = {"0.5", "0.9", "0.99", "0.999", "1", "2", "1e-8", "0.1", "0.01", "1e-3"};
static const char *const EMA_RATES[] = {"0.9", "0.95", "0.99", "0.999"};
static const AstOp ARITH_OPS[] = {AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV};
static const AstOp CMP_OPS[] = {AST_OP_LT, AST_OP_LE, AST_OP_GT, AST_OP_GE};
#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))
#define PICK(rng, a) ((a)[search_rng_below((rng), COUNT(a))])

/* ---- collecting what can change --------------------------------------- */

static void collect_expr(Mut *u, AstNode *e) {
  if (!e) return;
  VEC_PUSH(&u->exprs, e);
  switch (e->kind) {
  case AST_UNARY:
  case AST_TRANSPOSE: collect_expr(u, e->unary.operand); break;
  case AST_BINARY:
    collect_expr(u, e->binary.lhs);
    collect_expr(u, e->binary.rhs);
    break;
  case AST_CALL:
    for (int i = 0; i < e->call.args.len; i++) collect_expr(u, e->call.args.items[i]);
    break;
  default: break;
  }
}

static void collect_list(Mut *u, AstList *l) {
  VEC_PUSH(&u->lists, l);
  for (int i = 0; i < l->len; i++) {
    AstNode *s = l->items[i];
    if (s->kind == AST_ASSIGN) collect_expr(u, s->assign.value);
    if (s->kind == AST_IF) {
      collect_expr(u, s->if_.cond);
      collect_list(u, &s->if_.then_body);
      collect_list(u, &s->if_.else_body);
    }
    if (s->kind == AST_EVERY || s->kind == AST_REPEAT) collect_list(u, &s->loop.body);
  }
}

static void add_var(Mut *u, const char *name, TyKind kind, int avail) {
  if (kind != TY_SCALAR && kind != TY_TENSOR) return;
  Var v = {name, kind, avail};
  VEC_PUSH(&u->vars, v);
}

static void collect_vars(Mut *u) {
  const SemaProgram *sp = &u->c->sp;
  add_var(u, "p", TY_TENSOR, 0);
  add_var(u, "g", TY_TENSOR, 0);
  add_var(u, "t", TY_SCALAR, 0);
  for (int i = 0; i < sp->nhypers; i++) add_var(u, sp->hypers[i]->hyper.name, TY_SCALAR, 0);
  for (int i = 0; i < sp->nstates; i++) {
    const AstNode *s = sp->states[i];
    if (s->state.skind == AST_STATE_TENSOR) add_var(u, s->state.name, TY_TENSOR, 0);
    if (s->state.skind == AST_STATE_SCALAR) add_var(u, s->state.name, TY_SCALAR, 0);
  }
  for (int i = 0; i < sp->nlocals; i++)
    add_var(u, sp->locals[i].name, sp->locals[i].ty.kind, sp->locals[i].first.end);
}

/* A random variable of `kind` readable at offset `at`, or NULL. */
static const char *pick_var(Mut *u, TyKind kind, int at, const char *not_this) {
  int n = 0;
  for (int i = 0; i < u->vars.len; i++) {
    const Var *v = &u->vars.data[i];
    n += v->kind == kind && v->avail <= at && (!not_this || strcmp(v->name, not_this));
  }
  int k = search_rng_below(u->rng, n);
  for (int i = 0; i < u->vars.len; i++) {
    const Var *v = &u->vars.data[i];
    if (v->kind == kind && v->avail <= at && (!not_this || strcmp(v->name, not_this)) && k-- == 0)
      return v->name;
  }
  return NULL;
}

/* ---- building nodes ------------------------------------------------------- */

static AstNode *mk_name(Mut *u, const char *id) {
  AstNode *n = ast_new(u->m, AST_NAME, SPAN_NONE);
  n->name.id = arena_strdup(&u->m->arena, id);
  return n;
}

static AstNode *mk_num(Mut *u, const char *text) {
  AstNode *n = ast_new(u->m, AST_NUM, SPAN_NONE);
  n->num.text = arena_strdup(&u->m->arena, text);
  n->num.value = strtod(text, NULL);
  n->num.is_int = strpbrk(text, ".eE") == NULL;
  return n;
}

static AstNode *mk_bin(Mut *u, AstOp op, AstNode *a, AstNode *b) {
  AstNode *n = ast_new(u->m, AST_BINARY, SPAN_NONE);
  n->binary.op = op;
  n->binary.lhs = a;
  n->binary.rhs = b;
  return n;
}

static AstNode *mk_call(Mut *u, const char *fn, AstNode *a, AstNode *b) {
  AstNode *n = ast_new(u->m, AST_CALL, SPAN_NONE);
  n->call.callee = arena_strdup(&u->m->arena, fn);
  ast_list_push(u->m, &n->call.args, a);
  if (b) ast_list_push(u->m, &n->call.args, b);
  return n;
}

/* A variable of `kind` (or a constant, for scalars and sometimes tensors). */
static AstNode *leaf(Mut *u, TyKind kind, int at) {
  const char *v = search_rng_unit(u->rng) < 0.7 ? pick_var(u, kind, at, NULL) : NULL;
  if (v) return mk_name(u, v);
  if (kind == TY_TENSOR) return mk_name(u, search_rng_unit(u->rng) < 0.5 ? "g" : "p");
  return mk_num(u, PICK(u->rng, CONSTANTS));
}

/* A small random expression of `kind` readable at `at`. */
static AstNode *gen(Mut *u, TyKind kind, int at) {
  AstNode *x = leaf(u, kind, at);
  TyKind other = search_rng_unit(u->rng) < 0.5 ? TY_SCALAR : kind;
  switch (search_rng_below(u->rng, 5)) {
  case 0: return mk_call(u, PICK(u->rng, UNARY_FNS), x, NULL);
  case 1: return mk_bin(u, PICK(u->rng, ARITH_OPS), x, leaf(u, other, at));
  case 2: return mk_bin(u, PICK(u->rng, ARITH_OPS), leaf(u, other, at), x);
  case 3: return mk_call(u, PICK(u->rng, BINARY_FNS), x, leaf(u, other, at));
  default:
    return mk_bin(u, PICK(u->rng, ARITH_OPS), x,
                  mk_call(u, PICK(u->rng, UNARY_FNS), leaf(u, other, at), NULL));
  }
}

static AstNode *mk_assign(Mut *u, const char *target, AstNode *value) {
  AstNode *n = ast_new(u->m, AST_ASSIGN, SPAN_NONE);
  n->assign.target = arena_strdup(&u->m->arena, target);
  n->assign.op = AST_SET;
  n->assign.value = value;
  return n;
}

/* ---- the mutations ---------------------------------------------------------- */

static int offset_at(const AstList *l, int i) {
  return i < l->len ? l->items[i]->span.off : l->items[l->len - 1]->span.end;
}

static void list_insert(Mut *u, AstList *l, int i, AstNode *s) {
  AstNode **items = ARENA_NEW_N(&u->m->arena, AstNode *, l->len + 1);
  for (int k = 0, j = 0; k <= l->len; k++) items[k] = k == i ? s : l->items[j++];
  l->items = items;
  l->len++;
}

static const char *fresh_local(Mut *u, char *buf, size_t size) {
  for (int k = 1;; k++) {
    snprintf(buf, size, "v%d", k);
    bool used = false;
    for (int i = 0; i < u->vars.len && !used; i++) used = strcmp(u->vars.data[i].name, buf) == 0;
    if (!used) return buf;
  }
}

/* Makes one later read of a `kind` variable read `name` instead. */
static void use_later(Mut *u, const char *name, TyKind kind, int at) {
  int n = 0;
  for (int i = 0; i < u->exprs.len; i++) {
    const AstNode *e = u->exprs.data[i];
    n += e->kind == AST_NAME && e->ty.kind == kind && e->span.off >= at;
  }
  int k = search_rng_below(u->rng, n);
  for (int i = 0; i < u->exprs.len; i++) {
    AstNode *e = u->exprs.data[i];
    if (e->kind == AST_NAME && e->ty.kind == kind && e->span.off >= at && k-- == 0) {
      e->name.id = arena_strdup(&u->m->arena, name);
      return;
    }
  }
}

/* target = b * target + (1 - b) * leaf: an exponential moving average. */
static AstNode *ema(Mut *u, const char *target, int at) {
  const char *b = PICK(u->rng, EMA_RATES);
  AstNode *keep = mk_bin(u, AST_OP_MUL, mk_num(u, b), mk_name(u, target));
  AstNode *rest = mk_bin(u, AST_OP_SUB, mk_num(u, "1"), mk_num(u, b));
  return mk_bin(u, AST_OP_ADD, keep, mk_bin(u, AST_OP_MUL, rest, leaf(u, TY_TENSOR, at)));
}

static bool mut_insert(Mut *u) {
  AstList *l = u->lists.data[search_rng_below(u->rng, u->lists.len)];
  if (l->len == 0) return false;
  int i = search_rng_below(u->rng, l->len + 1);
  int at = offset_at(l, i);
  double r = search_rng_unit(u->rng);
  char buf[32];
  if (r < 0.45) { /* a new local, read by a later expression */
    TyKind kind = search_rng_unit(u->rng) < 0.75 ? TY_TENSOR : TY_SCALAR;
    const char *name = fresh_local(u, buf, sizeof buf);
    AstNode *value = kind == TY_SCALAR && search_rng_unit(u->rng) < 0.5
                         ? mk_call(u, PICK(u->rng, REDUCE_FNS), leaf(u, TY_TENSOR, at), NULL)
                         : gen(u, kind, at);
    list_insert(u, l, i, mk_assign(u, name, value));
    use_later(u, name, kind, at);
    return true;
  }
  TyKind kind = r < 0.8 ? TY_TENSOR : TY_SCALAR;
  const char *target = pick_var(u, kind, at, NULL);
  if (!target || !strcmp(target, "g") || !strcmp(target, "t")) return false;
  for (int k = 0; k < u->c->sp.nhypers; k++)
    if (!strcmp(u->c->sp.hypers[k]->hyper.name, target)) return false;
  AstNode *value = kind == TY_TENSOR && search_rng_unit(u->rng) < 0.4
                       ? ema(u, target, at)
                       : mk_bin(u, PICK(u->rng, ARITH_OPS), mk_name(u, target), gen(u, kind, at));
  list_insert(u, l, i, mk_assign(u, target, value));
  return true;
}

static bool mut_delete(Mut *u) {
  AstList *l = u->lists.data[search_rng_below(u->rng, u->lists.len)];
  if (l->len == 0) return false;
  int i = search_rng_below(u->rng, l->len);
  for (int k = i; k + 1 < l->len; k++) l->items[k] = l->items[k + 1];
  l->len--;
  return true;
}

typedef bool (*NodePred)(const AstNode *e);

static AstNode *pick_node(Mut *u, NodePred pred) {
  int n = 0;
  for (int i = 0; i < u->exprs.len; i++) n += pred(u->exprs.data[i]);
  int k = search_rng_below(u->rng, n);
  for (int i = 0; i < u->exprs.len; i++)
    if (pred(u->exprs.data[i]) && k-- == 0) return u->exprs.data[i];
  return NULL;
}

static bool is_var_read(const AstNode *e) {
  if (e->kind != AST_NAME || (e->ty.kind != TY_SCALAR && e->ty.kind != TY_TENSOR)) return false;
  if (e->ref.kind == REF_BUILTIN)
    return e->ref.index == BV_P || e->ref.index == BV_G || e->ref.index == BV_T;
  return e->ref.kind == REF_LOCAL || e->ref.kind == REF_STATE || e->ref.kind == REF_HYPER;
}

static bool mut_swap_arg(Mut *u) {
  AstNode *e = pick_node(u, is_var_read);
  const char *v = e ? pick_var(u, e->ty.kind, e->span.off, e->name.id) : NULL;
  if (!v) return false;
  e->name.id = arena_strdup(&u->m->arena, v);
  return true;
}

static bool is_num(const AstNode *e) { return e->kind == AST_NUM; }

static bool mut_perturb(Mut *u) {
  AstNode *e = pick_node(u, is_num);
  if (!e) return false;
  /* a factor in [2^-1.5, 2^1.5]; a zero becomes 0.1 or 0.5 */
  double r = search_rng_unit(u->rng);
  double v = e->num.value == 0 ? (r < 0.5 ? 0.1 : 0.5) : e->num.value * exp2(3 * r - 1.5);
  char text[32];
  snprintf(text, sizeof text, "%.3g", v);
  AstNode *n = mk_num(u, text);
  e->num = n->num;
  return true;
}

static int fn_index(const char *name, const char *const *set, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(name, set[i])) return i;
  return -1;
}

static bool is_swappable_call(const AstNode *e) {
  if (e->kind != AST_CALL || e->call.group) return false;
  const char *f = e->call.callee;
  return fn_index(f, UNARY_FNS, COUNT(UNARY_FNS)) >= 0 || fn_index(f, BINARY_FNS, COUNT(BINARY_FNS)) >= 0 ||
         fn_index(f, REDUCE_FNS, COUNT(REDUCE_FNS)) >= 0;
}

static bool mut_swap_fn(Mut *u) {
  AstNode *e = pick_node(u, is_swappable_call);
  if (!e) return false;
  const char *f = e->call.callee, *to;
  if (fn_index(f, UNARY_FNS, COUNT(UNARY_FNS)) >= 0) to = PICK(u->rng, UNARY_FNS);
  else if (fn_index(f, BINARY_FNS, COUNT(BINARY_FNS)) >= 0) to = strcmp(f, "min") ? "min" : "max";
  else to = PICK(u->rng, REDUCE_FNS);
  if (!strcmp(f, to)) return false;
  e->call.callee = arena_strdup(&u->m->arena, to);
  return true;
}

static bool in_ops(AstOp op, const AstOp *ops, int n) {
  for (int i = 0; i < n; i++)
    if (ops[i] == op) return true;
  return false;
}

static bool is_swappable_binary(const AstNode *e) {
  return e->kind == AST_BINARY &&
         (in_ops(e->binary.op, ARITH_OPS, COUNT(ARITH_OPS)) || in_ops(e->binary.op, CMP_OPS, COUNT(CMP_OPS)));
}

static bool mut_swap_op(Mut *u) {
  AstNode *e = pick_node(u, is_swappable_binary);
  if (!e) return false;
  bool arith = in_ops(e->binary.op, ARITH_OPS, COUNT(ARITH_OPS));
  AstOp to = arith ? PICK(u->rng, ARITH_OPS) : PICK(u->rng, CMP_OPS);
  if (to == e->binary.op) return false;
  e->binary.op = to;
  return true;
}

static bool is_value(const AstNode *e) { return e->ty.kind == TY_SCALAR || e->ty.kind == TY_TENSOR; }

static bool mut_wrap(Mut *u) {
  AstNode *e = pick_node(u, is_value);
  if (!e) return false;
  AstNode *copy = ast_new(u->m, e->kind, e->span);
  *copy = *e;
  AstNode *w = search_rng_unit(u->rng) < 0.5
                   ? mk_call(u, PICK(u->rng, UNARY_FNS), copy, NULL)
                   : mk_bin(u, PICK(u->rng, ARITH_OPS), copy, leaf(u, TY_SCALAR, e->span.off));
  *e = *w;
  return true;
}

/* ---- driver ----------------------------------------------------------------- */

static SearchMutation pick_kind(SearchRng *rng) {
  static const int weights[SEARCH_MUT_COUNT] = {30, 12, 18, 15, 8, 10, 7};
  int total = 0;
  for (int i = 0; i < SEARCH_MUT_COUNT; i++) total += weights[i];
  int r = search_rng_below(rng, total);
  for (int i = 0; i < SEARCH_MUT_COUNT; i++) {
    if (r < weights[i]) return (SearchMutation)i;
    r -= weights[i];
  }
  return SEARCH_MUT_INSERT;
}

static bool apply(Mut *u, SearchMutation k) {
  switch (k) {
  case SEARCH_MUT_INSERT: return mut_insert(u);
  case SEARCH_MUT_DELETE: return mut_delete(u);
  case SEARCH_MUT_SWAP_ARG: return mut_swap_arg(u);
  case SEARCH_MUT_PERTURB: return mut_perturb(u);
  case SEARCH_MUT_SWAP_FN: return mut_swap_fn(u);
  case SEARCH_MUT_SWAP_OP: return mut_swap_op(u);
  case SEARCH_MUT_WRAP: return mut_wrap(u);
  default: return false;
  }
}

static void mut_free(Mut *u) {
  VEC_FREE(&u->lists);
  VEC_FREE(&u->exprs);
  VEC_FREE(&u->vars);
}

static SearchReject check_child(SearchChecked *c, const SearchMutateOptions *o, char **child) {
  if (search_stmt_count(&c->sp.update->update.body) > o->max_stmts) return SEARCH_REJ_TOO_LONG;
  char *text = search_print(c);
  SearchChecked again;
  bool ok = search_check(&again, o->anchor, text);
  search_checked_free(&again);
  if (!ok) {
    free(text);
    return SEARCH_REJ_SEMA;
  }
  *child = text;
  return SEARCH_OK;
}

SearchReject search_mutate(const char *parent, const SearchMutateOptions *o, SearchRng *rng,
                           char **child, SearchMutation *kind) {
  *child = NULL;
  *kind = SEARCH_MUT_COUNT;
  SearchChecked c;
  if (!search_check(&c, o->anchor, parent)) {
    search_checked_free(&c);
    return SEARCH_REJ_PARENT;
  }
  Mut u = {.c = &c, .m = c.sp.main, .rng = rng};
  collect_list(&u, &c.sp.update->update.body);
  collect_vars(&u);
  bool done = false;
  for (int i = 0; i < MUT_TRIES && !done; i++) done = apply(&u, *kind = pick_kind(rng));
  SearchReject r = done ? check_child(&c, o, child) : SEARCH_REJ_NOTHING;
  mut_free(&u);
  search_checked_free(&c);
  return r;
}

/* search_simplify.c: dead-statement removal and the structure hash.
 *
 * Simplification is a backward liveness pass over the update body: p and
 * every state are always live (they persist); an assignment to a local
 * that is not live after it is removed; `x = e` kills x, `x op= e` reads
 * it; an `if` is walked branch by branch and dropped when both branches
 * become empty; `every`/`repeat` bodies are kept whole and everything they
 * touch counts as live (their bodies run repeatedly).  The pass repeats
 * until nothing changes.
 *
 * The structure hash covers hypers (name, default), states (name, kind,
 * dtype, initial value), defs and the update body, with the operands of
 * commutative operators (+ * == != && || min max dot) in a canonical
 * order and locals numbered by first assignment, so renamed variables and
 * a+b versus b+a hash alike.  The optimizer's name is not hashed.
 */
#include <string.h>

#include "fmt.h"
#include "search_internal.h"

/* Rounds of the liveness pass; each removes at least one statement, and
 * an update past this many statements is far beyond any candidate. */
enum { SIMPLIFY_ROUNDS = 64 };

typedef struct { const char **data; int len, cap; } Names;

static bool has(const Names *n, const char *x) {
  for (int i = 0; i < n->len; i++)
    if (!strcmp(n->data[i], x)) return true;
  return false;
}

static void add(Names *n, const char *x) {
  if (!has(n, x)) VEC_PUSH(n, x);
}

static void drop(Names *n, const char *x) {
  for (int i = 0; i < n->len; i++)
    if (!strcmp(n->data[i], x)) n->data[i--] = n->data[--n->len];
}

static Names copy(const Names *n) {
  Names c = {0};
  for (int i = 0; i < n->len; i++) VEC_PUSH(&c, n->data[i]);
  return c;
}

static void uses(Names *live, const AstNode *e) {
  if (!e) return;
  switch (e->kind) {
  case AST_NAME: add(live, e->name.id); break;
  case AST_UNARY:
  case AST_TRANSPOSE: uses(live, e->unary.operand); break;
  case AST_BINARY:
    uses(live, e->binary.lhs);
    uses(live, e->binary.rhs);
    break;
  case AST_CALL:
    for (int i = 0; i < e->call.args.len; i++) uses(live, e->call.args.items[i]);
    break;
  default: break;
  }
}

/* Every name read or written anywhere in a list (loop bodies). */
static void touched(Names *live, const AstList *l) {
  for (int i = 0; i < l->len; i++) {
    const AstNode *s = l->items[i];
    if (s->kind == AST_ASSIGN) {
      add(live, s->assign.target);
      uses(live, s->assign.value);
    } else if (s->kind == AST_IF) {
      uses(live, s->if_.cond);
      touched(live, &s->if_.then_body);
      touched(live, &s->if_.else_body);
    } else if (s->kind == AST_EVERY || s->kind == AST_REPEAT) {
      uses(live, s->loop.count);
      touched(live, &s->loop.body);
    } else if (s->kind == AST_EXPR_STMT) {
      uses(live, s->expr_stmt.expr);
    }
  }
}

typedef struct Simp {
  const SemaProgram *sp;
  bool changed;
} Simp;

static bool persistent(const Simp *s, const char *name) {
  if (!strcmp(name, "p")) return true;
  for (int i = 0; i < s->sp->nstates; i++)
    if (!strcmp(s->sp->states[i]->state.name, name)) return true;
  return false;
}

static void remove_at(AstList *l, int i) {
  for (int k = i; k + 1 < l->len; k++) l->items[k] = l->items[k + 1];
  l->len--;
}

static void live_list(Simp *s, AstList *l, Names *live);

/* Returns false when the statement is dead (the caller removes it). */
static bool live_if(Simp *s, AstNode *st, Names *live) {
  Names a = copy(live), b = copy(live);
  live_list(s, &st->if_.then_body, &a);
  live_list(s, &st->if_.else_body, &b);
  bool keep = st->if_.then_body.len > 0 || st->if_.else_body.len > 0;
  if (keep) {
    live->len = 0;
    for (int i = 0; i < a.len; i++) add(live, a.data[i]);
    for (int i = 0; i < b.len; i++) add(live, b.data[i]);
    uses(live, st->if_.cond);
  }
  VEC_FREE(&a);
  VEC_FREE(&b);
  return keep;
}

static bool live_stmt(Simp *s, AstNode *st, Names *live) {
  switch (st->kind) {
  case AST_ASSIGN: {
    const char *x = st->assign.target;
    bool local = !persistent(s, x);
    if (local && !has(live, x)) return false;
    if (local && st->assign.op == AST_SET) drop(live, x);
    uses(live, st->assign.value);
    if (st->assign.op != AST_SET) add(live, x);
    return true;
  }
  case AST_IF: return live_if(s, st, live);
  case AST_EVERY:
  case AST_REPEAT:
    uses(live, st->loop.count);
    touched(live, &st->loop.body);
    return true;
  case AST_EXPR_STMT: uses(live, st->expr_stmt.expr); return true;
  default: return true;
  }
}

static void live_list(Simp *s, AstList *l, Names *live) {
  for (int i = l->len - 1; i >= 0; i--)
    if (!live_stmt(s, l->items[i], live)) {
      remove_at(l, i);
      s->changed = true;
    }
}

static void simplify_update(const SemaProgram *sp) {
  Simp s = {.sp = sp, .changed = true};
  for (int round = 0; round < SIMPLIFY_ROUNDS && s.changed; round++) {
    s.changed = false;
    Names live = {0};
    live_list(&s, &sp->update->update.body, &live);
    VEC_FREE(&live);
  }
}

/* ---- structure hash ---------------------------------------------------------- */

typedef struct Hasher {
  const SemaProgram *sp;
  Names locals; /* in order of first assignment */
} Hasher;

static uint64_t hash_str(const char *s) { return util_hash_bytes(s, strlen(s), 0x5eed); }

static int local_index(Hasher *h, const char *name) {
  for (int i = 0; i < h->locals.len; i++)
    if (!strcmp(h->locals.data[i], name)) return i;
  return -1;
}

static bool commutative(AstOp op) {
  return op == AST_OP_ADD || op == AST_OP_MUL || op == AST_OP_EQ || op == AST_OP_NE ||
         op == AST_OP_AND || op == AST_OP_OR;
}

static uint64_t hash_expr(Hasher *h, const AstNode *e);

static uint64_t hash_pair(uint64_t tag, uint64_t a, uint64_t b, bool sorted) {
  if (sorted && a > b) {
    uint64_t t = a;
    a = b;
    b = t;
  }
  return util_hash_mix(util_hash_mix(tag, a), b);
}

static uint64_t hash_call(Hasher *h, const AstNode *e) {
  uint64_t k = util_hash_mix(hash_str(e->call.callee), e->call.group ? 7 : 3);
  const AstList *a = &e->call.args;
  bool sym = a->len == 2 && (!strcmp(e->call.callee, "min") || !strcmp(e->call.callee, "max") ||
                             !strcmp(e->call.callee, "dot"));
  if (sym) return hash_pair(k, hash_expr(h, a->items[0]), hash_expr(h, a->items[1]), true);
  for (int i = 0; i < a->len; i++) k = util_hash_mix(k, hash_expr(h, a->items[i]));
  return k;
}

static uint64_t hash_expr(Hasher *h, const AstNode *e) {
  if (!e) return 0;
  switch (e->kind) {
  case AST_NUM: return util_hash_bytes(&e->num.value, sizeof e->num.value, 11);
  case AST_NAME: {
    int k = local_index(h, e->name.id);
    return k >= 0 ? util_hash_mix(13, (uint64_t)k) : util_hash_mix(17, hash_str(e->name.id));
  }
  case AST_UNARY:
  case AST_TRANSPOSE:
    return util_hash_mix(util_hash_mix(19 + (uint64_t)e->kind, (uint64_t)e->unary.op),
                         hash_expr(h, e->unary.operand));
  case AST_BINARY:
    return hash_pair(util_hash_mix(23, (uint64_t)e->binary.op), hash_expr(h, e->binary.lhs),
                     hash_expr(h, e->binary.rhs), commutative(e->binary.op));
  case AST_CALL: return hash_call(h, e);
  default: return (uint64_t)e->kind;
  }
}

static uint64_t hash_list(Hasher *h, const AstList *l);

static uint64_t hash_stmt(Hasher *h, const AstNode *s) {
  switch (s->kind) {
  case AST_ASSIGN: {
    uint64_t v = util_hash_mix(29 + (uint64_t)s->assign.op, hash_expr(h, s->assign.value));
    const char *x = s->assign.target;
    bool local = false;
    for (int i = 0; i < h->sp->nlocals && !local; i++) local = !strcmp(h->sp->locals[i].name, x);
    if (local && local_index(h, x) < 0) VEC_PUSH(&h->locals, x);
    int k = local ? local_index(h, x) : -1;
    return util_hash_mix(v, k >= 0 ? (uint64_t)k : hash_str(x));
  }
  case AST_IF: {
    uint64_t c = hash_expr(h, s->if_.cond);
    return hash_pair(util_hash_mix(31, c), hash_list(h, &s->if_.then_body), hash_list(h, &s->if_.else_body), false);
  }
  case AST_EVERY:
  case AST_REPEAT:
    return hash_pair((uint64_t)s->kind, hash_expr(h, s->loop.count), hash_list(h, &s->loop.body), false);
  case AST_EXPR_STMT: return util_hash_mix(37, hash_expr(h, s->expr_stmt.expr));
  default: return (uint64_t)s->kind;
  }
}

static uint64_t hash_list(Hasher *h, const AstList *l) {
  uint64_t k = util_hash_mix(41, (uint64_t)l->len);
  for (int i = 0; i < l->len; i++) k = util_hash_mix(k, hash_stmt(h, l->items[i]));
  return k;
}

static uint64_t hash_items(Hasher *h) {
  const SemaProgram *sp = h->sp;
  uint64_t k = 43;
  for (int i = 0; i < sp->nhypers; i++) {
    k = util_hash_mix(k, hash_str(sp->hypers[i]->hyper.name));
    k = util_hash_mix(k, util_hash_bytes(&sp->hypers[i]->hyper.def_value, sizeof(double), 47));
  }
  for (int i = 0; i < sp->nstates; i++) {
    const AstNode *s = sp->states[i];
    k = util_hash_mix(k, hash_str(s->state.name));
    k = util_hash_mix(k, (uint64_t)s->state.skind * 8 + (uint64_t)s->state.dtype);
    k = util_hash_mix(k, hash_expr(h, s->state.init));
  }
  for (int i = 0; i < sp->ndefs; i++) {
    const AstNode *d = sp->defs[i];
    k = util_hash_mix(util_hash_mix(k, hash_str(d->def.name)), (uint64_t)d->def.nparams);
    for (int j = 0; j < d->def.nparams; j++) k = util_hash_mix(k, hash_str(d->def.params[j].name));
    k = util_hash_mix(k, hash_expr(h, d->def.body));
  }
  return k;
}

static uint64_t structure_hash(const SemaProgram *sp) {
  Hasher h = {.sp = sp};
  uint64_t k = hash_items(&h);
  k = util_hash_mix(k, hash_list(&h, &sp->update->update.body));
  VEC_FREE(&h.locals);
  return k;
}

int search_simplify(const char *anchor, const char *text, char **out, uint64_t *hash) {
  *out = NULL;
  SearchChecked c;
  if (!search_check(&c, anchor, text)) {
    search_checked_free(&c);
    return -1;
  }
  simplify_update(&c.sp);
  char *simple = search_print(&c);
  search_checked_free(&c);
  SearchChecked again;
  if (!search_check(&again, anchor, simple)) { /* keep the text as it was */
    search_checked_free(&again);
    free(simple);
    search_check(&again, anchor, text);
    simple = search_print(&again);
  }
  *hash = structure_hash(&again.sp);
  search_checked_free(&again);
  *out = simple;
  return 0;
}

char *search_rename(const char *text, const char *name) {
  Str s = {0};
  const char *line = strstr(text, "optimizer ");
  while (line && line != text && line[-1] != '\n') line = strstr(line + 1, "optimizer ");
  if (!line) {
    str_puts(&s, text);
    return str_take(&s);
  }
  const char *eol = strchr(line, '\n');
  str_append(&s, text, (size_t)(line - text));
  str_printf(&s, "optimizer %s", name);
  str_puts(&s, eol ? eol : "");
  return str_take(&s);
}

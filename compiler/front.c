/* front.c: front_parse(), the glue between the lexer, the Bison parser and
 * the AstModule (see front.h).
 *
 * After parsing, one iterative walk bounds the depth of the tree: a long
 * chain such as `1+1+1+...` parses without deep recursion in Bison (it is
 * left-recursive) but would make every later recursive phase recurse once
 * per term.  Past FRONT_MAX_DEPTH the file is rejected with one error.
 */
#include "front.h"

#include <string.h>

#include "parser.h"

typedef struct DepthItem {
  const AstNode *node;
  int depth;
} DepthItem;

typedef struct DepthStack {
  DepthItem *data;
  int len, cap;
} DepthStack;

static void push_node(DepthStack *st, const AstNode *n, int depth) {
  if (!n) return;
  DepthItem it = {n, depth};
  VEC_PUSH(st, it);
}

static void push_list(DepthStack *st, const AstList *l, int depth) {
  for (int i = 0; i < l->len; i++) push_node(st, l->items[i], depth);
}

static void push_children(DepthStack *st, const AstNode *n, int d) {
  switch (n->kind) {
  case AST_UNARY:
  case AST_TRANSPOSE: push_node(st, n->unary.operand, d); break;
  case AST_BINARY:
    push_node(st, n->binary.lhs, d);
    push_node(st, n->binary.rhs, d);
    break;
  case AST_CALL: push_list(st, &n->call.args, d); break;
  case AST_ASSIGN: push_node(st, n->assign.value, d); break;
  case AST_IF:
    push_node(st, n->if_.cond, d);
    push_list(st, &n->if_.then_body, d);
    push_list(st, &n->if_.else_body, d);
    break;
  case AST_EVERY:
  case AST_REPEAT:
    push_node(st, n->loop.count, d);
    push_list(st, &n->loop.body, d);
    break;
  case AST_EXPR_STMT: push_node(st, n->expr_stmt.expr, d); break;
  case AST_DEF: push_node(st, n->def.body, d); break;
  case AST_HYPER:
    push_node(st, n->hyper.value, d);
    push_node(st, n->hyper.lo, d);
    push_node(st, n->hyper.hi, d);
    break;
  case AST_STATE:
    push_node(st, n->state.rows, d);
    push_node(st, n->state.cols, d);
    push_node(st, n->state.init, d);
    break;
  case AST_UPDATE: push_list(st, &n->update.body, d); break;
  default: break;
  }
}

/* The first node found deeper than FRONT_MAX_DEPTH, or NULL. */
static const AstNode *too_deep_node(const AstModule *m) {
  DepthStack st = {0};
  const AstNode *found = NULL;
  push_list(&st, &m->items, 1);
  while (st.len > 0 && !found) {
    DepthItem it = st.data[--st.len];
    if (it.depth > FRONT_MAX_DEPTH) found = it.node;
    else push_children(&st, it.node, it.depth + 1);
  }
  VEC_FREE(&st);
  return found;
}

int front_parse(AstModule *m, SrcMgr *sm, int file, DiagSink *diags) {
  memset(m, 0, sizeof *m);
  arena_init(&m->arena);
  m->file = file;
  int before = diags->nerrors;
  Parser *ps = xcalloc(1, sizeof *ps); /* the bracket stack makes it large */
  ps->m = m;
  ps->diags = diags;
  ps->closed_reported = -1;
  lexer_init(&ps->lx, m, &sm->files[file], file, diags);
  int rc = optc_yyparse(ps);
  Span eof = ps->last.span;
  bool deep = ps->lx.too_deep || ps->deep_reported;
  lexer_finish(&ps->lx);
  free(ps);
  if (!deep) {
    const AstNode *n = too_deep_node(m);
    if (n) diag_error(diags, n->span, "nesting is deeper than %d levels", FRONT_MAX_DEPTH);
  }
  if (rc != 0 && diags->nerrors == before) diag_error(diags, eof, "invalid syntax");
  return diags->nerrors - before;
}

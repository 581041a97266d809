/* ast.c: AST constructors, names, structural equality and the S-expression
 * dump (see ast.h).
 *
 * Everything is allocated in the module's arena; lists grow by doubling
 * (the capacity is implied by the length: the next power of two from 4), so
 * an AstList needs no capacity field.  Equality and the dump recurse; the
 * parser guarantees trees no deeper than FRONT_MAX_DEPTH.
 */
#include "ast.h"

#include <string.h>

static const char *const KIND_NAMES[] = {
#define X(k) #k,
    AST_KINDS(X)
#undef X
};

static const char *const OP_TEXT[] = {
#define X(name, text, prec) text,
    AST_OPS(X)
#undef X
};

static const int OP_PREC[] = {
#define X(name, text, prec) prec,
    AST_OPS(X)
#undef X
};

const char *ast_kind_name(AstKind k) {
  return (unsigned)k < AST_KIND_COUNT ? KIND_NAMES[k] : "?";
}

const char *ast_op_text(AstOp op) { return (unsigned)op < AST_OP_COUNT ? OP_TEXT[op] : "?"; }

int ast_op_prec(AstOp op) { return (unsigned)op < AST_OP_COUNT ? OP_PREC[op] : 0; }

const char *ast_assign_op_text(AstAssignOp op) {
  switch (op) {
  case AST_SET: return "=";
  case AST_ADD_SET: return "+=";
  case AST_SUB_SET: return "-=";
  case AST_MUL_SET: return "*=";
  case AST_DIV_SET: return "/=";
  }
  return "?";
}

AstNode *ast_new(AstModule *m, AstKind kind, Span span) {
  AstNode *n = ARENA_NEW(&m->arena, AstNode);
  n->kind = kind;
  n->span = span;
  if (kind == AST_CALL) n->call.builtin = -1;
  if (kind == AST_IMPORT) n->import.file = -1;
  return n;
}

void ast_list_push(AstModule *m, AstList *list, AstNode *node) {
  int len = list->len;
  if (len == 0 || (len >= 4 && (len & (len - 1)) == 0)) {
    int cap = len == 0 ? 4 : 2 * len;
    AstNode **items = ARENA_NEW_N(&m->arena, AstNode *, cap);
    if (len) memcpy(items, list->items, sizeof(AstNode *) * (size_t)len);
    list->items = items;
  }
  list->items[list->len++] = node;
}

/* ---- equality ----------------------------------------------------------- */

static bool str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

static bool params_equal(const AstNode *a, const AstNode *b) {
  if (a->def.nparams != b->def.nparams) return false;
  for (int i = 0; i < a->def.nparams; i++)
    if (!str_eq(a->def.params[i].name, b->def.params[i].name)) return false;
  return true;
}

static bool items_equal(const AstNode *a, const AstNode *b) {
  switch (a->kind) {
  case AST_OPTIMIZER: return str_eq(a->item.name, b->item.name);
  case AST_IMPORT: return str_eq(a->import.path, b->import.path);
  case AST_DEF:
    return str_eq(a->def.name, b->def.name) && params_equal(a, b) &&
           ast_equal(a->def.body, b->def.body);
  case AST_HYPER:
    return str_eq(a->hyper.name, b->hyper.name) && ast_equal(a->hyper.value, b->hyper.value) &&
           ast_equal(a->hyper.lo, b->hyper.lo) && ast_equal(a->hyper.hi, b->hyper.hi) &&
           a->hyper.lo_open == b->hyper.lo_open && a->hyper.hi_open == b->hyper.hi_open;
  case AST_STATE:
    return str_eq(a->state.name, b->state.name) && a->state.skind == b->state.skind &&
           a->state.dtype == b->state.dtype && ast_equal(a->state.rows, b->state.rows) &&
           ast_equal(a->state.cols, b->state.cols) && ast_equal(a->state.init, b->state.init);
  case AST_UPDATE: return ast_list_equal(&a->update.body, &b->update.body);
  default: return false;
  }
}

static bool stmts_equal(const AstNode *a, const AstNode *b) {
  switch (a->kind) {
  case AST_ASSIGN:
    return str_eq(a->assign.target, b->assign.target) && a->assign.op == b->assign.op &&
           ast_equal(a->assign.value, b->assign.value);
  case AST_IF:
    return a->if_.has_else == b->if_.has_else && ast_equal(a->if_.cond, b->if_.cond) &&
           ast_list_equal(&a->if_.then_body, &b->if_.then_body) &&
           ast_list_equal(&a->if_.else_body, &b->if_.else_body);
  case AST_EVERY:
  case AST_REPEAT:
    return ast_equal(a->loop.count, b->loop.count) &&
           ast_list_equal(&a->loop.body, &b->loop.body);
  case AST_EXPR_STMT: return ast_equal(a->expr_stmt.expr, b->expr_stmt.expr);
  default: return items_equal(a, b);
  }
}

bool ast_equal(const AstNode *a, const AstNode *b) {
  if (!a || !b) return a == b;
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case AST_NUM: return str_eq(a->num.text, b->num.text);
  case AST_NAME: return str_eq(a->name.id, b->name.id);
  case AST_UNARY:
    return a->unary.op == b->unary.op && ast_equal(a->unary.operand, b->unary.operand);
  case AST_TRANSPOSE: return ast_equal(a->unary.operand, b->unary.operand);
  case AST_BINARY:
    return a->binary.op == b->binary.op && ast_equal(a->binary.lhs, b->binary.lhs) &&
           ast_equal(a->binary.rhs, b->binary.rhs);
  case AST_CALL:
    return a->call.group == b->call.group && str_eq(a->call.callee, b->call.callee) &&
           ast_list_equal(&a->call.args, &b->call.args);
  default: return stmts_equal(a, b);
  }
}

bool ast_list_equal(const AstList *a, const AstList *b) {
  if (a->len != b->len) return false;
  for (int i = 0; i < a->len; i++)
    if (!ast_equal(a->items[i], b->items[i])) return false;
  return true;
}

/* ---- S-expression dump ---------------------------------------------------
 * One item or statement per line, indented two spaces per block level;
 * expressions inline: (num 1e-3) (name g) (unary - x) (binary + a b)
 * (call sqrt x) (call group.norm g) (transpose A). */

static void dump_expr(Str *out, const AstNode *n);

static void dump_args(Str *out, const AstList *args) {
  for (int i = 0; i < args->len; i++) {
    str_putc(out, ' ');
    dump_expr(out, args->items[i]);
  }
}

static void dump_expr(Str *out, const AstNode *n) {
  if (!n) {
    str_puts(out, "()");
    return;
  }
  switch (n->kind) {
  case AST_NUM: str_printf(out, "(num %s)", n->num.text); break;
  case AST_NAME: str_printf(out, "(name %s)", n->name.id); break;
  case AST_UNARY:
    str_printf(out, "(unary %s ", ast_op_text(n->unary.op));
    dump_expr(out, n->unary.operand);
    str_putc(out, ')');
    break;
  case AST_TRANSPOSE:
    str_puts(out, "(transpose ");
    dump_expr(out, n->unary.operand);
    str_putc(out, ')');
    break;
  case AST_BINARY:
    str_printf(out, "(binary %s ", ast_op_text(n->binary.op));
    dump_expr(out, n->binary.lhs);
    str_putc(out, ' ');
    dump_expr(out, n->binary.rhs);
    str_putc(out, ')');
    break;
  case AST_CALL:
    str_printf(out, "(call %s%s", n->call.group ? "group." : "", n->call.callee);
    dump_args(out, &n->call.args);
    str_putc(out, ')');
    break;
  default: str_printf(out, "(%s)", ast_kind_name(n->kind)); break;
  }
}

static void dump_node(Str *out, const AstNode *n, int depth);

static void dump_body(Str *out, const AstList *body, int depth) {
  for (int i = 0; i < body->len; i++) {
    str_putc(out, '\n');
    dump_node(out, body->items[i], depth);
  }
}

static const char *dtype_name(AstDType d) {
  switch (d) {
  case AST_DT_F32: return " f32";
  case AST_DT_F64: return " f64";
  case AST_DT_BF16: return " bf16";
  default: return "";
  }
}

static void dump_state(Str *out, const AstNode *n) {
  static const char *const kinds[] = {"tensor", "scalar", "matrix", "history"};
  str_printf(out, "(state %s %s", n->state.name, kinds[n->state.skind]);
  if (n->state.skind == AST_STATE_HISTORY) {
    str_putc(out, ' ');
    dump_expr(out, n->state.rows);
  }
  if (n->state.skind == AST_STATE_MATRIX) {
    str_putc(out, ' ');
    dump_expr(out, n->state.rows);
    str_putc(out, ' ');
    dump_expr(out, n->state.cols);
  }
  str_printf(out, "%s ", dtype_name(n->state.dtype));
  dump_expr(out, n->state.init);
  str_putc(out, ')');
}

static void dump_hyper(Str *out, const AstNode *n) {
  str_printf(out, "(hyper %s ", n->hyper.name);
  dump_expr(out, n->hyper.value);
  if (n->hyper.lo) {
    str_printf(out, " in %c", n->hyper.lo_open ? '(' : '[');
    dump_expr(out, n->hyper.lo);
    str_putc(out, ' ');
    dump_expr(out, n->hyper.hi);
    str_putc(out, n->hyper.hi_open ? ')' : ']');
  }
  str_putc(out, ')');
}

static void dump_def(Str *out, const AstNode *n) {
  str_printf(out, "(def %s (", n->def.name);
  for (int i = 0; i < n->def.nparams; i++)
    str_printf(out, "%s%s", i ? " " : "", n->def.params[i].name);
  str_puts(out, ") ");
  dump_expr(out, n->def.body);
  str_putc(out, ')');
}

static void dump_block_node(Str *out, const AstNode *n, int depth) {
  switch (n->kind) {
  case AST_IF:
    str_puts(out, "(if ");
    dump_expr(out, n->if_.cond);
    dump_body(out, &n->if_.then_body, depth + 1);
    if (n->if_.has_else) {
      str_putc(out, '\n');
      for (int i = 0; i < depth; i++) str_puts(out, "  ");
      str_puts(out, " else");
      dump_body(out, &n->if_.else_body, depth + 1);
    }
    break;
  case AST_EVERY:
  case AST_REPEAT:
    str_printf(out, "(%s ", n->kind == AST_EVERY ? "every" : "repeat");
    dump_expr(out, n->loop.count);
    dump_body(out, &n->loop.body, depth + 1);
    break;
  default:
    str_puts(out, "(update");
    dump_body(out, &n->update.body, depth + 1);
    break;
  }
  str_putc(out, ')');
}

static void dump_node(Str *out, const AstNode *n, int depth) {
  for (int i = 0; i < depth; i++) str_puts(out, "  ");
  switch (n->kind) {
  case AST_ASSIGN:
    str_printf(out, "(assign %s %s ", n->assign.target, ast_assign_op_text(n->assign.op));
    dump_expr(out, n->assign.value);
    str_putc(out, ')');
    break;
  case AST_EXPR_STMT:
    str_puts(out, "(expr ");
    dump_expr(out, n->expr_stmt.expr);
    str_putc(out, ')');
    break;
  case AST_IF:
  case AST_EVERY:
  case AST_REPEAT:
  case AST_UPDATE: dump_block_node(out, n, depth); break;
  case AST_OPTIMIZER: str_printf(out, "(optimizer %s)", n->item.name); break;
  case AST_IMPORT: str_printf(out, "(import \"%s\")", n->import.path); break;
  case AST_DEF: dump_def(out, n); break;
  case AST_HYPER: dump_hyper(out, n); break;
  case AST_STATE: dump_state(out, n); break;
  default: dump_expr(out, n); break;
  }
}

void ast_dump(Str *out, const AstModule *m) {
  for (int i = 0; i < m->items.len; i++) {
    dump_node(out, m->items.items[i], 0);
    str_putc(out, '\n');
  }
}

void ast_module_free(AstModule *m) {
  arena_free(&m->arena);
  m->items.items = NULL;
  m->items.len = 0;
  m->comments = NULL;
  m->ncomments = 0;
}

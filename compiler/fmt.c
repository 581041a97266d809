/* fmt.c: the canonical printer (see fmt.h).
 *
 * Comments are placed by source offset: walking the tree in order, every
 * comment that starts before a node is printed on its own line before it
 * (at the node's indent); comments inside a one-line construct and the
 * comment that follows it on its last line are printed after it as
 * `stmt  # text`.  Blank lines: one is printed before a node or own-line
 * comment whose source line is more than one line after the last source
 * line printed, except right after an opening brace.
 *
 * Parentheses: each expression kind has a binding level (ast_op_prec for
 * binaries, 6 for prefix operators, 8 for `.T`, 9 for primaries); an
 * operand is parenthesised when its level is below what its position
 * needs, which reproduces exactly the tree the parser would build.
 */
#include "fmt.h"

#include <string.h>

enum { LEVEL_UNARY = 6, LEVEL_POSTFIX = 8, LEVEL_PRIMARY = 9 };

typedef struct Fmt {
  Str *out;
  const AstModule *m;
  int ci;         /* next comment to print */
  int last_line;  /* last source line printed; 0 at the start */
  bool no_blank;  /* right after an opening brace */
  int indent;
} Fmt;

/* ---- expressions ------------------------------------------------------- */

static int level(const AstNode *e) {
  switch (e->kind) {
  case AST_BINARY: return ast_op_prec(e->binary.op);
  case AST_UNARY: return LEVEL_UNARY;
  case AST_TRANSPOSE: return LEVEL_POSTFIX;
  default: return LEVEL_PRIMARY;
  }
}

static void put_expr(Str *out, const AstNode *e, int need);

static void put_args(Str *out, const AstList *args) {
  str_putc(out, '(');
  for (int i = 0; i < args->len; i++) {
    if (i) str_puts(out, ", ");
    put_expr(out, args->items[i], 0);
  }
  str_putc(out, ')');
}

static bool is_comparison(AstOp op) { return ast_op_prec(op) == ast_op_prec(AST_OP_EQ); }

static void put_binary(Str *out, const AstNode *e) {
  AstOp op = e->binary.op;
  int p = ast_op_prec(op);
  if (op == AST_OP_POW) {
    put_expr(out, e->binary.lhs, LEVEL_POSTFIX);
    str_putc(out, '^');
    put_expr(out, e->binary.rhs, LEVEL_UNARY);
    return;
  }
  put_expr(out, e->binary.lhs, is_comparison(op) ? p + 1 : p);
  str_printf(out, " %s ", ast_op_text(op));
  put_expr(out, e->binary.rhs, p + 1);
}

static void put_expr_inner(Str *out, const AstNode *e) {
  switch (e->kind) {
  case AST_NUM: str_puts(out, e->num.text); break;
  case AST_NAME: str_puts(out, e->name.id); break;
  case AST_UNARY:
    str_puts(out, ast_op_text(e->unary.op));
    put_expr(out, e->unary.operand, LEVEL_UNARY);
    break;
  case AST_TRANSPOSE:
    put_expr(out, e->unary.operand, LEVEL_POSTFIX);
    str_puts(out, ".T");
    break;
  case AST_BINARY: put_binary(out, e); break;
  case AST_CALL:
    str_printf(out, "%s%s", e->call.group ? "group." : "", e->call.callee);
    put_args(out, &e->call.args);
    break;
  default: unreachable_msg("fmt: %s is not an expression", ast_kind_name(e->kind));
  }
}

static void put_expr(Str *out, const AstNode *e, int need) {
  bool paren = level(e) < need;
  if (paren) str_putc(out, '(');
  put_expr_inner(out, e);
  if (paren) str_putc(out, ')');
}

void fmt_expr(Str *out, const AstNode *e) { put_expr(out, e, 0); }

/* ---- comments and lines --------------------------------------------------- */

static void put_indent(Fmt *f) {
  for (int i = 0; i < f->indent; i++) str_puts(f->out, "  ");
}

static void blank_before(Fmt *f, int line) {
  if (f->last_line > 0 && !f->no_blank && line > f->last_line + 1) str_putc(f->out, '\n');
  f->no_blank = false;
}

/* Own-line comments before source offset `off`. */
static void comments_before(Fmt *f, int off) {
  while (f->ci < f->m->ncomments && f->m->comments[f->ci].span.off < off) {
    const AstComment *c = &f->m->comments[f->ci++];
    blank_before(f, c->span.line);
    put_indent(f);
    str_printf(f->out, "%s\n", c->text);
    f->last_line = c->span.line;
  }
}

/* Ends a printed line that covers the source up to `end`, whose last line
 * is `line`: comments inside it and a trailing comment on that line. */
static void end_line(Fmt *f, int end, int line) {
  const AstComment *cs = f->m->comments;
  while (f->ci < f->m->ncomments &&
         (cs[f->ci].span.off < end || (!cs[f->ci].own_line && cs[f->ci].span.line == line))) {
    str_printf(f->out, "  %s", cs[f->ci].text);
    if (cs[f->ci].span.line > line) line = cs[f->ci].span.line;
    f->ci++;
  }
  str_putc(f->out, '\n');
  if (line > f->last_line) f->last_line = line;
}

/* Starts the line of a node: comments before it, a kept blank line, the
 * indent. */
static void begin_line(Fmt *f, const AstNode *n) {
  comments_before(f, n->span.off);
  blank_before(f, n->span.line);
  put_indent(f);
}

/* ---- statements ----------------------------------------------------------- */

static void put_stmt(Fmt *f, const AstNode *n);

/* After `... {` has been printed: the header's comments, the body, the
 * comments before the closing brace at `close_off`. */
static void put_block(Fmt *f, const AstList *body, const AstNode *head, int close_off) {
  end_line(f, head->span.end, head->span.end_line);
  f->no_blank = true;
  f->indent++;
  for (int i = 0; i < body->len; i++) put_stmt(f, body->items[i]);
  comments_before(f, close_off);
  f->indent--;
  f->no_blank = false;
  put_indent(f);
  str_putc(f->out, '}');
}

static int close_off(const AstNode *n) { return n->span.end - 1; }

static void put_if(Fmt *f, const AstNode *n) {
  str_puts(f->out, "if ");
  put_expr(f->out, n->if_.cond, 0);
  str_puts(f->out, " {");
  int then_close = n->if_.has_else ? n->if_.else_span.off : close_off(n);
  put_block(f, &n->if_.then_body, n->if_.cond, then_close);
  if (!n->if_.has_else) return;
  str_puts(f->out, " else ");
  const AstList *eb = &n->if_.else_body;
  if (eb->len == 1 && eb->items[0]->kind == AST_IF) {
    put_if(f, eb->items[0]);
    return;
  }
  str_putc(f->out, '{');
  AstNode head = *n; /* the `else` keyword's line */
  head.span = n->if_.else_span;
  put_block(f, eb, &head, close_off(n));
}

/* A block statement's own last line: its closing brace. */
static void end_block_stmt(Fmt *f, const AstNode *n) {
  end_line(f, n->span.end, n->span.end_line);
}

static void put_stmt(Fmt *f, const AstNode *n) {
  begin_line(f, n);
  switch (n->kind) {
  case AST_ASSIGN:
    str_printf(f->out, "%s %s ", n->assign.target, ast_assign_op_text(n->assign.op));
    put_expr(f->out, n->assign.value, 0);
    end_line(f, n->span.end, n->span.end_line);
    break;
  case AST_EXPR_STMT:
    put_expr(f->out, n->expr_stmt.expr, 0);
    end_line(f, n->span.end, n->span.end_line);
    break;
  case AST_IF:
    put_if(f, n);
    end_block_stmt(f, n);
    break;
  case AST_EVERY:
  case AST_REPEAT:
    str_puts(f->out, n->kind == AST_EVERY ? "every " : "repeat ");
    put_expr(f->out, n->loop.count, 0);
    str_puts(f->out, " {");
    put_block(f, &n->loop.body, n->loop.count, close_off(n));
    end_block_stmt(f, n);
    break;
  default: unreachable_msg("fmt: %s is not a statement", ast_kind_name(n->kind));
  }
}

/* ---- items -------------------------------------------------------------- */

static void put_string(Str *out, const char *s) {
  str_putc(out, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') str_printf(out, "\\%c", *s);
    else if (*s == '\n') str_puts(out, "\\n");
    else if (*s == '\t') str_puts(out, "\\t");
    else str_putc(out, *s);
  }
  str_putc(out, '"');
}

static const char *dtype_text(AstDType d) {
  switch (d) {
  case AST_DT_F32: return "f32";
  case AST_DT_F64: return "f64";
  case AST_DT_BF16: return "bf16";
  default: return NULL;
  }
}

/* ` : TYPE` of a state; nothing for a plain tensor. */
static void put_state_type(Str *out, const AstNode *n) {
  const char *dt = dtype_text(n->state.dtype);
  if (n->state.skind == AST_STATE_TENSOR) {
    if (dt) str_printf(out, " : %s", dt);
    return;
  }
  if (n->state.skind == AST_STATE_SCALAR) {
    str_puts(out, " : scalar");
  } else if (n->state.skind == AST_STATE_HISTORY) {
    str_puts(out, " : history(");
    put_expr(out, n->state.rows, 0);
    str_putc(out, ')');
  } else {
    str_puts(out, " : matrix(");
    put_expr(out, n->state.rows, 0);
    str_puts(out, ", ");
    put_expr(out, n->state.cols, 0);
    str_putc(out, ')');
  }
  if (dt) str_printf(out, " %s", dt);
}

static void put_hyper(Str *out, const AstNode *n) {
  str_printf(out, "hyper %s = ", n->hyper.name);
  put_expr(out, n->hyper.value, 0);
  if (!n->hyper.lo) return;
  str_printf(out, " in %c", n->hyper.lo_open ? '(' : '[');
  put_expr(out, n->hyper.lo, 0);
  str_puts(out, ", ");
  put_expr(out, n->hyper.hi, 0);
  str_putc(out, n->hyper.hi_open ? ')' : ']');
}

static void put_def(Str *out, const AstNode *n) {
  str_printf(out, "def %s(", n->def.name);
  for (int i = 0; i < n->def.nparams; i++)
    str_printf(out, "%s%s", i ? ", " : "", n->def.params[i].name);
  str_puts(out, ") = ");
  put_expr(out, n->def.body, 0);
}

static void put_item(Fmt *f, const AstNode *n) {
  begin_line(f, n);
  Str *out = f->out;
  switch (n->kind) {
  case AST_OPTIMIZER: str_printf(out, "optimizer %s", n->item.name); break;
  case AST_IMPORT:
    str_puts(out, "import ");
    put_string(out, n->import.path);
    break;
  case AST_DEF: put_def(out, n); break;
  case AST_HYPER: put_hyper(out, n); break;
  case AST_STATE:
    str_printf(out, "state %s", n->state.name);
    put_state_type(out, n);
    if (!n->state.init) break; /* a history has no initial value */
    str_puts(out, " = ");
    put_expr(out, n->state.init, 0);
    break;
  case AST_UPDATE: {
    str_puts(out, "update {");
    AstNode head = *n; /* the `update` keyword's line */
    head.span.end = n->span.off + 1;
    head.span.end_line = n->span.line;
    put_block(f, &n->update.body, &head, close_off(n));
    break;
  }
  default: unreachable_msg("fmt: %s is not an item", ast_kind_name(n->kind));
  }
  end_line(f, n->span.end, n->span.end_line);
}

void fmt_module(Str *out, const AstModule *m) {
  Fmt f = {out, m, 0, 0, false, 0};
  for (int i = 0; i < m->items.len; i++) put_item(&f, m->items.items[i]);
  comments_before(&f, 1 << 30);
}

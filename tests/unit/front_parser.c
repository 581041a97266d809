/* front_parser.c: the Bison parser: precedence and associativity (checked
 * through ast_dump), every item and statement form, error recovery with
 * the exact messages, nesting limits, and ast_equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "front.h"

typedef struct Parsed {
  SrcMgr sm;
  AstModule m;
  Str dump;  /* ast_dump when parsing succeeded */
  Str diags; /* "line:col: message" per error */
  int nerrors;
} Parsed;

static void collect(void *user, const Diag *d) {
  str_printf(user, "%d:%d: %s\n", d->span.line, d->span.col, d->message);
}

static void parse(Parsed *p, const char *src, size_t len) {
  memset(p, 0, sizeof *p);
  srcmgr_init(&p->sm);
  int f = srcmgr_add(&p->sm, "t.opt", src, len);
  DiagSink d;
  diag_init(&d, &p->sm, collect, &p->diags);
  p->nerrors = front_parse(&p->m, &p->sm, f, &d);
  if (p->nerrors == 0) ast_dump(&p->dump, &p->m);
}

static void parse_str(Parsed *p, const char *src) { parse(p, src, strlen(src)); }

static void done(Parsed *p) {
  ast_module_free(&p->m);
  srcmgr_free(&p->sm);
  str_free(&p->dump);
  str_free(&p->diags);
}

static const char *text(const Str *s) { return s->data ? s->data : ""; }

/* The dump of `y = EXPR` inside an update block. */
static void expect_expr(const char *expr, const char *dump) {
  Str src = {0}, want = {0};
  str_printf(&src, "update {\n  y = %s\n}\n", expr);
  str_printf(&want, "(update\n  (assign y = %s))\n", dump);
  Parsed p;
  parse_str(&p, src.data);
  if (p.nerrors) fail_msg("%s: %s", expr, text(&p.diags));
  assert_string_equal(text(&p.dump), want.data);
  done(&p);
  str_free(&src);
  str_free(&want);
}

static void expect_errors(const char *src, const char *want) {
  Parsed p;
  parse_str(&p, src);
  assert_string_equal(text(&p.diags), want);
  assert_true(p.nerrors > 0);
  done(&p);
}

static void expect_dump(const char *src, const char *want) {
  Parsed p;
  parse_str(&p, src);
  if (p.nerrors) fail_msg("%s", text(&p.diags));
  assert_string_equal(text(&p.dump), want);
  done(&p);
}

/* ---- precedence --------------------------------------------------------- */

static void test_unary_minus_below_pow(void **state) {
  (void)state;
  expect_expr("-x^2", "(unary - (binary ^ (name x) (num 2)))");
  expect_expr("2^-1", "(binary ^ (num 2) (unary - (num 1)))");
  expect_expr("(-x)^2", "(binary ^ (unary - (name x)) (num 2))");
  expect_expr("-x * y", "(binary * (unary - (name x)) (name y))");
}

static void test_pow_right_assoc(void **state) {
  (void)state;
  expect_expr("a^b^c", "(binary ^ (name a) (binary ^ (name b) (name c)))");
  expect_expr("a^-b^c", "(binary ^ (name a) (unary - (binary ^ (name b) (name c))))");
  expect_expr("beta1^t", "(binary ^ (name beta1) (name t))");
}

static void test_left_assoc_and_levels(void **state) {
  (void)state;
  expect_expr("a - b - c", "(binary - (binary - (name a) (name b)) (name c))");
  expect_expr("a / b * c", "(binary * (binary / (name a) (name b)) (name c))");
  expect_expr("a + b * c", "(binary + (name a) (binary * (name b) (name c)))");
  expect_expr("A @ B * c", "(binary * (binary @ (name A) (name B)) (name c))");
  expect_expr("a * B @ C", "(binary @ (binary * (name a) (name B)) (name C))");
  expect_expr("a || b && c", "(binary || (name a) (binary && (name b) (name c)))");
  expect_expr("a < b + 1 && !c",
              "(binary && (binary < (name a) (binary + (name b) (num 1))) (unary ! (name c)))");
  expect_expr("a == b", "(binary == (name a) (name b))");
  expect_expr("(a < b) < c", "(binary < (binary < (name a) (name b)) (name c))");
}

static void test_postfix_and_calls(void **state) {
  (void)state;
  expect_expr("A.T @ B", "(binary @ (transpose (name A)) (name B))");
  expect_expr("(a + b).T", "(transpose (binary + (name a) (name b)))");
  expect_expr("A.T^2", "(binary ^ (transpose (name A)) (num 2))");
  expect_expr("-A.T", "(unary - (transpose (name A)))");
  expect_expr("group.norm(g)", "(call group.norm (name g))");
  expect_expr("clip(x, -1, 1)", "(call clip (name x) (unary - (num 1)) (num 1))");
  expect_expr("rademacher()", "(call rademacher)");
  expect_expr("+x", "(unary + (name x))");
  expect_expr(".5 + 1e-8 + 1.5E+3", "(binary + (binary + (num .5) (num 1e-8)) (num 1.5E+3))");
}

static void test_newlines_in_parens(void **state) {
  (void)state;
  expect_expr("f(a,\n    b)", "(call f (name a) (name b))");
  expect_expr("(a\n + b)", "(binary + (name a) (name b))");
}

/* ---- items and statements ----------------------------------------------- */

static void test_items(void **state) {
  (void)state;
  expect_dump("optimizer adamw\nimport \"common/x.opt\"\n"
              "def ema(x, y, b) = b * x\ndef k() = 1\n"
              "hyper lr = 1e-3\nhyper b1 = 0.9 in [0, 1)\nhyper k = 10 in (1, inf]\n"
              "state m = 0\nstate h : bf16 = 0\nstate s : scalar = 0\n"
              "state q : tensor f64 = 1\nstate L : matrix(rows, 1) f32 = 1e-6 * I\n"
              "update { }\n",
              "(optimizer adamw)\n(import \"common/x.opt\")\n"
              "(def ema (x y b) (binary * (name b) (name x)))\n(def k () (num 1))\n"
              "(hyper lr (num 1e-3))\n(hyper b1 (num 0.9) in [(num 0) (num 1)))\n"
              "(hyper k (num 10) in ((num 1) (name inf)])\n"
              "(state m tensor (num 0))\n(state h tensor bf16 (num 0))\n"
              "(state s scalar (num 0))\n(state q tensor f64 (num 1))\n"
              "(state L matrix (name rows) (num 1) f32 (binary * (num 1e-6) (name I)))\n"
              "(update)\n");
}

static void test_statements(void **state) {
  (void)state;
  expect_dump("update {\n  a = 1; b += 2\n  c -= 3\n  d *= 4\n  e /= 5\n"
              "  linesearch(d, wolfe)\n  every k { z = 1 }\n  repeat 5 {\n  }\n"
              "  if t > 1 {\n    p = 1\n  }\n  else if t > 2 {\n  } else {\n    p = 2\n  }\n"
              "}",
              "(update\n  (assign a = (num 1))\n  (assign b += (num 2))\n"
              "  (assign c -= (num 3))\n  (assign d *= (num 4))\n  (assign e /= (num 5))\n"
              "  (expr (call linesearch (name d) (name wolfe)))\n"
              "  (every (name k)\n    (assign z = (num 1)))\n  (repeat (num 5))\n"
              "  (if (binary > (name t) (num 1))\n    (assign p = (num 1))\n   else\n"
              "    (if (binary > (name t) (num 2))\n     else\n      (assign p = (num 2)))))\n");
}

static void test_spans(void **state) {
  (void)state;
  Parsed p;
  parse_str(&p, "optimizer x\nupdate {\n  m = beta1 * m\n}\n");
  assert_int_equal(p.nerrors, 0);
  AstNode *upd = p.m.items.items[1];
  assert_int_equal(upd->span.line, 2);
  assert_int_equal(upd->span.end_line, 4);
  AstNode *a = upd->update.body.items[0];
  assert_int_equal(a->span.line, 3);
  assert_int_equal(a->span.col, 3);
  assert_int_equal(a->span.end_col, 16);
  assert_int_equal(a->assign.target_span.end_col, 4);
  AstNode *v = a->assign.value;
  assert_int_equal(v->span.col, 7);
  assert_int_equal(v->binary.rhs->span.col, 15);
  done(&p);
}

/* ---- errors ------------------------------------------------------------- */

static void test_error_messages(void **state) {
  (void)state;
  expect_errors("optimizer x\nupdate {\n  m = 1\n",
                "3:8: expected '}' to close the block opened at line 2, saw end of file\n");
  expect_errors("update {\n  m = )\n}\n", "2:7: expected an expression, saw ')'\n");
  expect_errors("update {\n  m = a < b < c\n}\n",
                "2:13: comparisons cannot be chained; combine them with '&&' (a < b && b < c)\n");
  expect_errors("update {\n  m + 1\n}\n",
                "2:5: expected '=', '+=', '-=', '*=', '/=' or '(', saw '+'\n");
  expect_errors("update {\n  if x > 1 m = 2\n}\n",
                "2:12: expected an operator or '{', saw name 'm'\n");
  expect_errors("state m : foo = 0\n",
                "1:11: expected a type (tensor, scalar, matrix(R, C), history(m), f32, f64 or "
                "bf16), saw name 'foo'\n");
  expect_errors("update {\n  q = a.b\n}\n",
                "2:9: expected 'T' after '.' (A.T is the transpose), saw name 'b'\n");
  expect_errors("update {\n  m = f(a, b\n}\n",
                "3:1: expected ')' to close the '(' opened at line 2, saw '}'\n");
  expect_errors("update {\n  v = g ** 2\n}\n",
                "2:10: expected an expression, saw '*' (the power operator is '^', as in g^2)\n");
  expect_errors("update {\n  if t = 1 {\n  }\n}\n",
                "2:8: expected an operator or '{', saw '=' (equality is written '==')\n");
  expect_errors("update {\n  p = 1\n  else {\n  }\n}\n",
                "3:3: 'else' without 'if': it must follow the '}' of an if block\n");
  expect_errors("update {\n  if x ) {\n    m = 1\n  } else {\n  }\n  q = )\n}\nhyper a = \n",
                "2:8: expected an operator or '{', saw ')'\n"
                "6:7: expected an expression, saw ')'\n"
                "8:11: expected an expression, saw end of line\n");
  expect_errors("m = 1\n",
                "1:1: expected an item (optimizer, import, def, hyper, state or update), "
                "saw name 'm'\n");
}

static void test_several_errors(void **state) {
  (void)state;
  expect_errors("optimizer x y\nhyper lr 1e-3\nhyper a = 1 in 0, 1\n"
                "update {\n  m = )\n  n = 2 +\n  k = 3 3\n  ok = 1\n}\nupdate {\n",
                "1:13: expected end of line, saw name 'y'\n"
                "2:10: expected '=', saw number '1e-3'\n"
                "3:16: expected '(' or '[', saw number '0'\n"
                "5:7: expected an expression, saw ')'\n"
                "6:10: expected an expression, saw end of line\n"
                "7:9: expected an operator or end of line, saw number '3'\n"
                "10:9: expected '}' to close the block opened at line 10, saw end of file\n");
}

static void test_lexer_errors_not_repeated(void **state) {
  (void)state;
  expect_errors("update {\n  m = $\n  n = 1 $ 2\n}\n",
                "2:7: invalid character '$'\n3:9: invalid character '$'\n");
}

static void test_item_keyword_in_block(void **state) {
  (void)state;
  expect_errors("update {\n  m = 1\nhyper a = 1\n",
                "3:1: expected '}' to close the block opened at line 1, saw 'hyper'\n");
}

/* ---- limits ------------------------------------------------------------- */

static void expect_too_deep(const char *prefix, const char *unit, int times, const char *suffix) {
  Str s = {0};
  str_puts(&s, prefix);
  for (int i = 0; i < times; i++) str_puts(&s, unit);
  str_puts(&s, suffix);
  Parsed p;
  parse(&p, s.data, s.len);
  assert_int_equal(p.nerrors, 1);
  assert_non_null(strstr(text(&p.diags), "nesting is deeper than 200 levels"));
  done(&p);
  str_free(&s);
}

static void test_nesting_limits(void **state) {
  (void)state;
  expect_too_deep("update {\n  y = ", "(", 5000, "x\n}\n");
  expect_too_deep("update {\n", "if x {\n", 300, "");
  expect_too_deep("update {\n  y = ", "-", 5000, "x\n}\n");
  expect_too_deep("update {\n  y = ", "-", 500, "x\n}\n");
  expect_too_deep("update {\n  y = x", "^x", 5000, "\n}\n");
  expect_too_deep("update {\n  y = x", "+x", 100000, "\n}\n");
  /* 200 levels are fine */
  Str s = {0};
  str_puts(&s, "update {\n  y = ");
  for (int i = 0; i < 150; i++) str_puts(&s, "(");
  str_puts(&s, "x");
  for (int i = 0; i < 150; i++) str_puts(&s, ")");
  str_puts(&s, "\n}\n");
  Parsed p;
  parse(&p, s.data, s.len);
  assert_int_equal(p.nerrors, 0);
  done(&p);
  str_free(&s);
}

static void test_junk_does_not_crash(void **state) {
  (void)state;
  static const char junk[] = "\x00\x01}{)(][\xff\xfe update { if else every { ) ; ; ,,, "
                             "\"unterminated\n# comment \x00 with nul\n group . . ( ";
  Parsed p;
  parse(&p, junk, sizeof junk - 1);
  assert_true(p.nerrors > 0);
  done(&p);
  parse(&p, "", 0);
  assert_int_equal(p.nerrors, 0);
  assert_int_equal(p.m.items.len, 0);
  done(&p);
}

static void test_ast_equal(void **state) {
  (void)state;
  Parsed a, b, c;
  parse_str(&a, "update {\n  y = (a + b) * c  # x\n}\n");
  parse_str(&b, "update{ y=((a+b))*c }");
  parse_str(&c, "update {\n  y = a + b * c\n}\n");
  assert_true(ast_list_equal(&a.m.items, &b.m.items));
  assert_false(ast_list_equal(&a.m.items, &c.m.items));
  assert_string_equal(ast_kind_name(AST_REPEAT), "REPEAT");
  assert_string_equal(ast_op_text(AST_OP_MATMUL), "@");
  assert_int_equal(ast_op_prec(AST_OP_POW), 7);
  assert_string_equal(ast_assign_op_text(AST_DIV_SET), "/=");
  done(&a);
  done(&b);
  done(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_minus_below_pow),
      cmocka_unit_test(test_pow_right_assoc),
      cmocka_unit_test(test_left_assoc_and_levels),
      cmocka_unit_test(test_postfix_and_calls),
      cmocka_unit_test(test_newlines_in_parens),
      cmocka_unit_test(test_items),
      cmocka_unit_test(test_statements),
      cmocka_unit_test(test_spans),
      cmocka_unit_test(test_error_messages),
      cmocka_unit_test(test_several_errors),
      cmocka_unit_test(test_lexer_errors_not_repeated),
      cmocka_unit_test(test_item_keyword_in_block),
      cmocka_unit_test(test_nesting_limits),
      cmocka_unit_test(test_junk_does_not_crash),
      cmocka_unit_test(test_ast_equal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

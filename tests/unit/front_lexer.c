/* front_lexer.c: the re2c lexer: tokens and their spans, numbers, strings,
 * comments, newline handling (collapsed, ignored inside ( ) [ ] and before
 * `else`), and lexical errors on hostile input (NUL bytes, binary junk,
 * 1 MB lines, unterminated strings) that must never crash or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "lexer.h"
#include "parser.h"

typedef struct Lexed {
  SrcMgr sm;
  AstModule m;
  DiagSink d;
  Str diags;
  Lexer lx;
} Lexed;

static void collect(void *user, const Diag *d) {
  str_printf(user, "%d:%d-%d: %s\n", d->span.line, d->span.col, d->span.end_col, d->message);
}

static Lexed *open_lexer(const char *src, size_t len) {
  Lexed *l = xcalloc(1, sizeof *l);
  srcmgr_init(&l->sm);
  int f = srcmgr_add(&l->sm, "t.opt", src, len);
  arena_init(&l->m.arena);
  diag_init(&l->d, &l->sm, collect, &l->diags);
  lexer_init(&l->lx, &l->m, &l->sm.files[f], f, &l->d);
  return l;
}

static void close_lexer(Lexed *l) {
  lexer_finish(&l->lx);
  ast_module_free(&l->m);
  srcmgr_free(&l->sm);
  str_free(&l->diags);
  free(l);
}

/* The kinds of every token until EOF (at most `max`). */
static int lex_all(Lexed *l, int *kinds, int max) {
  int n = 0;
  LexToken t;
  do {
    lexer_next(&l->lx, &t);
    if (n < max) kinds[n] = t.kind;
    n++;
  } while (t.kind != TOK_YYEOF);
  return n;
}

static void expect_kinds(const char *src, const int *want, int nwant) {
  Lexed *l = open_lexer(src, strlen(src));
  int got[64];
  int n = lex_all(l, got, 64);
  for (int i = 0; i < n && i < 64; i++) {
    if (i >= nwant || got[i] != want[i])
      fail_msg("%s: token %d is %d, want %d", src, i, got[i], i < nwant ? want[i] : -1);
  }
  assert_int_equal(n, nwant);
  assert_int_equal(l->d.nerrors, 0);
  close_lexer(l);
}

static void test_tokens_and_spans(void **state) {
  (void)state;
  Lexed *l = open_lexer("m = beta1 * m\n  x", 17);
  LexToken t;
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_NAME);
  assert_string_equal(t.text, "m");
  assert_int_equal(t.span.line, 1);
  assert_int_equal(t.span.col, 1);
  assert_int_equal(t.span.end_col, 2);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_ASSIGN);
  lexer_next(&l->lx, &t);
  assert_string_equal(t.text, "beta1");
  assert_int_equal(t.span.col, 5);
  assert_int_equal(t.span.end_col, 10);
  assert_int_equal(t.span.off, 4);
  assert_int_equal(t.span.end, 9);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_STAR);
  lexer_next(&l->lx, &t);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_NEWLINE);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_NAME);
  assert_int_equal(t.span.line, 2);
  assert_int_equal(t.span.col, 3);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_YYEOF);
  close_lexer(l);
}

static void test_keywords_and_punct(void **state) {
  (void)state;
  static const int want[] = {
      TOK_OPTIMIZER, TOK_IMPORT, TOK_DEF, TOK_HYPER, TOK_STATE, TOK_UPDATE, TOK_IF, TOK_EVERY,
      TOK_REPEAT, TOK_IN, TOK_GROUP, TOK_TENSOR, TOK_SCALAR, TOK_MATRIX, TOK_F32, TOK_F64,
      TOK_BF16, TOK_NAME, TOK_EQ, TOK_NE, TOK_LE, TOK_GE, TOK_LT, TOK_GT, TOK_ANDAND, TOK_OROR,
      TOK_ADD_SET, TOK_SUB_SET, TOK_MUL_SET, TOK_DIV_SET, TOK_PLUS, TOK_MINUS, TOK_STAR,
      TOK_SLASH, TOK_CARET, TOK_AT, TOK_BANG, TOK_ASSIGN, TOK_COMMA, TOK_DOT, TOK_COLON,
      TOK_SEMI, TOK_LBRACE, TOK_RBRACE, TOK_YYEOF};
  expect_kinds("optimizer import def hyper state update if every repeat in group tensor "
               "scalar matrix f32 f64 bf16 elsewhere == != <= >= < > && || += -= *= /= "
               "+ - * / ^ @ ! = , . : ; { }",
               want, (int)(sizeof want / sizeof want[0]));
}

static void test_newlines(void **state) {
  (void)state;
  /* leading and repeated newlines collapse; none inside ( ) or [ ] */
  static const int a[] = {TOK_NAME, TOK_NEWLINE, TOK_NAME, TOK_LPAREN, TOK_NAME, TOK_COMMA,
                          TOK_NAME, TOK_RPAREN, TOK_NEWLINE, TOK_LBRACKET, TOK_NUMBER,
                          TOK_RPAREN, TOK_YYEOF};
  expect_kinds("\n\n# c\nx\n\n\n f(\na,\n\nb\n)\n[1\n)", a, 13);
  /* the newline before `else` is dropped */
  static const int b[] = {TOK_RBRACE, TOK_ELSE,    TOK_LBRACE, TOK_NEWLINE,
                          TOK_RBRACE, TOK_NEWLINE, TOK_YYEOF};
  expect_kinds("}\n\n  # comment\nelse {\n}\n", b, 7);
  /* a '}' closes a '(' left open, so newlines count again */
  static const int c[] = {TOK_LBRACE, TOK_LPAREN, TOK_RBRACE, TOK_NEWLINE, TOK_NAME, TOK_YYEOF};
  expect_kinds("{(\n}\nx", c, 6);
}

static void test_numbers(void **state) {
  (void)state;
  static const char *texts[] = {"123", "1.5", ".5", "1e-8", "1.5E+3", "0"};
  static const double values[] = {123, 1.5, 0.5, 1e-8, 1500, 0};
  static const bool ints[] = {true, false, false, false, false, true};
  Lexed *l = open_lexer("123 1.5 .5 1e-8 1.5E+3 0", 24);
  for (int i = 0; i < 6; i++) {
    LexToken t;
    lexer_next(&l->lx, &t);
    assert_int_equal(t.kind, TOK_NUMBER);
    assert_string_equal(t.num->num.text, texts[i]);
    assert_true(t.num->num.value == values[i]);
    assert_int_equal(t.num->num.is_int, ints[i]);
  }
  close_lexer(l);
}

static void test_strings_and_comments(void **state) {
  (void)state;
  const char *src = "import \"a\\\"b\\\\c\\n\\td.opt\"  # trailing  \n  # own line\nx # t2";
  Lexed *l = open_lexer(src, strlen(src));
  LexToken t;
  lexer_next(&l->lx, &t);
  lexer_next(&l->lx, &t);
  assert_int_equal(t.kind, TOK_STRING);
  assert_string_equal(t.text, "a\"b\\c\n\td.opt");
  assert_int_equal(t.span.col, 8);
  int kinds[8];
  lex_all(l, kinds, 8);
  lexer_finish(&l->lx);
  assert_int_equal(l->m.ncomments, 3);
  assert_string_equal(l->m.comments[0].text, "# trailing");
  assert_false(l->m.comments[0].own_line);
  assert_string_equal(l->m.comments[1].text, "# own line");
  assert_true(l->m.comments[1].own_line);
  assert_int_equal(l->m.comments[1].span.line, 2);
  assert_int_equal(l->m.comments[1].span.col, 3);
  assert_false(l->m.comments[2].own_line);
  assert_int_equal(l->d.nerrors, 0);
  close_lexer(l);
}

static void expect_lex_errors(const char *src, size_t len, const char *want) {
  Lexed *l = open_lexer(src, len);
  int kinds[4];
  lex_all(l, kinds, 4);
  assert_string_equal(l->diags.data ? l->diags.data : "", want);
  close_lexer(l);
}

static void test_errors(void **state) {
  (void)state;
  expect_lex_errors("a $ b", 5, "1:3-4: invalid character '$'\n");
  expect_lex_errors("a \0 b", 5, "1:3-4: NUL byte in the source text\n");
  expect_lex_errors("x\xce\xb2 y", 5, "1:2-4: invalid character \\xCE (and 1 more invalid bytes)\n");
  expect_lex_errors("import \"abc\nx", 13,
                    "1:8-9: unterminated string: the closing '\"' is missing on this line\n");
  expect_lex_errors("\"a\\qb\"", 6,
                    "1:3-5: invalid escape '\\q' in string (use \\\" \\\\ \\n or \\t)\n");
  expect_lex_errors("x = 1e999", 9, "1:5-10: number '1e999' is too large (it overflows to infinity)\n");
  expect_lex_errors("x = 2e", 6, "1:5-7: malformed number '2e': the exponent needs digits (as in 1e-8)\n");
  expect_lex_errors("a & b | c", 9,
                    "1:3-4: invalid character '&' (logical and is '&&')\n"
                    "1:7-8: invalid character '|' (logical or is '||')\n");
  expect_lex_errors("# a \0 b\n", 8, "1:5-6: NUL byte in the source text\n");
  expect_lex_errors("\"ab", 3, "1:1-2: unterminated string: the closing '\"' is missing on this line\n");
}

static void test_hostile_input(void **state) {
  (void)state;
  enum { BIG = 1 << 20 };
  char *buf = xmalloc(BIG);
  for (int i = 0; i < BIG; i++) buf[i] = (char)((unsigned)i * 7919u % 251u);
  Lexed *l = open_lexer(buf, BIG);
  int kinds[4];
  lex_all(l, kinds, 4);
  assert_true(l->d.nerrors > 0);
  close_lexer(l);
  memset(buf, 'a', BIG); /* one 1 MB name */
  l = open_lexer(buf, BIG);
  assert_int_equal(lex_all(l, kinds, 4), 2);
  assert_int_equal(l->d.nerrors, 0);
  close_lexer(l);
  memset(buf, '(', BIG); /* stops at the nesting limit with one error */
  l = open_lexer(buf, BIG);
  assert_int_equal(lex_all(l, kinds, 4), 201);
  assert_string_equal(l->diags.data, "1:201-202: nesting is deeper than 200 levels\n");
  close_lexer(l);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokens_and_spans), cmocka_unit_test(test_keywords_and_punct),
      cmocka_unit_test(test_newlines),         cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_strings_and_comments), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_hostile_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

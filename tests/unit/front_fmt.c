/* front_fmt.c: the canonical printer: exact output for each style rule,
 * comment placement, minimal parentheses (random trees print and re-parse
 * to equal trees), and idempotence plus round trip over every .opt file
 * in stdlib/ and tests/golden/ that parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fmt.h"
#include "front.h"

typedef struct Doc {
  SrcMgr sm;
  AstModule m;
  int nerrors;
} Doc;

static void doc_parse(Doc *d, const char *src, size_t len) {
  srcmgr_init(&d->sm);
  int f = srcmgr_add(&d->sm, "t.opt", src, len);
  DiagSink sink;
  diag_init(&sink, &d->sm, NULL, NULL);
  d->nerrors = front_parse(&d->m, &d->sm, f, &sink);
}

static void doc_free(Doc *d) {
  ast_module_free(&d->m);
  srcmgr_free(&d->sm);
}

/* fmt(src) must parse to an equal tree and be a fixed point of fmt.
 * Returns the canonical text (caller frees). */
static char *check_round_trip(const char *name, const char *src, size_t len) {
  Doc a, b;
  doc_parse(&a, src, len);
  if (a.nerrors) fail_msg("%s: does not parse", name);
  Str out1 = {0}, out2 = {0};
  fmt_module(&out1, &a.m);
  doc_parse(&b, out1.data ? out1.data : "", out1.len);
  if (b.nerrors) fail_msg("%s: fmt output does not parse:\n%s", name, out1.data);
  if (!ast_list_equal(&a.m.items, &b.m.items)) fail_msg("%s: fmt changed the tree", name);
  fmt_module(&out2, &b.m);
  if (strcmp(out1.data ? out1.data : "", out2.data ? out2.data : "") != 0)
    fail_msg("%s: fmt is not idempotent:\n%s\n---\n%s", name, out1.data, out2.data);
  if (b.m.ncomments != a.m.ncomments) fail_msg("%s: comments lost", name);
  doc_free(&a);
  doc_free(&b);
  str_free(&out2);
  return str_take(&out1);
}

static void expect_fmt(const char *src, const char *want) {
  char *got = check_round_trip(src, src, strlen(src));
  assert_string_equal(got, want);
  free(got);
}

static void test_style(void **state) {
  (void)state;
  expect_fmt("optimizer  adamw\n\n\n\nhyper lr    = 1e-3\nhyper beta1=0.9   in [0,1)\n"
             "state L:matrix(rows,rows)=1e-6*I\nstate h:tensor bf16=0\nstate s : scalar=0\n"
             "import \"a\\\"b.opt\"\ndef ema(x,y,b)=b*x+(1-b)*y",
             "optimizer adamw\n\nhyper lr = 1e-3\nhyper beta1 = 0.9 in [0, 1)\n"
             "state L : matrix(rows, rows) = 1e-6 * I\nstate h : bf16 = 0\n"
             "state s : scalar = 0\nimport \"a\\\"b.opt\"\n"
             "def ema(x, y, b) = b * x + (1 - b) * y\n");
  expect_fmt("update{m=beta1*m+(1-beta1)*g;v=(v)+g^2\n\n\n  p-=lr*m/(sqrt(v)+eps)}",
             "update {\n  m = beta1 * m + (1 - beta1) * g\n  v = v + g^2\n\n"
             "  p -= lr * m / (sqrt(v) + eps)\n}\n");
  expect_fmt("update {\n  if t > 1 { p = 1 }\n  else if t>2 {p=2} else {\n\n  p = 3 }\n"
             "  every k { z = rademacher() }\n  repeat 5 { X = X @ X.T }\n"
             "  linesearch(d,wolfe)\n}\n",
             "update {\n  if t > 1 {\n    p = 1\n  } else if t > 2 {\n    p = 2\n  } else {\n"
             "    p = 3\n  }\n  every k {\n    z = rademacher()\n  }\n  repeat 5 {\n"
             "    X = X @ X.T\n  }\n  linesearch(d, wolfe)\n}\n");
  expect_fmt("update {}", "update {\n}\n");
  expect_fmt("", "");
}

static void test_parentheses(void **state) {
  (void)state;
  expect_fmt("def f(x) = -x^2 + (-x)^2 + 2^-1 + a^b^c + (a^b)^c + -(a*b) + --x\n",
             "def f(x) = -x^2 + (-x)^2 + 2^-1 + a^b^c + (a^b)^c + -(a * b) + --x\n");
  expect_fmt("def f(x) = a - (b - c) + (a - b) - c + a / (b * c) + (a < b) < c\n",
             "def f(x) = a - (b - c) + (a - b) - c + a / (b * c) + (a < b) < c\n");
  expect_fmt("def f(x) = (a || b) && !(c == d) || group.norm((g)).T + (x + 1).T @ y.T\n",
             "def f(x) = (a || b) && !(c == d) || group.norm(g).T + (x + 1).T @ y.T\n");
}

static void test_comments(void **state) {
  (void)state;
  expect_fmt("# header\n\n# about x\noptimizer x   # trailing\n"
             "update {   # opens\n    # own line\n  m = f(a,   # inside\n   b)\n"
             "  if t > 1 {\n  p = 1\n# end of then\n}\nelse {  # else side\n  p = 2\n  }  # closed\n"
             "     # last in block\n}\n\n\n# end of file\n",
             "# header\n\n# about x\noptimizer x  # trailing\n"
             "update {  # opens\n  # own line\n  m = f(a, b)  # inside\n"
             "  if t > 1 {\n    p = 1\n    # end of then\n  } else {  # else side\n    p = 2\n"
             "  }  # closed\n  # last in block\n}\n\n# end of file\n");
  expect_fmt("# only a comment", "# only a comment\n");
}

/* ---- random expression trees ------------------------------------------ */

typedef struct Rng {
  uint64_t s;
} Rng;

static int rnd(Rng *r, int n) {
  r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
  return (int)((r->s >> 33) % (uint64_t)n);
}

static AstNode *random_expr(AstModule *m, Rng *r, int depth) {
  static const AstOp binops[] = {AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV, AST_OP_MATMUL,
                                 AST_OP_POW, AST_OP_EQ,  AST_OP_LT,  AST_OP_AND, AST_OP_OR};
  static const AstOp unops[] = {AST_OP_NEG, AST_OP_NOT, AST_OP_PLUS};
  int k = depth <= 0 ? rnd(r, 2) : rnd(r, 6);
  AstNode *n;
  switch (k) {
  case 0:
    n = ast_new(m, AST_NUM, SPAN_NONE);
    n->num.text = rnd(r, 2) ? "2" : "1e-3";
    return n;
  case 1:
    n = ast_new(m, AST_NAME, SPAN_NONE);
    n->name.id = rnd(r, 2) ? "x" : "beta1";
    return n;
  case 2:
    n = ast_new(m, AST_UNARY, SPAN_NONE);
    n->unary.op = unops[rnd(r, 3)];
    n->unary.operand = random_expr(m, r, depth - 1);
    return n;
  case 3:
    n = ast_new(m, AST_TRANSPOSE, SPAN_NONE);
    n->unary.operand = random_expr(m, r, depth - 1);
    return n;
  case 4:
    n = ast_new(m, AST_CALL, SPAN_NONE);
    n->call.callee = "f";
    n->call.group = rnd(r, 2);
    ast_list_push(m, &n->call.args, random_expr(m, r, depth - 1));
    return n;
  default:
    n = ast_new(m, AST_BINARY, SPAN_NONE);
    n->binary.op = binops[rnd(r, 10)];
    n->binary.lhs = random_expr(m, r, depth - 1);
    n->binary.rhs = random_expr(m, r, depth - 1);
    return n;
  }
}

/* A comparison directly under a comparison would be a chain, which the
 * parser rejects; fmt always parenthesises it, so every tree is valid. */
static void test_random_trees_round_trip(void **state) {
  (void)state;
  Rng r = {12345};
  for (int i = 0; i < 3000; i++) {
    AstModule m = {0};
    arena_init(&m.arena);
    AstNode *e = random_expr(&m, &r, 6);
    Str src = {0};
    str_puts(&src, "def f(x) = ");
    fmt_expr(&src, e);
    str_putc(&src, '\n');
    Doc d;
    doc_parse(&d, src.data, src.len);
    if (d.nerrors) fail_msg("does not parse: %s", src.data);
    if (!ast_equal(d.m.items.items[0]->def.body, e)) fail_msg("tree changed: %s", src.data);
    doc_free(&d);
    str_free(&src);
    ast_module_free(&m);
  }
}

/* ---- every file in stdlib/ and tests/golden/ ---------------------------- */

static int check_tree(const char *dir, int *nparsed) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  int n = 0;
  struct dirent *ent;
  while ((ent = readdir(dp)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    Str path = {0};
    str_printf(&path, "%s/%s", dir, ent->d_name);
    struct stat st;
    if (stat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) {
      n += check_tree(path.data, nparsed);
    } else if (strlen(ent->d_name) > 4 && strcmp(ent->d_name + strlen(ent->d_name) - 4, ".opt") == 0) {
      char *text, *err;
      size_t len;
      if (util_read_file(path.data, 1 << 24, &text, &len, &err) == 0) {
        Doc d;
        doc_parse(&d, text, len);
        if (d.nerrors == 0) {
          free(check_round_trip(path.data, text, len));
          (*nparsed)++;
        }
        doc_free(&d);
        free(text);
        n++;
      } else {
        free(err);
      }
    }
    str_free(&path);
  }
  closedir(dp);
  return n;
}

static void test_repository_files(void **state) {
  (void)state;
  int parsed = 0;
  int n = check_tree(OPTC_SOURCE_DIR "/stdlib", &parsed);
  n += check_tree(OPTC_SOURCE_DIR "/tests/golden", &parsed);
  n += check_tree(OPTC_SOURCE_DIR "/examples", &parsed);
  assert_true(n >= parsed);
  print_message("fmt round trip over %d of %d .opt files\n", parsed, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_style),
      cmocka_unit_test(test_parentheses),
      cmocka_unit_test(test_comments),
      cmocka_unit_test(test_random_trees_round_trip),
      cmocka_unit_test(test_repository_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

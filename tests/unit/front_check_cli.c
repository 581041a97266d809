/* front_check_cli.c: `optc check` as a command: exit statuses, usage
 * errors, a missing file, --Werror, -I, several files.  Runs the built
 * optc (OPTC_BINARY_DIR/optc) on files in a mkdtemp directory. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static char dir[64];

typedef struct Run {
  int status;
  char *out, *err;
} Run;

static char *slurp(const char *path) {
  char *text = NULL, *e = NULL;
  size_t len;
  if (util_read_file(path, 1 << 20, &text, &len, &e) != 0) {
    free(e);
    return xstrdup("");
  }
  return text;
}

/* Runs `optc check ARGS` in `dir`. */
static Run run(const char *args) {
  Str cmd = {0};
  str_printf(&cmd, "cd %s && %s/optc check %s >out.txt 2>err.txt", dir, OPTC_BINARY_DIR, args);
  int st = system(cmd.data);
  str_free(&cmd);
  Run r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, NULL, NULL};
  Str p = {0};
  str_printf(&p, "%s/out.txt", dir);
  r.out = slurp(p.data);
  p.len = 0;
  str_printf(&p, "%s/err.txt", dir);
  r.err = slurp(p.data);
  str_free(&p);
  return r;
}

static void run_free(Run *r) {
  free(r->out);
  free(r->err);
}

static void write_file(const char *name, const char *text) {
  Str p = {0};
  str_printf(&p, "%s/%s", dir, name);
  FILE *f = fopen(p.data, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  str_free(&p);
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/optc_check");
  memset(dir + strlen(dir), 'X', 6); /* mkdtemp's template */
  dir[strlen("/tmp/optc_check") + 6] = '\0';
  if (!mkdtemp(dir)) return -1;
  Str p = {0};
  str_printf(&p, "%s/lib", dir);
  int rc = mkdir(p.data, 0755);
  str_free(&p);
  write_file("good.opt", "optimizer a\nupdate {\n  p -= 0.1 * g\n}\n");
  write_file("warn.opt", "optimizer a\nhyper lr = 1\nupdate {\n  p -= g\n}\n");
  write_file("bad.opt", "optimizer a\nupdate {\n  p -= gg\n}\n");
  write_file("imp.opt", "optimizer a\nimport \"half.opt\"\nupdate {\n  p -= half(g)\n}\n");
  write_file("lib/half.opt", "def half(x) = x / 2\n");
  return rc;
}

static int teardown(void **state) {
  (void)state;
  static const char *const FILES[] = {"good.opt", "warn.opt", "bad.opt", "imp.opt",
                                      "lib/half.opt", "out.txt", "err.txt"};
  Str p = {0};
  for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
    p.len = 0;
    str_printf(&p, "%s/%s", dir, FILES[i]);
    remove(p.data);
  }
  p.len = 0;
  str_printf(&p, "%s/lib", dir);
  rmdir(p.data);
  str_free(&p);
  rmdir(dir);
  return 0;
}

static void test_usage(void **state) {
  (void)state;
  Run r = run("");
  assert_int_equal(r.status, 2);
  assert_string_equal(r.err, "optc check: error: no input files\n(see 'optc check --help')\n");
  run_free(&r);
  r = run("--bogus good.opt");
  assert_int_equal(r.status, 2);
  assert_string_equal(r.err,
                      "optc check: error: unknown option '--bogus'\n(see 'optc check --help')\n");
  run_free(&r);
  r = run("good.opt -I");
  assert_int_equal(r.status, 2);
  run_free(&r);
  r = run("--help");
  assert_int_equal(r.status, 0);
  assert_memory_equal(r.out, "usage: optc check [--Werror] [-I DIR]... FILE...\n", 49);
  run_free(&r);
}

static void test_files(void **state) {
  (void)state;
  Run r = run("good.opt");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  assert_string_equal(r.out, "");
  run_free(&r);
  r = run("missing.opt");
  assert_int_equal(r.status, 1);
  assert_string_equal(r.err, "optc: error: cannot open 'missing.opt': No such file or directory\n");
  run_free(&r);
  r = run("bad.opt good.opt");
  assert_int_equal(r.status, 1);
  assert_string_equal(r.err, "bad.opt:3:8: error: unknown name 'gg'; did you mean 'g'?\n"
                             "    p -= gg\n"
                             "         ^~\n");
  run_free(&r);
}

static void test_warnings_and_imports(void **state) {
  (void)state;
  const char *warning = "warn.opt:2:7: warning: hyper 'lr' is never used\n"
                        "  hyper lr = 1\n"
                        "        ^~\n";
  Run r = run("warn.opt");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, warning);
  run_free(&r);
  r = run("--Werror warn.opt");
  assert_int_equal(r.status, 1);
  assert_string_equal(r.err, "warn.opt:2:7: error: hyper 'lr' is never used\n"
                             "  hyper lr = 1\n"
                             "        ^~\n");
  run_free(&r);
  r = run("imp.opt");
  assert_int_equal(r.status, 1);
  run_free(&r);
  r = run("-I lib imp.opt");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  run_free(&r);
  r = run("-Ilib imp.opt lib/half.opt");
  assert_int_equal(r.status, 0);
  run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_warnings_and_imports),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

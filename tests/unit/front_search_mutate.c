/* front_search_mutate.c: mutation and simplification of `optc search`.
 *
 * A property test over many seeds: every mutation of the stdlib programs
 * either yields text that sema accepts and that is canonical (fmt of it
 * gives it back) or a counted rejection.  Structure hashes equate renamed
 * locals, dead code and a+b versus b+a, and separate real changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "search_internal.h"

static char *load(const char *path) {
  char *text = NULL, *err = NULL;
  size_t len;
  if (util_read_file(path, 1 << 20, &text, &len, &err) != 0) {
    fail_msg("%s", err);
  }
  return text;
}

static void test_rng(void **state) {
  (void)state;
  SearchRng a, b;
  search_rng_seed(&a, 1234567);
  search_rng_seed(&b, 1234567);
  for (int i = 0; i < 100; i++) assert_true(search_rng_next(&a) == search_rng_next(&b));
  /* splitmix64 reference value for seed 0: the first output */
  SearchRng z;
  search_rng_seed(&z, 0);
  assert_true(search_rng_next(&z) == 0xe220a8397b1dcdafull);
  for (int i = 0; i < 1000; i++) {
    double u = search_rng_unit(&a);
    assert_true(u >= 0 && u < 1);
    int k = search_rng_below(&a, 7);
    assert_true(k >= 0 && k < 7);
  }
}

static void mutate_many(const char *file, int seeds, int *valid, int *rejected) {
  char *start = load(file);
  SearchMutateOptions o = {.anchor = file, .max_stmts = 20};
  char *parent = xstrdup(start);
  for (int s = 0; s < seeds; s++) {
    SearchRng rng;
    search_rng_seed(&rng, (uint64_t)s);
    char *child = NULL;
    SearchMutation kind;
    SearchReject r = search_mutate(parent, &o, &rng, &child, &kind);
    assert_true((unsigned)kind < SEARCH_MUT_COUNT || r == SEARCH_REJ_NOTHING);
    if (r != SEARCH_OK) {
      assert_null(child);
      ++*rejected;
      continue;
    }
    ++*valid;
    assert_true(search_count_stmts(file, child) >= 0);
    assert_true(search_count_stmts(file, child) <= 20);
    /* canonical: printing the child again changes nothing */
    SearchChecked c;
    assert_true(search_check(&c, file, child));
    char *again = search_print(&c);
    assert_string_equal(again, child);
    free(again);
    search_checked_free(&c);
    if (s % 3 == 0) { /* walk: the next parent is this child */
      free(parent);
      parent = child;
    } else {
      free(child);
    }
  }
  free(parent);
  free(start);
}

static void test_mutation_property(void **state) {
  (void)state;
  const char *files[] = {"stdlib/sgd.opt", "stdlib/adamw.opt", "stdlib/lion.opt", "stdlib/adagrad.opt"};
  for (int f = 0; f < 4; f++) {
    int valid = 0, rejected = 0;
    mutate_many(files[f], 150, &valid, &rejected);
    assert_int_equal(valid + rejected, 150);
    assert_true(valid > 40); /* most mutations type-check */
  }
}

static void test_mutation_deterministic(void **state) {
  (void)state;
  char *start = load("stdlib/adamw.opt");
  SearchMutateOptions o = {.anchor = "stdlib/adamw.opt", .max_stmts = 20};
  for (int s = 0; s < 20; s++) {
    SearchRng a, b;
    search_rng_seed(&a, (uint64_t)s);
    search_rng_seed(&b, (uint64_t)s);
    char *x = NULL, *y = NULL;
    SearchMutation kx, ky;
    assert_int_equal(search_mutate(start, &o, &a, &x, &kx), search_mutate(start, &o, &b, &y, &ky));
    assert_int_equal(kx, ky);
    if (x) assert_string_equal(x, y);
    free(x);
    free(y);
  }
  free(start);
}

static void test_bad_parent_rejected(void **state) {
  (void)state;
  SearchMutateOptions o = {.anchor = "x.opt", .max_stmts = 20};
  SearchRng rng;
  search_rng_seed(&rng, 1);
  char *child = (char *)"unchanged";
  SearchMutation kind;
  assert_int_equal(search_mutate("optimizer x\nupdate { p = q }\n", &o, &rng, &child, &kind), SEARCH_REJ_PARENT);
  assert_null(child);
  assert_int_equal(search_mutate("\x01junk", &o, &rng, &child, &kind), SEARCH_REJ_PARENT);
}

static void test_too_long_rejected(void **state) {
  (void)state;
  SearchMutateOptions o = {.anchor = "x.opt", .max_stmts = 1};
  const char *src = "optimizer x\nhyper lr = 0.1\nupdate {\n  p = p - lr * g\n}\n";
  int too_long = 0;
  for (int s = 0; s < 50; s++) {
    SearchRng rng;
    search_rng_seed(&rng, (uint64_t)s);
    char *child = NULL;
    SearchMutation kind;
    SearchReject r = search_mutate(src, &o, &rng, &child, &kind);
    too_long += r == SEARCH_REJ_TOO_LONG;
    if (child) assert_true(search_count_stmts("x.opt", child) <= 1);
    free(child);
  }
  assert_true(too_long > 0);
}

static uint64_t hash_of(const char *src, char **simple) {
  uint64_t h = 0;
  char *out = NULL;
  assert_int_equal(search_simplify("x.opt", src, &out, &h), 0);
  if (simple) *simple = out;
  else free(out);
  return h;
}

#define HEAD "optimizer x\nhyper lr = 0.1\nstate m = 0\n"

static void test_dedup_renamed(void **state) {
  (void)state;
  uint64_t a = hash_of(HEAD "update {\n  d = g * 2\n  m = 0.9 * m + d\n  p = p - lr * m\n}\n", NULL);
  uint64_t b = hash_of(HEAD "update {\n  step = g * 2\n  m = 0.9 * m + step\n  p = p - lr * m\n}\n", NULL);
  assert_true(a == b);
  /* renaming the optimizer does not matter either */
  uint64_t c = hash_of("optimizer y\nhyper lr = 0.1\nstate m = 0\n"
                       "update {\n  step = g * 2\n  m = 0.9 * m + step\n  p = p - lr * m\n}\n", NULL);
  assert_true(a == c);
}

static void test_dedup_commutative(void **state) {
  (void)state;
  uint64_t a = hash_of(HEAD "update {\n  m = 0.9 * m + g\n  p = p - lr * m\n}\n", NULL);
  uint64_t b = hash_of(HEAD "update {\n  m = g + m * 0.9\n  p = p - m * lr\n}\n", NULL);
  assert_true(a == b);
  uint64_t c = hash_of(HEAD "update {\n  m = 0.9 * m - g\n  p = p - lr * m\n}\n", NULL);
  assert_true(a != c); /* a - b is not b - a */
  uint64_t d = hash_of(HEAD "update {\n  m = g - 0.9 * m\n  p = p - lr * m\n}\n", NULL);
  assert_true(c != d);
  uint64_t e = hash_of(HEAD "update {\n  p = p - lr * max(m, g)\n}\n", NULL);
  uint64_t f = hash_of(HEAD "update {\n  p = p - lr * max(g, m)\n}\n", NULL);
  assert_true(e == f);
}

static void test_dedup_dead_code(void **state) {
  (void)state;
  char *simple = NULL;
  uint64_t a = hash_of(HEAD "update {\n  m = 0.9 * m + g\n  p = p - lr * m\n}\n", NULL);
  uint64_t b = hash_of(HEAD "update {\n  junk = sqrt(g)\n  more = junk * 2\n  m = 0.9 * m + g\n"
                            "  if t > 3 {\n    x = more\n  }\n  p = p - lr * m\n  y = p\n}\n",
                       &simple);
  assert_true(a == b);
  assert_non_null(simple);
  assert_string_equal(simple, HEAD "update {\n  m = 0.9 * m + g\n  p = p - lr * m\n}\n");
  free(simple);
  /* a local killed before it is read is dead; one read later is not */
  uint64_t c = hash_of(HEAD "update {\n  d = g\n  d = 2 * g\n  p = p - lr * d\n}\n", NULL);
  uint64_t e = hash_of(HEAD "update {\n  d = 2 * g\n  p = p - lr * d\n}\n", NULL);
  assert_true(c == e);
  uint64_t f = hash_of(HEAD "update {\n  d = g\n  d += 2 * g\n  p = p - lr * d\n}\n", NULL);
  assert_true(f != e);
}

static void test_dedup_constants_and_states(void **state) {
  (void)state;
  uint64_t a = hash_of(HEAD "update {\n  p = p - lr * g\n}\n", NULL);
  uint64_t b = hash_of("optimizer x\nhyper lr = 0.2\nstate m = 0\nupdate {\n  p = p - lr * g\n}\n", NULL);
  assert_true(a != b); /* hyper defaults count */
  uint64_t c = hash_of(HEAD "update {\n  p = p - lr * g * 0.5\n}\n", NULL);
  assert_true(a != c);
}

static void test_rename(void **state) {
  (void)state;
  char *r = search_rename("# c\noptimizer sgd\nupdate {\n}\n", "found_1");
  assert_string_equal(r, "# c\noptimizer found_1\nupdate {\n}\n");
  free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng),
      cmocka_unit_test(test_mutation_property),
      cmocka_unit_test(test_mutation_deterministic),
      cmocka_unit_test(test_bad_parent_rejected),
      cmocka_unit_test(test_too_long_rejected),
      cmocka_unit_test(test_dedup_renamed),
      cmocka_unit_test(test_dedup_commutative),
      cmocka_unit_test(test_dedup_dead_code),
      cmocka_unit_test(test_dedup_constants_and_states),
      cmocka_unit_test(test_rename),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

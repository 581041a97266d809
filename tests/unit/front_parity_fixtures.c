/* front_parity_fixtures.c: the parity fixture loader (support/parity.c)
 * and the committed fixtures themselves.
 *
 * SHA-256 against FIPS 180-4 vectors and hashlib-computed digests at the
 * padding boundaries; every committed fixture loads, names an existing
 * stdlib file, and describes the same problem (same shapes, same start);
 * corrupt, truncated and malformed fixtures are rejected with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parity.h"

#define FIXTURE_DIR OPTC_SOURCE_DIR "/tests/parity/fixtures"

static void expect_digest(const void *data, size_t len, const char *hex) {
  uint8_t d[32];
  char got[65];
  parity_sha256(data, len, d);
  parity_sha256_hex(d, got);
  assert_string_equal(got, hex);
}

static void test_sha256_vectors(void **state) {
  (void)state;
  expect_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  expect_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  expect_digest(two, strlen(two),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  assert_non_null(million);
  memset(million, 'a', 1000000);
  expect_digest(million, 1000000,
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
}

/* Lengths around the 55/56 and 64-byte padding boundaries (digests from
 * Python's hashlib over bytes (7 i + 3) mod 256). */
static void test_sha256_boundaries(void **state) {
  (void)state;
  static const struct { size_t n; const char *hex; } cases[] = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
  };
  uint8_t buf[128];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + 3);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    expect_digest(buf, cases[c].n, cases[c].hex);
}

static void test_close_measure(void **state) {
  (void)state;
  assert_true(parity_close(2.0 + 1.9e-6, 2.0));
  assert_false(parity_close(2.0 + 2.1e-6, 2.0));
  /* below the floor the tolerance is absolute, PARITY_REL * PARITY_FLOOR */
  assert_true(parity_close(1e-3 + 0.9e-6, 1e-3));
  assert_false(parity_close(1e-3 + 1.1e-6, 1e-3));
  assert_false(parity_close(0.0 / 0.0, 1.0));
}

static void load_all(void (*check)(const ParityFixture *fx, const ParityFixture *first)) {
  char **names = NULL;
  int count = parity_list(FIXTURE_DIR, &names);
  assert_true(count >= 67);
  ParityFixture first;
  char err[512], path[1024];
  for (int i = 0; i < count; i++) {
    ParityFixture fx;
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, names[i]);
    if (parity_load(path, i == 0 ? &first : &fx, err, sizeof err)) fail_msg("%s", err);
    check(i == 0 ? &first : &fx, &first);
    if (i) parity_free(&fx);
  }
  parity_free(&first);
  parity_list_free(names);
}

static void check_one(const ParityFixture *fx, const ParityFixture *first) {
  char path[1024];
  snprintf(path, sizeof path, "%s/stdlib/%s", OPTC_SOURCE_DIR, fx->rule);
  FILE *fp = fopen(path, "r");
  if (!fp) fail_msg("%s names missing %s", fx->setting, path);
  fclose(fp);
  assert_int_equal(fx->ntensors, 2);
  assert_int_equal(fx->tensors[0].rows, 3);
  assert_int_equal(fx->tensors[0].cols, 11);
  assert_int_equal(fx->tensors[1].rows, 19);
  assert_int_equal(fx->tensors[1].cols, 0);
  assert_int_equal(fx->n, 52);
  assert_int_equal(fx->steps, 100);
  assert_true(fx->nhypers >= 1);
  /* one problem, one start: the first gradient depends only on p0 */
  assert_memory_equal(fx->p0, first->p0, 52 * sizeof(float));
  assert_memory_equal(fx->g, first->g, 52 * sizeof(float));
  assert_true(fx->f[0] == first->f[0]);
}

static void test_every_fixture_loads(void **state) {
  (void)state;
  load_all(check_one);
}

/* Whether some fixture's header names `rule` (a stdlib file name). */
static int has_fixture(char **names, const char *rule) {
  char path[1024], err[512];
  for (char **n = names; *n; n++) {
    ParityFixture fx;
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, *n);
    if (parity_load(path, &fx, err, sizeof err)) fail_msg("%s", err);
    int same = !strcmp(fx.rule, rule);
    parity_free(&fx);
    if (same) return 1;
  }
  return 0;
}

/* Every first-order stdlib file (issue 5's list; second-order and matrix
 * rules are tested elsewhere) is pinned by at least one fixture. */
static void test_every_rule_has_a_fixture(void **state) {
  (void)state;
  static const char *const rules[] = {
      "sgd.opt", "momentum.opt", "clip.opt", "adagrad.opt", "rmsprop.opt", "adadelta.opt",
      "adam.opt", "adamw.opt", "adamw_clipped.opt", "amsgrad.opt", "adamax.opt", "nadam.opt",
      "radam.opt", "adabelief.opt", "lion.opt", "signsgd.opt", "lamb.opt", "lars.opt",
      "cautious_adamw.opt", "cautious_lion.opt", "fadam.opt", "polyak.opt"};
  char **names = NULL;
  assert_true(parity_list(FIXTURE_DIR, &names) > 0);
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
    if (!has_fixture(names, rules[i])) {
      parity_list_free(names);
      fail_msg("stdlib/%s has no parity fixture", rules[i]);
    }
  parity_list_free(names);
}

static uint8_t *fixture_bytes(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  uint8_t *buf = malloc(1 << 20);
  assert_non_null(buf);
  *len = fread(buf, 1, 1 << 20, fp);
  fclose(fp);
  return buf;
}

static void expect_error(const uint8_t *data, size_t len, const char *needle) {
  ParityFixture fx;
  char err[512] = "";
  assert_int_equal(parity_parse("x.fix", data, len, &fx, err, sizeof err), -1);
  if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
  parity_free(&fx);
}

static void test_corruption_detected(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = fixture_bytes("adam_default.fix", &len);
  buf[len - 100] ^= 1;
  expect_error(buf, len, "SHA-256 mismatch");
  buf[len - 100] ^= 1;
  expect_error(buf, len - 4, "payload has");
  ParityFixture fx;
  char err[256];
  assert_int_equal(parity_parse("x.fix", buf, len, &fx, err, sizeof err), 0);
  double lr = 0;
  assert_int_equal(parity_hyper(&fx, "lr", &lr), 0);
  assert_true(lr == 1e-3);
  assert_int_equal(parity_hyper(&fx, "nope", &lr), -1);
  parity_free(&fx);
  free(buf);
}

static void test_malformed_headers(void **state) {
  (void)state;
  const char *junk = "\x7f" "ELF";
  expect_error((const uint8_t *)junk, 4, "not a parity fixture");
  const char *noend = "optc-parity 1\nrule a.opt\n";
  expect_error((const uint8_t *)noend, strlen(noend), "no 'end' line");
  const char *badkey = "optc-parity 1\nwhat ever\nend\n";
  expect_error((const uint8_t *)badkey, strlen(badkey), "unknown header key");
  const char *badhyper = "optc-parity 1\nhyper lr=abc\nend\n";
  expect_error((const uint8_t *)badhyper, strlen(badhyper), "bad value");
  const char *noshape = "optc-parity 1\nrule a.opt\nsteps 1\n"
                        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                        "payload 0\nend\n";
  expect_error((const uint8_t *)noshape, strlen(noshape), "no tensor line");
  const char *shortpay = "optc-parity 1\nrule a.opt\nsteps 1\ntensor 2\n"
                         "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                         "payload 0\nend\n";
  expect_error((const uint8_t *)shortpay, strlen(shortpay), "need 28");
  ParityFixture fx;
  char err[128];
  assert_int_equal(parity_load("/nonexistent/x.fix", &fx, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot read"));
}

/* Whether byte i of a header lies in a line whose value is free text
 * (rule, setting, source) or a hyper's name=value. */
static int in_free_text(const uint8_t *buf, size_t i) {
  size_t start = i;
  while (start > 0 && buf[start - 1] != '\n') start--;
  static const char *const keys[] = {"rule ", "setting ", "source ", "hyper "};
  for (int k = 0; k < 4; k++) {
    size_t kl = strlen(keys[k]);
    if (!memcmp(buf + start, keys[k], kl) && i >= start + kl) return 1;
  }
  return 0;
}

/* Bad input is normal input: every truncation of a fixture and every
 * single-byte change of its header is rejected without a crash or leak. */
static void test_truncations_and_flips(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = fixture_bytes("sgd_plain.fix", &len);
  const uint8_t *end = (const uint8_t *)strstr((const char *)buf, "\nend\n");
  assert_non_null(end);
  size_t header = (size_t)(end - buf) + 5;
  ParityFixture fx;
  char err[256];
  for (size_t n = 0; n < len; n += n < header + 64 ? 1 : 997) {
    assert_int_equal(parity_parse("x.fix", buf, n, &fx, err, sizeof err), -1);
    parity_free(&fx);
  }
  for (size_t i = 0; i < header; i++) {
    uint8_t keep = buf[i];
    buf[i] = (uint8_t)(keep ^ 0x5a);
    int rc = parity_parse("x.fix", buf, len, &fx, err, sizeof err);
    parity_free(&fx);
    buf[i] = keep;
    /* a flip may only pass inside free text or a hyper value */
    if (rc == 0) assert_true(in_free_text(buf, i));
  }
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test(test_sha256_boundaries),
      cmocka_unit_test(test_close_measure),
      cmocka_unit_test(test_every_fixture_loads),
      cmocka_unit_test(test_every_rule_has_a_fixture),
      cmocka_unit_test(test_corruption_detected),
      cmocka_unit_test(test_malformed_headers),
      cmocka_unit_test(test_truncations_and_flips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

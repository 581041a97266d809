/* front_sha256.c: SHA-256 against the FIPS 180-4 / NIST example vectors,
 * fed whole and in uneven pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void check(const char *msg, size_t reps, const char *want) {
  Sha256 s;
  sha256_init(&s);
  for (size_t i = 0; i < reps; i++) sha256_update(&s, msg, strlen(msg));
  char hex[65];
  sha256_final_hex(&s, hex);
  assert_string_equal(hex, want);
}

static void test_vectors(void **state) {
  check("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  check("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  char hex[65];
  sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* every length 0..130 gives the same digest whole and byte by byte */
static void test_pieces(void **state) {
  unsigned char buf[130];
  for (int i = 0; i < 130; i++) buf[i] = (unsigned char)(i * 7 + 3);
  for (size_t n = 0; n <= sizeof buf; n++) {
    char whole[65], parts[65];
    sha256_hex(buf, n, whole);
    Sha256 s;
    sha256_init(&s);
    for (size_t i = 0; i < n; i++) sha256_update(&s, buf + i, 1);
    sha256_final_hex(&s, parts);
    assert_string_equal(whole, parts);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors), cmocka_unit_test(test_pieces)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

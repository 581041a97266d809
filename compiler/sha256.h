/* sha256.h: SHA-256 (FIPS 180-4), for source hashes and the
 * `params_sha256:` line of `optc run`.  Streaming: init, update any
 * number of times, final. */
#ifndef OPTC_SHA256_H
#define OPTC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct Sha256 {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char block[64];
  size_t used;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
/* Writes 64 lowercase hex digits and a NUL. */
void sha256_final_hex(Sha256 *s, char out[65]);
void sha256_hex(const void *data, size_t n, char out[65]);

#endif

/* rt_util.h: small helpers for the runtime tests (tests/unit/rt_*.c):
 * deterministic data, file bytes, and an optimizer builder over hand
 * kernels.  Header-only (static inline) so other tests need nothing. */
#ifndef RT_UTIL_H
#define RT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optrt.h"

/* A float in [-1, 1) from (seed, i): splitmix64, no state. */
static inline float rtu_val(uint64_t seed, uint64_t i) {
  uint64_t x = optk_mix64(seed * 0x9e3779b97f4a7c15ull + i + 1);
  return (float)((double)(x >> 40) / 8388608.0 - 1.0);
}

static inline void rtu_fill(float *x, int64_t n, uint64_t seed) {
  for (int64_t i = 0; i < n; i++) x[i] = rtu_val(seed, (uint64_t)i);
}

/* Whole file into a malloc'd buffer; NULL if unreadable. */
static inline unsigned char *rtu_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

static inline int rtu_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t k = fwrite(data, 1, len, f);
  fclose(f);
  return k == len ? 0 : -1;
}

/* A fresh temporary directory under /tmp (caller removes files it made). */
static inline void rtu_tmpdir(char *out, size_t cap, const char *tag) {
  int n = snprintf(out, cap, "/tmp/optrt_%s_", tag);
  if (n < 0 || (size_t)n + 7 > cap) {
    out[0] = '\0';
    return;
  }
  memset(out + n, 'X', 6); /* mkdtemp's template letters */
  out[n + 6] = '\0';
  if (!mkdtemp(out)) out[0] = '\0';
}

/* True when two files have the same bytes. */
static inline int rtu_same_file(const char *a, const char *b) {
  size_t la = 0, lb = 0;
  unsigned char *x = rtu_read(a, &la), *y = rtu_read(b, &lb);
  int same = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

#endif

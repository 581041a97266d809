/* parity.h: loader for the parity fixtures of tests/parity/fixtures/.
 *
 * A fixture is an ASCII header (`key value` lines up to `end`) followed by
 * a little-endian float32 payload whose SHA-256 the header carries; the
 * format is documented in tests/parity/README.md.  parity_load checks the
 * header, the payload size and the digest, and decodes the payload.  It
 * never prints; errors are returned as text in the caller's buffer.
 *
 * Dependency-free (libc only): this file is compiled into every unit test.
 */
#ifndef OPTC_TEST_PARITY_H
#define OPTC_TEST_PARITY_H

#include <stddef.h>
#include <stdint.h>

/* Limits of the format's header, generous for the stdlib's rules. */
#define PARITY_MAX_HYPERS 32  /* the widest stdlib rule has 7 */
#define PARITY_MAX_TENSORS 8  /* the fixtures have 2 */
#define PARITY_NAME_MAX 128   /* hyper, rule and setting names */

/* The comparison of parity_close: |a - b| <= PARITY_REL * max(|b|,
 * PARITY_FLOOR).  1e-6 relative is about 8 float32 ulps.  The floor is the
 * scale of the fixtures' parameters (|p| ~ 1 at the start, up to ~3): an
 * element that passes near zero carries the rounding of the O(1) values it
 * was computed from, not of its own small value, so its error is measured
 * against that scale. */
#define PARITY_REL 1e-6
#define PARITY_FLOOR 1.0
/* The same comparison for kernels compiled with optc's default fused
 * multiply-add (pass contract, docs/ir.md): the fixtures' frameworks
 * round every operation on its own, FMA rounds a*b + c once, and that
 * difference of up to half an ulp per fused update accumulates in p over
 * a fixture's 100 steps (see tests/parity/README.md). */
#define PARITY_REL_FUSED 1e-5

typedef struct ParityHyper {
  char name[PARITY_NAME_MAX];
  double value;
} ParityHyper;

typedef struct ParityTensor {
  int64_t rows, cols; /* cols == 0: a 1-D tensor of `rows` elements */
  int64_t size;       /* rows * max(cols, 1) */
  int64_t offset;     /* first element within the concatenated vector */
} ParityTensor;

typedef struct ParityFixture {
  char rule[PARITY_NAME_MAX];    /* stdlib file name, e.g. "adam.opt" */
  char setting[PARITY_NAME_MAX]; /* e.g. "adam_wd" */
  char source[256];              /* who produced it */
  ParityHyper hypers[PARITY_MAX_HYPERS];
  int nhypers;
  ParityTensor tensors[PARITY_MAX_TENSORS];
  int ntensors;
  int64_t n;  /* elements of all tensors together */
  int steps;
  uint8_t sha256[32];
  float *p0;  /* [n] initial parameters */
  float *f;   /* [steps] loss where step k's gradient was taken */
  float *g;   /* [steps * n] gradient of step k at g + k * n (k from 0) */
  float *p;   /* [steps * n] parameters after step k at p + k * n */
} ParityFixture;

/* Loads `path`.  Returns 0, or -1 with a message in err[errlen] (and *fx
 * empty).  Always release with parity_free. */
int parity_load(const char *path, ParityFixture *fx, char *err, size_t errlen);
/* Same from a buffer in memory (`name` is used in messages). */
int parity_parse(const char *name, const uint8_t *data, size_t len, ParityFixture *fx,
                 char *err, size_t errlen);
void parity_free(ParityFixture *fx);

/* Value of hyper `name`, or -1 when the fixture has none. */
int parity_hyper(const ParityFixture *fx, const char *name, double *value);

/* The comparison above: 1 when a is within tolerance of the reference b. */
int parity_close(double a, double b);

/* Names of the *.fix files in `dir`, sorted; NULL-terminated, malloc'd.
 * Returns the count, or -1.  Free with parity_list_free. */
int parity_list(const char *dir, char ***names);
void parity_list_free(char **names);

/* SHA-256 (FIPS 180-4) of len bytes; hex is 65 bytes (NUL-terminated). */
void parity_sha256(const void *data, size_t len, uint8_t out[32]);
void parity_sha256_hex(const uint8_t digest[32], char hex[65]);

#endif

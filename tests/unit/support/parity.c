/* parity.c: SHA-256 and the loader of the parity fixtures (see parity.h
 * and tests/parity/README.md).
 *
 * The header is parsed line by line; every malformed or missing field is
 * an error with a message, never a crash: fixtures are input like any
 * other.  The payload is decoded byte by byte from little-endian, so the
 * loader is independent of the host's byte order.
 */
#include "parity.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(uint32_t h[8], const uint8_t *b) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
           (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a[8];
  memcpy(a, h, sizeof a);
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = a[7] + (rotr(a[4], 6) ^ rotr(a[4], 11) ^ rotr(a[4], 25)) +
                  ((a[4] & a[5]) ^ (~a[4] & a[6])) + sha_k[i] + w[i];
    uint32_t t2 = (rotr(a[0], 2) ^ rotr(a[0], 13) ^ rotr(a[0], 22)) +
                  ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
    memmove(a + 1, a, 7 * sizeof a[0]);
    a[4] += t1;
    a[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++) h[i] += a[i];
}

void parity_sha256(const void *data, size_t len, uint8_t out[32]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const uint8_t *p = data;
  size_t full = len / 64;
  for (size_t i = 0; i < full; i++) sha_block(h, p + 64 * i);
  uint8_t tail[128] = {0};
  size_t rest = len - 64 * full;
  memcpy(tail, p + 64 * full, rest);
  tail[rest] = 0x80;
  size_t tlen = rest < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t off = 0; off < tlen; off += 64) sha_block(h, tail + off);
  for (int i = 0; i < 32; i++) out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

void parity_sha256_hex(const uint8_t digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}

/* ---- header ------------------------------------------------------------ */

typedef struct Parser {
  const char *name;
  char *err;
  size_t errlen;
  int64_t payload; /* declared payload bytes, -1 until seen */
  int have_sha, have_steps, have_rule;
} Parser;

static int fail(Parser *ps, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(ps->err, ps->errlen, "%s: ", ps->name);
  if (k >= 0 && (size_t)k < ps->errlen) vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
  va_end(ap);
  return -1;
}

static int copy_text(Parser *ps, char *dst, size_t cap, const char *src, const char *what) {
  size_t len = strlen(src);
  if (len == 0 || len >= cap) return fail(ps, "%s is empty or too long", what);
  memcpy(dst, src, len + 1);
  return 0;
}

/* Parses a whole decimal int64 >= lo from s. */
static int parse_int(const char *s, int64_t lo, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo) return -1;
  *out = v;
  return 0;
}

static int parse_hyper(Parser *ps, ParityFixture *fx, char *text) {
  char *eq = strchr(text, '=');
  if (!eq || eq == text) return fail(ps, "hyper line needs name=value");
  if (fx->nhypers == PARITY_MAX_HYPERS) return fail(ps, "more than %d hypers", PARITY_MAX_HYPERS);
  *eq = '\0';
  ParityHyper *h = &fx->hypers[fx->nhypers];
  if (copy_text(ps, h->name, sizeof h->name, text, "hyper name")) return -1;
  char *end;
  h->value = strtod(eq + 1, &end);
  if (end == eq + 1 || *end) return fail(ps, "hyper %s: bad value '%s'", text, eq + 1);
  fx->nhypers++;
  return 0;
}

static int parse_tensor(Parser *ps, ParityFixture *fx, char *text) {
  if (fx->ntensors == PARITY_MAX_TENSORS) return fail(ps, "more than %d tensors", PARITY_MAX_TENSORS);
  ParityTensor *t = &fx->tensors[fx->ntensors];
  char *second = strchr(text, ' ');
  if (second) *second++ = '\0';
  if (parse_int(text, 1, &t->rows) || (second && parse_int(second, 1, &t->cols)) ||
      t->rows > (1 << 24) || t->cols > (1 << 24))
    return fail(ps, "bad tensor shape");
  t->size = t->rows * (t->cols ? t->cols : 1);
  t->offset = fx->n;
  fx->n += t->size;
  fx->ntensors++;
  return 0;
}

static int parse_sha(Parser *ps, ParityFixture *fx, const char *hex) {
  if (strlen(hex) != 64) return fail(ps, "sha256 needs 64 hex digits");
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return fail(ps, "bad sha256 digit");
    fx->sha256[i] = (uint8_t)v;
  }
  ps->have_sha = 1;
  return 0;
}

/* One `key value` line (NUL-terminated, no newline). */
static int parse_line(Parser *ps, ParityFixture *fx, char *line) {
  char *val = strchr(line, ' ');
  if (!val) return fail(ps, "header line '%s' has no value", line);
  *val++ = '\0';
  int64_t v;
  if (!strcmp(line, "rule")) {
    ps->have_rule = 1;
    return copy_text(ps, fx->rule, sizeof fx->rule, val, "rule");
  }
  if (!strcmp(line, "setting")) return copy_text(ps, fx->setting, sizeof fx->setting, val, "setting");
  if (!strcmp(line, "source")) return copy_text(ps, fx->source, sizeof fx->source, val, "source");
  if (!strcmp(line, "hyper")) return parse_hyper(ps, fx, val);
  if (!strcmp(line, "tensor")) return parse_tensor(ps, fx, val);
  if (!strcmp(line, "sha256")) return parse_sha(ps, fx, val);
  if (!strcmp(line, "steps")) {
    if (parse_int(val, 1, &v) || v > 100000) return fail(ps, "bad steps");
    fx->steps = (int)v;
    ps->have_steps = 1;
    return 0;
  }
  if (!strcmp(line, "payload")) return parse_int(val, 0, &ps->payload) ? fail(ps, "bad payload") : 0;
  return fail(ps, "unknown header key '%s'", line);
}

/* Parses header lines from data; *used gets the bytes through `end\n`. */
static int parse_header(Parser *ps, ParityFixture *fx, const uint8_t *data, size_t len,
                        size_t *used) {
  static const char magic[] = "optc-parity 1\n";
  if (len < sizeof magic - 1 || memcmp(data, magic, sizeof magic - 1))
    return fail(ps, "not a parity fixture (no 'optc-parity 1' line)");
  size_t pos = sizeof magic - 1;
  char line[512];
  for (;;) {
    const uint8_t *nl = memchr(data + pos, '\n', len - pos);
    if (!nl) return fail(ps, "header has no 'end' line");
    size_t l = (size_t)(nl - (data + pos));
    if (l >= sizeof line || memchr(data + pos, '\0', l)) return fail(ps, "header line too long");
    memcpy(line, data + pos, l);
    line[l] = '\0';
    pos += l + 1;
    if (!strcmp(line, "end")) break;
    if (parse_line(ps, fx, line)) return -1;
  }
  *used = pos;
  return 0;
}

/* ---- payload ----------------------------------------------------------- */

static float le_float(const uint8_t *b) {
  uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static int decode_payload(Parser *ps, ParityFixture *fx, const uint8_t *b) {
  int64_t n = fx->n, s = fx->steps;
  fx->p0 = malloc((size_t)n * sizeof(float));
  fx->f = malloc((size_t)s * sizeof(float));
  fx->g = malloc((size_t)(s * n) * sizeof(float));
  fx->p = malloc((size_t)(s * n) * sizeof(float));
  if (!fx->p0 || !fx->f || !fx->g || !fx->p) return fail(ps, "out of memory");
  for (int64_t i = 0; i < n; i++, b += 4) fx->p0[i] = le_float(b);
  for (int64_t k = 0; k < s; k++) {
    fx->f[k] = le_float(b);
    b += 4;
    for (int64_t i = 0; i < n; i++, b += 4) fx->g[k * n + i] = le_float(b);
    for (int64_t i = 0; i < n; i++, b += 4) fx->p[k * n + i] = le_float(b);
  }
  return 0;
}

static int check_complete(Parser *ps, const ParityFixture *fx) {
  if (!ps->have_rule) return fail(ps, "no rule line");
  if (!ps->have_steps) return fail(ps, "no steps line");
  if (!ps->have_sha) return fail(ps, "no sha256 line");
  if (fx->ntensors == 0) return fail(ps, "no tensor line");
  if (ps->payload < 0) return fail(ps, "no payload line");
  int64_t want = 4 * (fx->n + (int64_t)fx->steps * (1 + 2 * fx->n));
  if (ps->payload != want)
    return fail(ps, "payload is %lld bytes, the shapes and steps need %lld",
                (long long)ps->payload, (long long)want);
  return 0;
}

int parity_parse(const char *name, const uint8_t *data, size_t len, ParityFixture *fx,
                 char *err, size_t errlen) {
  memset(fx, 0, sizeof *fx);
  Parser ps = {name, err, errlen, -1, 0, 0, 0};
  size_t used = 0;
  if (parse_header(&ps, fx, data, len, &used) || check_complete(&ps, fx)) return -1;
  if ((uint64_t)(len - used) != (uint64_t)ps.payload)
    return fail(&ps, "payload has %zu bytes, header says %lld", len - used, (long long)ps.payload);
  uint8_t digest[32];
  parity_sha256(data + used, len - used, digest);
  if (memcmp(digest, fx->sha256, 32)) return fail(&ps, "payload SHA-256 mismatch (corrupt fixture)");
  if (decode_payload(&ps, fx, data + used)) {
    parity_free(fx);
    return -1;
  }
  return 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  uint8_t *buf = NULL;
  long size = -1;
  if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
  if (size >= 0 && size <= (64L << 20) && fseek(fp, 0, SEEK_SET) == 0) {
    buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
      free(buf);
      buf = NULL;
    }
  }
  fclose(fp);
  *len = (size_t)size;
  return buf;
}

int parity_load(const char *path, ParityFixture *fx, char *err, size_t errlen) {
  memset(fx, 0, sizeof *fx);
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  if (!data) {
    snprintf(err, errlen, "%s: cannot read (missing, unreadable or over 64 MiB)", path);
    return -1;
  }
  int rc = parity_parse(path, data, len, fx, err, errlen);
  free(data);
  return rc;
}

void parity_free(ParityFixture *fx) {
  free(fx->p0);
  free(fx->f);
  free(fx->g);
  free(fx->p);
  memset(fx, 0, sizeof *fx);
}

int parity_hyper(const ParityFixture *fx, const char *name, double *value) {
  for (int i = 0; i < fx->nhypers; i++)
    if (!strcmp(fx->hypers[i].name, name)) {
      *value = fx->hypers[i].value;
      return 0;
    }
  return -1;
}

int parity_close(double a, double b) {
  double scale = fabs(b) > PARITY_FLOOR ? fabs(b) : PARITY_FLOOR;
  return fabs(a - b) <= PARITY_REL * scale;
}

/* ---- listing ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_fixture_name(const char *s) {
  size_t len = strlen(s);
  return len > 4 && !strcmp(s + len - 4, ".fix");
}

int parity_list(const char *dir, char ***names) {
  *names = NULL;
  DIR *d = opendir(dir);
  if (!d) return -1;
  int count = 0, cap = 0, rc = 0;
  char **v = NULL;
  for (struct dirent *e; (e = readdir(d)) != NULL && rc == 0;) {
    if (!is_fixture_name(e->d_name)) continue;
    if (count + 2 > cap) {
      cap = cap ? 2 * cap : 64;
      char **nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) rc = -1;
      else v = nv;
    }
    if (rc == 0 && (v[count] = strdup(e->d_name)) == NULL) rc = -1;
    if (rc == 0) v[++count] = NULL;
  }
  closedir(d);
  if (rc || !v) {
    if (v) v[count] = NULL;
    parity_list_free(v);
    return rc ? -1 : 0;
  }
  qsort(v, (size_t)count, sizeof *v, cmp_names);
  *names = v;
  return count;
}

void parity_list_free(char **names) {
  if (!names) return;
  for (char **p = names; *p; p++) free(*p);
  free(names);
}

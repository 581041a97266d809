/* util.c: arenas, growable strings, files, hashing.  See util.h. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void util_unreachable(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "optc: internal error at %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) unreachable_msg("out of memory (%zu bytes)", n);
  return p;
}

void *xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) unreachable_msg("out of memory (%zu x %zu bytes)", count, size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) unreachable_msg("out of memory (%zu bytes)", n);
  return q;
}

char *xstrndup(const char *s, size_t n) {
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* ---- arena ---------------------------------------------------------- */

/* 64 KiB chunks: a typical optimizer's AST and IR fit in one or two. */
enum { ARENA_CHUNK = 64 * 1024 };

struct ArenaChunk {
  ArenaChunk *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
};

void arena_init(Arena *a) {
  a->head = NULL;
  a->bytes = 0;
}

void arena_free(Arena *a) {
  ArenaChunk *c = a->head;
  while (c) {
    ArenaChunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->bytes = 0;
}

void *arena_alloc(Arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  ArenaChunk *c = a->head;
  if (!c || c->size - c->used < n) {
    size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    c = xmalloc(sizeof(ArenaChunk) + size);
    c->used = 0;
    c->size = size;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  a->bytes += n;
  memset(p, 0, n);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *d = arena_alloc(a, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
  Str s = {0};
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&s, fmt, ap);
  va_end(ap);
  char *r = arena_strndup(a, s.data ? s.data : "", s.len);
  str_free(&s);
  return r;
}

/* ---- strings -------------------------------------------------------- */

static void str_reserve(Str *s, size_t extra) {
  if (s->len + extra + 1 <= s->cap) return;
  size_t cap = s->cap ? s->cap : 64;
  while (cap < s->len + extra + 1) cap *= 2;
  s->data = xrealloc(s->data, cap);
  s->cap = cap;
}

void str_append(Str *s, const char *text, size_t n) {
  str_reserve(s, n);
  memcpy(s->data + s->len, text, n);
  s->len += n;
  s->data[s->len] = '\0';
}

void str_puts(Str *s, const char *text) { str_append(s, text, strlen(text)); }

void str_putc(Str *s, char c) { str_append(s, &c, 1); }

void str_vprintf(Str *s, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  str_reserve(s, (size_t)n);
  vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
  s->len += (size_t)n;
}

void str_printf(Str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(s, fmt, ap);
  va_end(ap);
}

char *str_take(Str *s) {
  char *d = s->data ? s->data : xstrdup("");
  s->data = NULL;
  s->len = s->cap = 0;
  return d;
}

void str_free(Str *s) {
  free(s->data);
  s->data = NULL;
  s->len = s->cap = 0;
}

void str_put_double(Str *s, double v) {
  if (isnan(v)) {
    str_puts(s, "nan");
    return;
  }
  if (isinf(v)) {
    str_puts(s, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  str_puts(s, buf);
}

/* ---- files ---------------------------------------------------------- */

int util_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                   char **err) {
  Str e = {0};
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    str_printf(&e, "cannot open '%s': %s", path, strerror(errno));
    *err = str_take(&e);
    return -1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    str_printf(&e, "'%s' is not a regular file", path);
    fclose(f);
    *err = str_take(&e);
    return -1;
  }
  Str buf = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (buf.len + n > max_bytes) {
      str_printf(&e, "'%s' is larger than %zu bytes", path, max_bytes);
      str_free(&buf);
      fclose(f);
      *err = str_take(&e);
      return -1;
    }
    str_append(&buf, chunk, n);
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    str_printf(&e, "error reading '%s'", path);
    str_free(&buf);
    *err = str_take(&e);
    return -1;
  }
  *len = buf.len;
  *out = str_take(&buf);
  return 0;
}

int util_write_file_atomic(const char *path, const void *data, size_t len,
                           char **err) {
  Str tmp = {0}, e = {0};
  str_printf(&tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp.data);
  if (fd < 0) {
    str_printf(&e, "cannot create a temporary file beside '%s': %s", path,
               strerror(errno));
    goto fail;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      str_printf(&e, "cannot write '%s': %s", path, strerror(errno));
      close(fd);
      unlink(tmp.data);
      goto fail;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    str_printf(&e, "cannot write '%s': %s", path, strerror(errno));
    unlink(tmp.data);
    goto fail;
  }
  struct stat st;
  if (stat(path, &st) == 0) chmod(tmp.data, st.st_mode & 07777);
  else chmod(tmp.data, 0644);
  if (rename(tmp.data, path) != 0) {
    str_printf(&e, "cannot replace '%s': %s", path, strerror(errno));
    unlink(tmp.data);
    goto fail;
  }
  str_free(&tmp);
  return 0;
fail:
  str_free(&tmp);
  *err = str_take(&e);
  return -1;
}

/* ---- hashing -------------------------------------------------------- */

uint64_t util_hash_bytes(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t util_hash_mix(uint64_t h, uint64_t v) {
  uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

int util_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  /* Names longer than this are never suggested: no real name is. */
  if (la > 64 || lb > 64) return 1 << 20;
  int row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int prev = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cur = row[j];
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int best = prev + cost;
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      prev = cur;
    }
  }
  return row[lb];
}

double util_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

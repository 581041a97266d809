/* util.h: language-neutral helpers shared by every phase of optc.
 *
 * Arenas own the AST and IR: everything a compilation allocates is freed at
 * once with arena_free().  Growable arrays (VEC_*) and string buffers (Str)
 * use the heap through xmalloc/xrealloc, which call unreachable() only when
 * the allocator itself fails (there is nothing sane left to do then).
 * Nothing here knows about optimizers.
 */
#ifndef OPTC_UTIL_H
#define OPTC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define OPTC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define OPTC_NORETURN __attribute__((noreturn))
#else
#define OPTC_PRINTF(a, b)
#define OPTC_NORETURN
#endif

/* Internal bugs only: prints "optc: internal error at file:line: msg" and
 * aborts.  Never used for anything a user's input can cause. */
#define unreachable_msg(...) util_unreachable(__FILE__, __LINE__, __VA_ARGS__)
OPTC_NORETURN void util_unreachable(const char *file, int line, const char *fmt,
                                    ...) OPTC_PRINTF(3, 4);

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* ---- arena ---------------------------------------------------------- */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
  ArenaChunk *head;
  size_t bytes; /* total handed out, for tests and stats */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n);          /* zeroed, 16-byte aligned */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) OPTC_PRINTF(2, 3);
#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_NEW_N(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

/* ---- growable arrays (heap) ------------------------------------------ */
/* A struct with fields `T *data; int len, cap;`.  Example:
 *   typedef struct { int *data; int len, cap; } IntVec;
 *   VEC_PUSH(&v, 42); ... VEC_FREE(&v);                                  */
#define VEC_PUSH(v, x)                                                       \
  do {                                                                       \
    if ((v)->len == (v)->cap) {                                              \
      (v)->cap = (v)->cap ? 2 * (v)->cap : 8;                                \
      (v)->data = xrealloc((v)->data, sizeof(*(v)->data) * (size_t)(v)->cap); \
    }                                                                        \
    (v)->data[(v)->len++] = (x);                                             \
  } while (0)
#define VEC_FREE(v)                                                          \
  do {                                                                       \
    free((v)->data);                                                         \
    (v)->data = NULL;                                                        \
    (v)->len = (v)->cap = 0;                                                 \
  } while (0)

/* ---- string buffer --------------------------------------------------- */
typedef struct Str {
  char *data; /* always NUL-terminated once anything was appended */
  size_t len, cap;
} Str;

void str_append(Str *s, const char *text, size_t n);
void str_puts(Str *s, const char *text);
void str_putc(Str *s, char c);
void str_printf(Str *s, const char *fmt, ...) OPTC_PRINTF(2, 3);
void str_vprintf(Str *s, const char *fmt, va_list ap);
char *str_take(Str *s); /* returns data ("" if empty), resets s; caller frees */
void str_free(Str *s);

/* Shortest decimal text that reads back as exactly `v` ("0.9", "1e-08"). */
void str_put_double(Str *s, double v);

/* ---- files ------------------------------------------------------------ */
/* Reads a whole regular file.  Returns 0 on success; otherwise -1 with a
 * message in *err (caller frees).  Refuses directories and files over
 * max_bytes. */
int util_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                   char **err);
/* Writes atomically: temporary file in the same directory, fsync, rename.
 * On failure nothing at `path` changes; returns -1 with *err set. */
int util_write_file_atomic(const char *path, const void *data, size_t len,
                           char **err);

/* ---- hashing ---------------------------------------------------------- */
uint64_t util_hash_bytes(const void *data, size_t n, uint64_t seed); /* FNV-1a 64 */
uint64_t util_hash_mix(uint64_t h, uint64_t v);

/* Edit distance for "did you mean" suggestions. */
int util_edit_distance(const char *a, const char *b);

/* Monotonic clock in milliseconds. */
double util_now_ms(void);

#endif

/* diag.h: source files, spans and diagnostics.
 *
 * Every token, AST node and IR value carries a Span into a file held by a
 * SrcMgr.  Phases report through a DiagSink owned by the caller: the CLI
 * prints `file:line:col: error: message`, the source line and a caret; a
 * JIT host receives the same records as data.  No phase prints or exits on
 * its own.  Compilation goes on after an error to find more, up to the
 * sink's limit (then one "too many errors" note and silence).
 */
#ifndef OPTC_DIAG_H
#define OPTC_DIAG_H

#include <stdio.h>

#include "util.h"

/* Lines and columns count from 1; columns count bytes.  `off`/`end` are
 * byte offsets into the file's text, [off, end). */
typedef struct Span {
  int file; /* index into SrcMgr.files; -1 for "no location" */
  int line, col;
  int end_line, end_col; /* position just past the span */
  int off, end;
} Span;

extern const Span SPAN_NONE;

typedef struct SrcFile {
  char *path;     /* as given (or "<input>" for text without a file) */
  char *text;     /* NUL-terminated copy; may hold NUL bytes before len */
  size_t len;
  int imported_from; /* file index of the importer, or -1 */
  Span import_span;  /* where it was imported */
} SrcFile;

typedef struct SrcMgr {
  SrcFile *files;
  int nfiles, cap;
} SrcMgr;

void srcmgr_init(SrcMgr *sm);
void srcmgr_free(SrcMgr *sm);
/* Takes a copy of text.  Returns the file index. */
int srcmgr_add(SrcMgr *sm, const char *path, const char *text, size_t len);
/* Reads a file from disk and adds it; -1 and *err on failure. Files over
 * SRC_MAX_BYTES are refused (no optimizer is anywhere near that size; it
 * keeps junk input from exhausting memory). */
enum { SRC_MAX_BYTES = 16 * 1024 * 1024 };
int srcmgr_load(SrcMgr *sm, const char *path, char **err);
/* The text of line `line` of `file` (without newline), its length in *len. */
const char *srcmgr_line(const SrcMgr *sm, int file, int line, size_t *len);

typedef enum DiagSeverity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagSeverity;

typedef struct Diag {
  DiagSeverity severity;
  Span span;
  const char *message; /* valid during the callback only */
} Diag;

typedef void (*DiagFn)(void *user, const Diag *d);

/* Default limit on errors reported in one run: past it, the rest are noise
 * caused by the first ones. */
enum { DIAG_DEFAULT_MAX_ERRORS = 50 };

typedef struct DiagSink {
  SrcMgr *sm;
  DiagFn fn; /* NULL: diagnostics are only counted */
  void *user;
  int nerrors, nwarnings;
  int max_errors;
  int suppressed; /* errors dropped past max_errors */
  bool warnings_as_errors;
} DiagSink;

void diag_init(DiagSink *d, SrcMgr *sm, DiagFn fn, void *user);
void diag_error(DiagSink *d, Span at, const char *fmt, ...) OPTC_PRINTF(3, 4);
void diag_warning(DiagSink *d, Span at, const char *fmt, ...) OPTC_PRINTF(3, 4);
void diag_note(DiagSink *d, Span at, const char *fmt, ...) OPTC_PRINTF(3, 4);
void diag_report(DiagSink *d, DiagSeverity sev, Span at, const char *fmt,
                 va_list ap);

/* Formats one diagnostic as the CLI prints it:
 *   file:line:col: error: message
 *     m = beta1 * m + (1 - beta) * g
 *                          ^~~~
 * (no caret block for SPAN_NONE).  Appends to out. */
void diag_format(Str *out, const SrcMgr *sm, const Diag *d);
/* A DiagFn that prints diag_format() output; `user` is a DiagPrinter. */
typedef struct DiagPrinter {
  FILE *out;
  const SrcMgr *sm;
} DiagPrinter;
void diag_print_fn(void *user, const Diag *d);

Span span_join(Span a, Span b);

#endif

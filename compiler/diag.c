/* diag.c: source manager and diagnostic sink.  See diag.h. */
#include "diag.h"

#include <string.h>

const Span SPAN_NONE = {-1, 0, 0, 0, 0, 0, 0};

void srcmgr_init(SrcMgr *sm) {
  sm->files = NULL;
  sm->nfiles = sm->cap = 0;
}

void srcmgr_free(SrcMgr *sm) {
  for (int i = 0; i < sm->nfiles; i++) {
    free(sm->files[i].path);
    free(sm->files[i].text);
  }
  free(sm->files);
  srcmgr_init(sm);
}

int srcmgr_add(SrcMgr *sm, const char *path, const char *text, size_t len) {
  if (sm->nfiles == sm->cap) {
    sm->cap = sm->cap ? 2 * sm->cap : 4;
    sm->files = xrealloc(sm->files, sizeof(SrcFile) * (size_t)sm->cap);
  }
  SrcFile *f = &sm->files[sm->nfiles];
  f->path = xstrdup(path);
  f->text = xstrndup(text, len);
  f->len = len;
  f->imported_from = -1;
  f->import_span = SPAN_NONE;
  return sm->nfiles++;
}

int srcmgr_load(SrcMgr *sm, const char *path, char **err) {
  char *text;
  size_t len;
  if (util_read_file(path, SRC_MAX_BYTES, &text, &len, err) != 0) return -1;
  int id = srcmgr_add(sm, path, text, len);
  free(text);
  return id;
}

const char *srcmgr_line(const SrcMgr *sm, int file, int line, size_t *len) {
  *len = 0;
  if (file < 0 || file >= sm->nfiles || line < 1) return "";
  const SrcFile *f = &sm->files[file];
  const char *p = f->text, *end = f->text + f->len;
  for (int l = 1; l < line && p < end; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return "";
    p = nl + 1;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *stop = nl ? nl : end;
  if (stop > p && stop[-1] == '\r') stop--;
  *len = (size_t)(stop - p);
  return p;
}

void diag_init(DiagSink *d, SrcMgr *sm, DiagFn fn, void *user) {
  memset(d, 0, sizeof *d);
  d->sm = sm;
  d->fn = fn;
  d->user = user;
  d->max_errors = DIAG_DEFAULT_MAX_ERRORS;
}

void diag_report(DiagSink *d, DiagSeverity sev, Span at, const char *fmt,
                 va_list ap) {
  if (sev == DIAG_WARNING && d->warnings_as_errors) sev = DIAG_ERROR;
  if (sev == DIAG_ERROR) {
    if (d->max_errors > 0 && d->nerrors >= d->max_errors) {
      d->suppressed++;
      d->nerrors++;
      return;
    }
    d->nerrors++;
  } else if (sev == DIAG_WARNING) {
    d->nwarnings++;
  } else if (d->max_errors > 0 && d->nerrors > d->max_errors) {
    return; /* notes of suppressed errors */
  }
  if (!d->fn) return;
  Str msg = {0};
  str_vprintf(&msg, fmt, ap);
  Diag diag = {sev, at, msg.data ? msg.data : ""};
  d->fn(d->user, &diag);
  str_free(&msg);
}

#define DIAG_VA(sev)                   \
  va_list ap;                          \
  va_start(ap, fmt);                   \
  diag_report(d, sev, at, fmt, ap);    \
  va_end(ap)

void diag_error(DiagSink *d, Span at, const char *fmt, ...) { DIAG_VA(DIAG_ERROR); }
void diag_warning(DiagSink *d, Span at, const char *fmt, ...) { DIAG_VA(DIAG_WARNING); }
void diag_note(DiagSink *d, Span at, const char *fmt, ...) { DIAG_VA(DIAG_NOTE); }

static const char *severity_name(DiagSeverity s) {
  switch (s) {
  case DIAG_ERROR: return "error";
  case DIAG_WARNING: return "warning";
  case DIAG_NOTE: return "note";
  }
  return "error";
}

/* Source lines are shown up to this many bytes: enough for any real line,
 * and a 1 MB line of junk does not flood the terminal. */
enum { DIAG_MAX_SHOWN = 200 };

static void put_source_line(Str *out, const char *line, size_t n) {
  str_puts(out, "  ");
  for (size_t i = 0; i < n && i < DIAG_MAX_SHOWN; i++) {
    unsigned char c = (unsigned char)line[i];
    str_putc(out, c == '\t' ? ' ' : (c < 32 || c == 127) ? '?' : (char)c);
  }
  if (n > DIAG_MAX_SHOWN) str_puts(out, "...");
  str_putc(out, '\n');
}

static void put_caret(Str *out, const Span *s, size_t linelen) {
  int col = s->col < 1 ? 1 : s->col;
  int width = 1;
  if (s->end_line == s->line && s->end_col > s->col) width = s->end_col - s->col;
  if ((size_t)col > linelen + 1) col = (int)linelen + 1;
  if (col > DIAG_MAX_SHOWN + 1) return;
  if (col - 1 + width > DIAG_MAX_SHOWN) width = DIAG_MAX_SHOWN - col + 1;
  if (width < 1) width = 1;
  str_puts(out, "  ");
  for (int i = 1; i < col; i++) str_putc(out, ' ');
  str_putc(out, '^');
  for (int i = 1; i < width; i++) str_putc(out, '~');
  str_putc(out, '\n');
}

void diag_format(Str *out, const SrcMgr *sm, const Diag *d) {
  const Span *s = &d->span;
  if (s->file >= 0 && sm && s->file < sm->nfiles) {
    str_printf(out, "%s:%d:%d: %s: %s\n", sm->files[s->file].path, s->line,
               s->col, severity_name(d->severity), d->message);
    size_t n;
    const char *line = srcmgr_line(sm, s->file, s->line, &n);
    put_source_line(out, line, n);
    put_caret(out, s, n);
  } else {
    str_printf(out, "optc: %s: %s\n", severity_name(d->severity), d->message);
  }
}

void diag_print_fn(void *user, const Diag *d) {
  DiagPrinter *p = user;
  Str s = {0};
  diag_format(&s, p->sm, d);
  fputs(s.data, p->out);
  str_free(&s);
}

Span span_join(Span a, Span b) {
  if (a.file < 0) return b;
  if (b.file < 0) return a;
  Span r = a;
  if (b.end > a.end) {
    r.end = b.end;
    r.end_line = b.end_line;
    r.end_col = b.end_col;
  }
  return r;
}

/* lexer.re: the re2c lexer of .opt files (see lexer.h for its interface).
 *
 * re2c runs in its bounds-checked mode (re2c:eof = 0): the text is
 * NUL-terminated at `len` and a NUL byte before that is ordinary input
 * (reported as an error and skipped), so no input can read out of bounds.
 * Tokens never span lines; the raw scanner returns one NEWLINE per '\n'
 * outside ( ) and [ ], and lexer_next() collapses them and drops the one
 * before `else`.  Brackets are tracked on a stack for the nesting limit and
 * for the parser's "to close the block opened at line N" messages; a
 * closing brace also closes any ( or [ left open inside its block, so a
 * missing ')' does not swallow the newlines of the rest of the file.
 */
#include "lexer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "parser.h"

static Span lex_span(const Lexer *lx, const char *from, const char *to) {
  Span s;
  s.file = lx->file;
  s.line = s.end_line = lx->line;
  s.col = (int)(from - lx->line_start) + 1;
  s.end_col = (int)(to - lx->line_start) + 1;
  s.off = (int)(from - lx->text);
  s.end = (int)(to - lx->text);
  return s;
}

static void lex_error(Lexer *lx, Span at, const char *fmt, const char *arg) {
  diag_error(lx->diags, at, fmt, arg);
  lx->error_line = at.line;
}

static bool is_invalid_byte(unsigned char c) {
  if (c >= 0x80 || c == 0x7f) return true;
  if (c < 0x20) return c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v';
  return strchr("$%'?\\`~", c) != NULL;
}

/* One error for a run of invalid bytes (binary junk gives one line of
 * diagnostics, not thousands). */
static void lex_invalid(Lexer *lx) {
  const char *p = lx->tok;
  unsigned char c = (unsigned char)*p;
  while (lx->cur < lx->lim && is_invalid_byte((unsigned char)*lx->cur)) lx->cur++;
  Span at = lex_span(lx, p, lx->cur);
  char shown[40];
  if (c == '\0') snprintf(shown, sizeof shown, "NUL byte in the source text");
  else if (c >= 0x20 && c < 0x7f) snprintf(shown, sizeof shown, "invalid character '%c'", c);
  else snprintf(shown, sizeof shown, "invalid character \\x%02X", c);
  if (lx->cur - p > 1) {
    Str msg = {0};
    str_printf(&msg, "%s (and %d more invalid bytes)", shown, (int)(lx->cur - p - 1));
    lex_error(lx, at, "%s", msg.data);
    str_free(&msg);
  } else {
    lex_error(lx, at, "%s", shown);
  }
}

static void lex_comment(Lexer *lx) {
  const char *p = lx->tok;
  bool own_line = true;
  for (const char *q = lx->line_start; q < p; q++)
    if (*q != ' ' && *q != '\t' && *q != '\r') own_line = false;
  size_t n = (size_t)(lx->cur - p);
  while (n > 1 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  if (memchr(p, '\0', n)) {
    const char *z = memchr(p, '\0', n);
    lex_error(lx, lex_span(lx, z, z + 1), "%s", "NUL byte in the source text");
    n = (size_t)(z - p);
  }
  AstComment c = {lex_span(lx, p, p + n), arena_strndup(&lx->m->arena, p, n), own_line};
  VEC_PUSH(&lx->comments, c);
}

/* A string literal, after its opening quote: decodes \" \\ \n \t; stops at
 * the closing quote, a newline or the end of the text. */
static void lex_string(Lexer *lx, LexToken *t) {
  Str s = {0};
  const char *p = lx->cur;
  bool closed = false;
  while (p < lx->lim && *p != '\n') {
    if (*p == '"') {
      closed = true;
      p++;
      break;
    }
    if (*p == '\0') {
      lex_error(lx, lex_span(lx, p, p + 1), "%s", "NUL byte in the source text");
    } else if (*p == '\\' && p + 1 < lx->lim && strchr("\"\\nt", p[1]) && p[1]) {
      char e = p[1];
      str_putc(&s, e == 'n' ? '\n' : e == 't' ? '\t' : e);
      p += 2;
      continue;
    } else if (*p == '\\') {
      char bad[3] = {'\\', p + 1 < lx->lim && p[1] != '\n' ? p[1] : ' ', 0};
      if (bad[1] == '\0' || (unsigned char)bad[1] >= 0x80 || bad[1] < 0x20) bad[1] = '?';
      lex_error(lx, lex_span(lx, p, p + 2), "invalid escape '%s' in string (use \\\" \\\\ \\n or \\t)",
                bad);
    } else {
      str_putc(&s, *p);
    }
    p++;
  }
  lx->cur = p;
  if (!closed)
    lex_error(lx, lex_span(lx, lx->tok, lx->tok + 1), "%s",
              "unterminated string: the closing '\"' is missing on this line");
  t->text = arena_strndup(&lx->m->arena, s.data ? s.data : "", s.len);
  str_free(&s);
}

static void lex_number(Lexer *lx, LexToken *t) {
  size_t n = (size_t)(lx->cur - lx->tok);
  AstNode *num = ast_new(lx->m, AST_NUM, t->span);
  num->num.text = arena_strndup(&lx->m->arena, lx->tok, n);
  num->num.value = strtod(num->num.text, NULL);
  num->num.is_int = strpbrk(num->num.text, ".eE") == NULL;
  if (isinf(num->num.value))
    lex_error(lx, t->span, "number '%s' is too large (it overflows to infinity)", num->num.text);
  t->num = num;
}

/* Opening bracket: pushes it, or stops the lexer past the nesting limit. */
static bool lex_open(Lexer *lx, char c, Span at) {
  if (lx->nopen == FRONT_MAX_DEPTH) {
    diag_error(lx->diags, at, "nesting is deeper than %d levels", FRONT_MAX_DEPTH);
    lx->error_line = at.line;
    lx->stopped = lx->too_deep = true;
    return false;
  }
  lx->open[lx->nopen].c = c;
  lx->open[lx->nopen].at = at;
  lx->nopen++;
  return true;
}

static void lex_close(Lexer *lx, char c) {
  if (c == '}') {
    int i = lx->nopen - 1;
    while (i >= 0 && lx->open[i].c != '{') i--;
    if (i >= 0) lx->nopen = i;
  } else if (lx->nopen > 0 && lx->open[lx->nopen - 1].c != '{') {
    lx->nopen--;
  }
}

static bool in_group(const Lexer *lx) {
  return lx->nopen > 0 && lx->open[lx->nopen - 1].c != '{';
}

static void lex_snapshot(const Lexer *lx, LexToken *t) {
  memset(&t->inner, 0, sizeof t->inner);
  memset(&t->brace, 0, sizeof t->brace);
  if (lx->nopen > 0) t->inner = lx->open[lx->nopen - 1];
  for (int i = lx->nopen - 1; i >= 0; i--)
    if (lx->open[i].c == '{') {
      t->brace = lx->open[i];
      break;
    }
}

/* The end of the text: placed at the last newline when the file ends with
 * one, so that "saw end of file" points at the last line. */
static int lex_eof(Lexer *lx, LexToken *t) {
  const char *at = lx->lim;
  if (at > lx->text && at[-1] == '\n' && lx->line > 1) {
    at--;
    const char *ls = at;
    while (ls > lx->text && ls[-1] != '\n') ls--;
    t->span.file = lx->file;
    t->span.line = t->span.end_line = lx->line - 1;
    t->span.col = (int)(at - ls) + 1;
    t->span.end_col = t->span.col + 1;
    t->span.off = t->span.end = (int)(at - lx->text);
  } else {
    t->span = lex_span(lx, at, at);
  }
  lx->cur = lx->lim;
  lx->stopped = true;
  return TOK_YYEOF;
}

static int lex_punct(Lexer *lx, LexToken *t, int kind) {
  char c = *lx->tok;
  if (c == '(' || c == '[' || c == '{') {
    if (!lex_open(lx, c, t->span)) return lex_eof(lx, t);
  } else if (c == ')' || c == ']' || c == '}') {
    lex_close(lx, c);
  }
  return kind;
}

static int lex_raw(Lexer *lx, LexToken *t) {
  if (lx->stopped) return lex_eof(lx, t);
  for (;;) {
    lx->tok = lx->cur;
    lex_snapshot(lx, t);
#define TOKEN(k) \
  do { t->span = lex_span(lx, lx->tok, lx->cur); return (k); } while (0)
#define PUNCT(k) \
  do { t->span = lex_span(lx, lx->tok, lx->cur); return lex_punct(lx, t, (k)); } while (0)
    /*!re2c
      re2c:define:YYCTYPE = "unsigned char";
      re2c:define:YYCURSOR = "lx->cur";
      re2c:define:YYMARKER = "lx->marker";
      re2c:define:YYLIMIT = "lx->lim";
      re2c:yyfill:enable = 0;
      re2c:eof = 0;

      dig = [0-9];
      exp = [eE] [+-]? dig+;
      id  = [A-Za-z_] [A-Za-z0-9_]*;

      $ { return lex_eof(lx, t); }
      [ \t\r\f\v]+ { continue; }
      "\n" {
        t->span = lex_span(lx, lx->tok, lx->cur);
        lx->line++;
        lx->line_start = lx->cur;
        if (in_group(lx)) continue;
        return TOK_NEWLINE;
      }
      "#" [^\n]* { lex_comment(lx); continue; }

      "optimizer" { TOKEN(TOK_OPTIMIZER); }
      "import"    { TOKEN(TOK_IMPORT); }
      "def"       { TOKEN(TOK_DEF); }
      "hyper"     { TOKEN(TOK_HYPER); }
      "state"     { TOKEN(TOK_STATE); }
      "update"    { TOKEN(TOK_UPDATE); }
      "if"        { TOKEN(TOK_IF); }
      "else"      { TOKEN(TOK_ELSE); }
      "every"     { TOKEN(TOK_EVERY); }
      "repeat"    { TOKEN(TOK_REPEAT); }
      "in"        { TOKEN(TOK_IN); }
      "group"     { TOKEN(TOK_GROUP); }
      "tensor"    { TOKEN(TOK_TENSOR); }
      "scalar"    { TOKEN(TOK_SCALAR); }
      "matrix"    { TOKEN(TOK_MATRIX); }
      "f32"       { TOKEN(TOK_F32); }
      "f64"       { TOKEN(TOK_F64); }
      "bf16"      { TOKEN(TOK_BF16); }
      "history"   { TOKEN(TOK_HISTORY); }
      id {
        t->span = lex_span(lx, lx->tok, lx->cur);
        t->text = arena_strndup(&lx->m->arena, lx->tok, (size_t)(lx->cur - lx->tok));
        return TOK_NAME;
      }
      (dig+ ("." dig+)? | "." dig+) exp? {
        t->span = lex_span(lx, lx->tok, lx->cur);
        lex_number(lx, t);
        return TOK_NUMBER;
      }
      (dig+ ("." dig+)? | "." dig+) [eE] [+-]? {
        t->span = lex_span(lx, lx->tok, lx->cur);
        lex_error(lx, t->span, "malformed number '%s': the exponent needs digits (as in 1e-8)",
                  arena_strndup(&lx->m->arena, lx->tok, (size_t)(lx->cur - lx->tok)));
        lex_number(lx, t);
        return TOK_NUMBER;
      }
      ["] {
        lex_string(lx, t);
        t->span = lex_span(lx, lx->tok, lx->cur);
        return TOK_STRING;
      }

      "==" { TOKEN(TOK_EQ); }
      "!=" { TOKEN(TOK_NE); }
      "<=" { TOKEN(TOK_LE); }
      ">=" { TOKEN(TOK_GE); }
      "&&" { TOKEN(TOK_ANDAND); }
      "||" { TOKEN(TOK_OROR); }
      "+=" { TOKEN(TOK_ADD_SET); }
      "-=" { TOKEN(TOK_SUB_SET); }
      "*=" { TOKEN(TOK_MUL_SET); }
      "/=" { TOKEN(TOK_DIV_SET); }
      "+" { TOKEN(TOK_PLUS); }
      "-" { TOKEN(TOK_MINUS); }
      "*" { TOKEN(TOK_STAR); }
      "/" { TOKEN(TOK_SLASH); }
      "^" { TOKEN(TOK_CARET); }
      "@" { TOKEN(TOK_AT); }
      "<" { TOKEN(TOK_LT); }
      ">" { TOKEN(TOK_GT); }
      "!" { TOKEN(TOK_BANG); }
      "=" { TOKEN(TOK_ASSIGN); }
      "," { TOKEN(TOK_COMMA); }
      "." { TOKEN(TOK_DOT); }
      ":" { TOKEN(TOK_COLON); }
      ";" { TOKEN(TOK_SEMI); }
      "(" { PUNCT(TOK_LPAREN); }
      ")" { PUNCT(TOK_RPAREN); }
      "[" { PUNCT(TOK_LBRACKET); }
      "]" { PUNCT(TOK_RBRACKET); }
      "{" { PUNCT(TOK_LBRACE); }
      "}" { PUNCT(TOK_RBRACE); }

      "&" {
        lex_error(lx, lex_span(lx, lx->tok, lx->cur), "%s",
                  "invalid character '&' (logical and is '&&')");
        continue;
      }
      "|" {
        lex_error(lx, lex_span(lx, lx->tok, lx->cur), "%s",
                  "invalid character '|' (logical or is '||')");
        continue;
      }
      * { lex_invalid(lx); continue; }
    */
#undef TOKEN
#undef PUNCT
  }
}

void lexer_init(Lexer *lx, AstModule *m, const SrcFile *f, int file, DiagSink *diags) {
  memset(lx, 0, sizeof *lx);
  lx->m = m;
  lx->diags = diags;
  lx->file = file;
  lx->text = lx->cur = lx->line_start = f->text;
  lx->lim = f->text + f->len;
  lx->line = 1;
  lx->prev = -1;
}

static void lex_one(Lexer *lx, LexToken *t) {
  memset(t, 0, sizeof *t);
  t->kind = lex_raw(lx, t);
}

void lexer_next(Lexer *lx, LexToken *out) {
  LexToken t;
  if (lx->have_ahead) {
    t = lx->ahead;
    lx->have_ahead = false;
  } else {
    lex_one(lx, &t);
  }
  while (t.kind == TOK_NEWLINE) {
    LexToken next;
    do lex_one(lx, &next);
    while (next.kind == TOK_NEWLINE);
    if (next.kind == TOK_ELSE || lx->prev == -1 || lx->prev == TOK_NEWLINE) {
      t = next; /* newline before `else`, or leading/duplicate newline */
      continue;
    }
    lx->ahead = next;
    lx->have_ahead = true;
    break;
  }
  lx->prev = t.kind;
  *out = t;
}

void lexer_finish(Lexer *lx) {
  AstModule *m = lx->m;
  m->ncomments = lx->comments.len;
  m->comments = ARENA_NEW_N(&m->arena, AstComment, lx->comments.len ? lx->comments.len : 1);
  if (lx->comments.len)
    memcpy(m->comments, lx->comments.data, sizeof(AstComment) * (size_t)lx->comments.len);
  VEC_FREE(&lx->comments);
}

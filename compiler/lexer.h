/* lexer.h: the re2c lexer (lexer.re) as the Bison parser (parser.y) sees
 * it.  Internal to the front end.
 *
 * Conventions: the lexer is a plain struct owned by the caller (no
 * globals).  Token kinds are the TOK_* constants of the generated parser.h
 * (kept as int here so this header does not depend on it).  Names and
 * strings are copied into the module's arena.  Lexical errors go to the
 * DiagSink and the lexer goes on: invalid bytes are skipped, an
 * unterminated string still yields a STRING token, so the parser never
 * sees (and never repeats) a lexical error.
 */
#ifndef OPTC_LEXER_H
#define OPTC_LEXER_H

#include "front.h"

/* An open bracket not yet closed: '(' '[' or '{' and where it was. */
typedef struct LexOpener {
  char c;
  Span at;
} LexOpener;

typedef struct LexToken {
  int kind;         /* TOK_* of parser.h; 0 (TOK_YYEOF) at the end */
  Span span;
  const char *text; /* NAME: the name; STRING: decoded contents */
  AstNode *num;     /* NUMBER: an AST_NUM node */
  /* Context for "expected '}' to close ..." messages, taken before this
   * token was read: the innermost open bracket and innermost open brace
   * (c == 0 when none). */
  LexOpener inner, brace;
} LexToken;

typedef struct LexCommentVec {
  AstComment *data;
  int len, cap;
} LexCommentVec;

typedef struct Lexer {
  AstModule *m;
  DiagSink *diags;
  int file;
  const char *text, *cur, *lim, *tok, *marker;
  int line;
  const char *line_start;
  LexOpener open[FRONT_MAX_DEPTH];
  int nopen;
  bool stopped;     /* at the end, or gave up: only EOF from now on */
  bool too_deep;    /* gave up because brackets nest too deep (reported) */
  int prev;         /* kind of the last token handed out, -1 at the start */
  bool have_ahead;  /* a token read ahead while looking for `else` */
  LexToken ahead;
  int error_line;   /* last line with a lexical error, 0 if none */
  LexCommentVec comments;
} Lexer;

void lexer_init(Lexer *lx, AstModule *m, const SrcFile *f, int file,
                DiagSink *diags);
/* The next token for the parser: NEWLINEs are collapsed, dropped inside
 * ( ) and [ ] and right before `else`. */
void lexer_next(Lexer *lx, LexToken *out);
/* Moves the recorded comments into the module and frees the lexer. */
void lexer_finish(Lexer *lx);

#endif

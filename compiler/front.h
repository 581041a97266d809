/* front.h: parsing a .opt file into an AstModule (lexer.re + parser.y).
 *
 * The lexer and parser are reentrant: no globals, any number of parses may
 * run at once in different threads.  Syntax errors are reported through
 * the sink and parsing goes on (error recovery at statement and item
 * boundaries), so one run reports several of them.
 */
#ifndef OPTC_FRONT_H
#define OPTC_FRONT_H

#include "ast.h"

/* Parses file `file` of `sm` into `m` (initialised here; free it with
 * ast_module_free even on failure).  Returns the number of errors
 * reported (0 on success). */
int front_parse(AstModule *m, SrcMgr *sm, int file, DiagSink *diags);

/* Deepest nesting of expressions and blocks accepted.  Far beyond any real
 * optimizer; it bounds recursion in every later phase on junk input. */
enum { FRONT_MAX_DEPTH = 200 };

#endif

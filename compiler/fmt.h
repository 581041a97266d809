/* fmt.h: the canonical printer of .opt files (`optc fmt`).
 *
 * Prints an AstModule as canonical text: items in source order, at most
 * one blank line kept where the source had blank lines, 2-space indents,
 * one statement per line, minimal parentheses, numbers as written, and the
 * module's comments kept (own-line comments before the node they precede,
 * trailing comments after their line's statement).  The output parses to
 * an ast_equal() tree and fmt is idempotent.
 */
#ifndef OPTC_FMT_H
#define OPTC_FMT_H

#include "ast.h"

/* Appends the canonical text of `m` to `out`; it ends with exactly one
 * newline (an empty module prints nothing). */
void fmt_module(Str *out, const AstModule *m);

/* Appends one expression with minimal parentheses (no comments). */
void fmt_expr(Str *out, const AstNode *e);

#endif

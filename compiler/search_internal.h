/* search_internal.h: helpers shared by the search*.c files (not public).
 *
 * SearchChecked holds one parse-and-check of candidate text: its SrcMgr,
 * the SemaProgram (whose main module is the tree that mutation and
 * simplification edit in place, allocating new nodes in its arena), and
 * whether sema accepted it.  Diagnostics are only counted.
 */
#ifndef OPTC_SEARCH_INTERNAL_H
#define OPTC_SEARCH_INTERNAL_H

#include "ast.h"
#include "search.h"
#include "sema.h"

typedef struct SearchChecked {
  SrcMgr sm;
  SemaProgram sp;
  bool ok;
} SearchChecked;

/* Parses and checks; returns true when sema accepted the text.  Always
 * free with search_checked_free. */
bool search_check(SearchChecked *c, const char *anchor, const char *text);
void search_checked_free(SearchChecked *c);

/* Canonical text of the checked module with its comments dropped. */
char *search_print(SearchChecked *c);

/* Statements of the update body, nested ones counted. */
int search_stmt_count(const AstList *body);

#endif

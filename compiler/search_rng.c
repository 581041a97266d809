/* search_rng.c: splitmix64 (Steele, Lea, Flood 2014), the only source of
 * randomness of a search, and the parse-and-check helpers of
 * search_internal.h.  A search is reproducible from its seed because
 * every random choice draws from one SearchRng in a fixed order. */
#include <string.h>

#include "fmt.h"
#include "search_internal.h"

void search_rng_seed(SearchRng *r, uint64_t seed) { r->state = seed; }

uint64_t search_rng_next(SearchRng *r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double search_rng_unit(SearchRng *r) { return (double)(search_rng_next(r) >> 11) * 0x1.0p-53; }

int search_rng_below(SearchRng *r, int n) {
  if (n <= 0) return 0;
  return (int)(search_rng_next(r) % (uint64_t)n);
}

const char *search_mutation_name(SearchMutation m) {
  static const char *names[] = {
#define X(id, name) name,
      SEARCH_MUTATIONS(X)
#undef X
  };
  return (unsigned)m < SEARCH_MUT_COUNT ? names[m] : "none";
}

bool search_check(SearchChecked *c, const char *anchor, const char *text) {
  memset(c, 0, sizeof *c);
  srcmgr_init(&c->sm);
  DiagSink d;
  diag_init(&d, &c->sm, NULL, NULL);
  int file = srcmgr_add(&c->sm, anchor ? anchor : "<search>", text, strlen(text));
  c->ok = sema_check_file(&c->sp, &c->sm, file, &d, NULL) == 0 && c->sp.update != NULL;
  return c->ok;
}

void search_checked_free(SearchChecked *c) {
  sema_program_free(&c->sp);
  srcmgr_free(&c->sm);
}

/* Puts every item and statement on "line 1", so that fmt prints no blank
 * lines: the canonical text does not depend on the parent's layout. */
static void flatten_lines(AstList *l) {
  for (int i = 0; i < l->len; i++) {
    AstNode *s = l->items[i];
    s->span.line = s->span.end_line = 1;
    if (s->kind == AST_UPDATE) flatten_lines(&s->update.body);
    if (s->kind == AST_IF) {
      flatten_lines(&s->if_.then_body);
      flatten_lines(&s->if_.else_body);
      s->if_.else_span.line = s->if_.else_span.end_line = 1;
    }
    if (s->kind == AST_EVERY || s->kind == AST_REPEAT) flatten_lines(&s->loop.body);
  }
}

char *search_print(SearchChecked *c) {
  Str s = {0};
  c->sp.main->ncomments = 0;
  flatten_lines(&c->sp.main->items);
  fmt_module(&s, c->sp.main);
  return str_take(&s);
}

int search_stmt_count(const AstList *body) {
  int n = 0;
  for (int i = 0; i < body->len; i++) {
    const AstNode *s = body->items[i];
    n++;
    if (s->kind == AST_IF) n += search_stmt_count(&s->if_.then_body) + search_stmt_count(&s->if_.else_body);
    if (s->kind == AST_EVERY || s->kind == AST_REPEAT) n += search_stmt_count(&s->loop.body);
  }
  return n;
}

int search_count_stmts(const char *anchor, const char *text) {
  SearchChecked c;
  int n = search_check(&c, anchor, text) ? search_stmt_count(&c.sp.update->update.body) : -1;
  search_checked_free(&c);
  return n;
}

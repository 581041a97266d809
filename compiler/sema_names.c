/* sema_names.c: name tables, built-in names and "did you mean" hints.
 *
 * SemaMap is a string -> int hash map with open addressing; keys are not
 * copied (they live in the AST arenas, which outlive the map).
 * Suggestions look at every name visible where the unknown one was
 * written, and at every function, and pick the nearest by edit distance.
 */
#include <string.h>

#include "sema_internal.h"

static uint64_t key_hash(const char *k) { return util_hash_bytes(k, strlen(k), 0); }

static int map_find(const SemaMap *m, const char *key) {
  if (!m->cap) return -1;
  int mask = m->cap - 1;
  for (int i = (int)(key_hash(key) & (uint64_t)mask);; i = (i + 1) & mask) {
    if (!m->slots[i].key) return i;
    if (strcmp(m->slots[i].key, key) == 0) return i;
  }
}

int sema_map_get(const SemaMap *m, const char *key) {
  int i = map_find(m, key);
  return i >= 0 && m->slots[i].key ? m->slots[i].value : -1;
}

static void map_grow(SemaMap *m) {
  SemaMap bigger = {xcalloc((size_t)(m->cap ? 2 * m->cap : 16), sizeof(SemaMapEntry)),
                    m->cap ? 2 * m->cap : 16, 0};
  for (int i = 0; i < m->cap; i++)
    if (m->slots[i].key) sema_map_put(&bigger, m->slots[i].key, m->slots[i].value);
  free(m->slots);
  *m = bigger;
}

void sema_map_put(SemaMap *m, const char *key, int value) {
  if (2 * (m->len + 1) > m->cap) map_grow(m);
  int i = map_find(m, key);
  if (!m->slots[i].key) m->len++;
  m->slots[i].key = key;
  m->slots[i].value = value;
}

void sema_map_free(SemaMap *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->len = 0;
}

static const char *const BUILTIN_VARS[] = {"p", "g", "t", "f", "n", "rows",
                                           "cols", "I", "inf", "pi"};
enum { NBUILTIN_VARS = sizeof BUILTIN_VARS / sizeof BUILTIN_VARS[0] };

int sema_builtin_var(const char *name) {
  for (int i = 0; i < NBUILTIN_VARS; i++)
    if (strcmp(BUILTIN_VARS[i], name) == 0) return i;
  return -1;
}

/* ---- suggestions ------------------------------------------------------ */

typedef struct Best {
  const char *want;
  const char *name;
  int dist;
  int limit;
} Best;

static void consider(Best *b, const char *cand) {
  if (!cand || strcmp(cand, b->want) == 0) return;
  int d = util_edit_distance(b->want, cand);
  if (d > b->limit) return;
  if (!b->name || d < b->dist || (d == b->dist && strcmp(cand, b->name) < 0)) {
    b->name = cand;
    b->dist = d;
  }
}

static void consider_map(Best *b, const SemaMap *m) {
  for (int i = 0; i < m->cap; i++)
    if (m->slots[i].key) consider(b, m->slots[i].key);
}

static bool var_visible(const Sema *s, int bv) {
  if (s->ctx == CTX_DEF) return bv == BV_INF || bv == BV_PI || bv == BV_I;
  if (s->ctx == CTX_INIT) return bv != BV_G && bv != BV_T && bv != BV_F;
  return true;
}

static void consider_names(Sema *s, Best *b) {
  for (int i = 0; i < NBUILTIN_VARS; i++)
    if (var_visible(s, i)) consider(b, BUILTIN_VARS[i]);
  if (s->ctx == CTX_DEF && s->cur_def) {
    for (int i = 0; i < s->cur_def->node->def.nparams; i++)
      consider(b, s->cur_def->node->def.params[i].name);
    return;
  }
  consider_map(b, &s->globals);
  if (s->ctx == CTX_UPDATE) consider_map(b, &s->localmap);
}

static void consider_functions(Sema *s, Best *b) {
  for (int i = 0; i < BF_COUNT; i++) consider(b, builtin_name((BuiltinFn)i));
  consider_map(b, &s->defmap);
}

const char *sema_suggest(Sema *s, const char *name, bool calls) {
  size_t len = strlen(name);
  /* One edit for short names, two for longer ones; never as many edits as
   * the name has letters (every one-letter name is one edit from `p`). */
  int limit = len <= 3 ? 1 : 2;
  if ((size_t)limit >= len) limit = (int)len - 1;
  Best b = {name, NULL, 0, limit};
  if (limit < 1) return NULL;
  if (calls) consider_functions(s, &b);
  else consider_names(s, &b);
  if (b.name) return b.name;
  if (calls) consider_names(s, &b);
  else consider_functions(s, &b);
  return b.name;
}

void sema_unknown(Sema *s, Span at, const char *name, bool call) {
  const char *hint = sema_suggest(s, name, call);
  const char *what = call ? "unknown function" : "unknown name";
  if (hint)
    diag_error(s->diags, at, "%s '%s'; did you mean '%s'?", what, name, hint);
  else
    diag_error(s->diags, at, "%s '%s'", what, name);
}

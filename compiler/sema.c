/* sema.c: the semantic analyser's driver (see sema.h).
 *
 * Order: parse the main file; load imports depth-first (each file once,
 * identified by its real path; a file already on the import chain is a
 * cycle); collect the items of the main file and the defs of every file;
 * fold hypers; check states; scan def bodies; check the update block;
 * warn about unused hypers, states and locals.  Each step reports and
 * goes on.  A syntax error in any file stops the check after parsing:
 * whatever the parser recovered would only produce follow-on errors.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "front.h"
#include "sema_internal.h"

/* Import chains deeper than this are surely generated junk; the limit
 * bounds the recursion of load_imports. */
enum { SEMA_MAX_IMPORT_DEPTH = 64 };

/* ---- imports ---------------------------------------------------------- */

typedef struct ImportChain {
  const char *real[SEMA_MAX_IMPORT_DEPTH + 1];
  int file[SEMA_MAX_IMPORT_DEPTH + 1];
  int depth;
} ImportChain;

typedef struct Loaded {
  SemaMap byreal; /* real path -> file index */
} Loaded;

/* The canonical path of an existing file (arena copy), else `path`. */
static const char *real_path(Sema *s, const char *path) {
  char *r = realpath(path, NULL);
  if (!r) return arena_strdup(&s->prog->main->arena, path);
  const char *copy = arena_strdup(&s->prog->main->arena, r);
  free(r);
  return copy;
}

static char *join_path(const char *dir, size_t dirlen, const char *path) {
  Str out = {0};
  if (dirlen) {
    str_append(&out, dir, dirlen);
    if (dir[dirlen - 1] != '/') str_putc(&out, '/');
  }
  str_puts(&out, path);
  return str_take(&out);
}

/* 1: a regular file (or anything not a directory); 0: absent; -1: dir. */
static int probe(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  return S_ISDIR(st.st_mode) ? -1 : 1;
}

static char *resolve_import(Sema *s, int from, const char *path, Span at) {
  const char *importer = s->sm->files[from].path;
  const char *slash = strrchr(importer, '/');
  size_t dirlen = slash ? (size_t)(slash - importer + 1) : 0;
  int ndirs = path[0] == '/' ? 0 : s->opts->nimport_paths;
  for (int i = -1; i < ndirs; i++) {
    char *cand = path[0] == '/' ? xstrdup(path)
                 : i < 0        ? join_path(importer, dirlen, path)
                                : join_path(s->opts->import_paths[i],
                                            strlen(s->opts->import_paths[i]), path);
    int kind = probe(cand);
    if (kind == 1) return cand;
    if (kind == -1) {
      diag_error(s->diags, at, "cannot import '%s': it is a directory, not a .opt file", path);
      free(cand);
      return NULL;
    }
    free(cand);
  }
  diag_error(s->diags, at,
             "cannot find imported file '%s' next to this file or in the import "
             "paths (-I)",
             path);
  return NULL;
}

static void report_cycle(Sema *s, ImportChain *ch, int at_depth, AstNode *item) {
  if (at_depth == ch->depth - 1) {
    diag_error(s->diags, item->span, "'%s' imports itself",
               s->sm->files[ch->file[at_depth]].path);
    return;
  }
  Str chain = {0};
  for (int i = at_depth; i < ch->depth; i++)
    str_printf(&chain, "%s -> ", s->sm->files[ch->file[i]].path);
  str_puts(&chain, s->sm->files[ch->file[at_depth]].path);
  diag_error(s->diags, item->span, "import cycle: %s", chain.data);
  str_free(&chain);
}

static void load_imports(Sema *s, AstModule *m, ImportChain *ch, Loaded *ld);

/* Parses a newly loaded file `id`, imported by `item` of `m`, and loads
 * its own imports. */
static void parse_import(Sema *s, AstModule *m, AstNode *item, int id, const char *real,
                         ImportChain *ch, Loaded *ld) {
  s->sm->files[id].imported_from = m->file;
  s->sm->files[id].import_span = item->span;
  item->import.file = id;
  sema_map_put(&ld->byreal, real, id);
  AstModule *im = xcalloc(1, sizeof(AstModule));
  SemaProgram *p = s->prog;
  p->imports = xrealloc(p->imports, sizeof(AstModule *) * (size_t)(p->nimports + 1));
  p->imports[p->nimports++] = im;
  s->parse_errors += front_parse(im, s->sm, id, s->diags);
  if (ch->depth >= SEMA_MAX_IMPORT_DEPTH) {
    diag_error(s->diags, item->span, "imports are nested more than %d deep",
               SEMA_MAX_IMPORT_DEPTH);
    return;
  }
  ch->real[ch->depth] = real;
  ch->file[ch->depth++] = id;
  load_imports(s, im, ch, ld);
  ch->depth--;
}

static void load_one(Sema *s, AstModule *m, AstNode *item, ImportChain *ch, Loaded *ld) {
  char *full = resolve_import(s, m->file, item->import.path, item->span);
  if (!full) return;
  const char *real = real_path(s, full);
  for (int i = 0; i < ch->depth; i++)
    if (strcmp(ch->real[i], real) == 0) {
      report_cycle(s, ch, i, item);
      free(full);
      return;
    }
  int known = sema_map_get(&ld->byreal, real);
  if (known >= 0) {
    item->import.file = known;
    free(full);
    return;
  }
  char *err = NULL;
  int id = srcmgr_load(s->sm, full, &err);
  free(full);
  if (id < 0) {
    diag_error(s->diags, item->span, "%s", err);
    free(err);
    return;
  }
  parse_import(s, m, item, id, real, ch, ld);
}

static void load_imports(Sema *s, AstModule *m, ImportChain *ch, Loaded *ld) {
  for (int i = 0; i < m->items.len; i++) {
    AstNode *it = m->items.items[i];
    if (!it || it->kind != AST_IMPORT) continue;
    it->import.file = -1;
    if (!it->import.path || !*it->import.path) {
      diag_error(s->diags, it->span, "an import needs a file name");
      continue;
    }
    load_one(s, m, it, ch, ld);
  }
}

static void load_all_imports(Sema *s) {
  ImportChain ch = {.depth = 1};
  Loaded ld = {{0}};
  int file = s->prog->main->file;
  ch.real[0] = real_path(s, s->sm->files[file].path);
  ch.file[0] = file;
  sema_map_put(&ld.byreal, ch.real[0], file);
  load_imports(s, s->prog->main, &ch, &ld);
  sema_map_free(&ld.byreal);
}

/* ---- items ------------------------------------------------------------ */

static bool name_free(Sema *s, const char *name, Span at, const char *what) {
  if (sema_builtin_var(name) >= 0) {
    diag_error(s->diags, at, "'%s' is a built-in name and cannot name a %s", name, what);
    return false;
  }
  int g = sema_map_get(&s->globals, name);
  if (g < 0) return true;
  int idx = g & ((1 << SEMA_SYM_SHIFT) - 1);
  AstNode *first = (g >> SEMA_SYM_SHIFT) == SYM_HYPER ? s->prog->hypers[idx]
                                                       : s->prog->states[idx];
  diag_error(s->diags, at, "'%s' is already defined", name);
  diag_note(s->diags, first->kind == AST_HYPER ? first->hyper.name_span
                                               : first->state.name_span,
            "'%s' is first defined here", name);
  return false;
}

static void add_global(Sema *s, AstNode *it) {
  SemaProgram *p = s->prog;
  bool hyper = it->kind == AST_HYPER;
  const char *name = hyper ? it->hyper.name : it->state.name;
  Span at = hyper ? it->hyper.name_span : it->state.name_span;
  if (!name || !name_free(s, name, at, hyper ? "hyper" : "state")) return;
  AstNode ***list = hyper ? &p->hypers : &p->states;
  int *n = hyper ? &p->nhypers : &p->nstates;
  if ((*n & (*n - 1)) == 0) /* grow at powers of two */
    *list = xrealloc(*list, sizeof(AstNode *) * (size_t)(*n ? 2 * *n : 1));
  sema_map_put(&s->globals, name,
               ((hyper ? SYM_HYPER : SYM_STATE) << SEMA_SYM_SHIFT) | *n);
  (*list)[(*n)++] = it;
}

static void add_def(Sema *s, AstNode *it) {
  const char *name = it->def.name;
  if (!name) return;
  if (builtin_lookup(name) >= 0) {
    diag_error(s->diags, it->def.name_span,
               "'%s' is a built-in function; choose another name for this def", name);
    return;
  }
  int prev = sema_map_get(&s->defmap, name);
  if (prev >= 0) {
    diag_error(s->diags, it->def.name_span, "def '%s' is already defined", name);
    diag_note(s->diags, s->defs[prev].node->def.name_span, "'%s' is first defined here",
              name);
    return;
  }
  if ((s->ndefs & (s->ndefs - 1)) == 0)
    s->defs = xrealloc(s->defs, sizeof(SemaDef) * (size_t)(s->ndefs ? 2 * s->ndefs : 1));
  s->defs[s->ndefs] = (SemaDef){.node = it};
  sema_map_put(&s->defmap, name, s->ndefs++);
}

typedef struct MainItems {
  AstNode *optimizer, *update;
  bool library; /* no optimizer, update, hyper or state */
} MainItems;

static void once(Sema *s, AstNode **slot, AstNode *it, const char *what) {
  if (!*slot) {
    *slot = it;
    return;
  }
  diag_error(s->diags, it->span, "a second %s; a file has exactly one", what);
  diag_note(s->diags, (*slot)->span, "the first %s is here", what);
}

static void collect_main(Sema *s, MainItems *mi) {
  AstList *items = &s->prog->main->items;
  mi->library = true;
  for (int i = 0; i < items->len; i++) {
    AstNode *it = items->items[i];
    if (!it) continue;
    switch (it->kind) {
    case AST_OPTIMIZER: once(s, &mi->optimizer, it, "`optimizer` line"); break;
    case AST_UPDATE: once(s, &mi->update, it, "`update` block"); break;
    case AST_HYPER:
    case AST_STATE: add_global(s, it); break;
    case AST_DEF: add_def(s, it); continue;
    default: continue;
    }
    mi->library = false;
  }
}

static void collect_import_defs(Sema *s) {
  for (int m = 0; m < s->prog->nimports; m++) {
    AstList *items = &s->prog->imports[m]->items;
    for (int i = 0; i < items->len; i++)
      if (items->items[i] && items->items[i]->kind == AST_DEF) add_def(s, items->items[i]);
  }
}

static void require_main(Sema *s, const MainItems *mi) {
  if (mi->library && s->opts->library_ok) return;
  int file = s->prog->main->file;
  Span top = {file, 1, 1, 1, 1, 0, 0};
  if (!mi->optimizer)
    diag_error(s->diags, top,
               "missing `optimizer NAME` line: every optimizer file names its optimizer");
  if (!mi->update)
    diag_error(s->diags, top,
               "missing `update { ... }` block: it says what one step does");
}

/* ---- hypers ----------------------------------------------------------- */

static const char *num_text(Sema *s, double v) {
  Str t = {0};
  str_put_double(&t, v);
  const char *r = arena_strdup(&s->prog->main->arena, t.data);
  str_free(&t);
  return r;
}

static bool in_range(const AstNode *h, double v) {
  double lo = h->hyper.lo_value, hi = h->hyper.hi_value;
  bool lo_ok = h->hyper.lo_open ? v > lo : v >= lo;
  bool hi_ok = h->hyper.hi_open ? v < hi : v <= hi;
  return lo_ok && hi_ok;
}

static void check_range(Sema *s, AstNode *h, bool def_ok) {
  const char *name = h->hyper.name;
  const char *wlo = arena_printf(&s->prog->main->arena, "the lower end of hyper '%s'", name);
  const char *whi = arena_printf(&s->prog->main->arena, "the upper end of hyper '%s'", name);
  bool ok = sema_fold(s, h->hyper.lo, wlo, &h->hyper.lo_value);
  ok = sema_fold(s, h->hyper.hi, whi, &h->hyper.hi_value) && ok;
  if (!ok) return;
  double lo = h->hyper.lo_value, hi = h->hyper.hi_value;
  bool open = h->hyper.lo_open || h->hyper.hi_open;
  if (lo > hi || (open && lo == hi)) {
    diag_error(s->diags, span_join(h->hyper.lo->span, h->hyper.hi->span),
               "the range %c%s, %s%c of hyper '%s' is empty", h->hyper.lo_open ? '(' : '[',
               num_text(s, lo), num_text(s, hi), h->hyper.hi_open ? ')' : ']', name);
    return;
  }
  if (def_ok && !in_range(h, h->hyper.def_value))
    diag_error(s->diags, h->hyper.value->span,
               "the default %s of hyper '%s' is outside its range %c%s, %s%c",
               num_text(s, h->hyper.def_value), name, h->hyper.lo_open ? '(' : '[',
               num_text(s, lo), num_text(s, hi), h->hyper.hi_open ? ')' : ']');
}

static void check_hyper(Sema *s, AstNode *h) {
  const char *what = arena_printf(&s->prog->main->arena, "the default of hyper '%s'",
                                  h->hyper.name);
  bool ok = h->hyper.value && sema_fold(s, h->hyper.value, what, &h->hyper.def_value);
  h->ty = ty_make(TY_SCALAR);
  h->hyper.lo_value = -INFINITY;
  h->hyper.hi_value = INFINITY;
  if (h->hyper.lo && h->hyper.hi) check_range(s, h, ok);
}

/* ---- states ----------------------------------------------------------- */

static TyDim state_dim(Sema *s, AstNode *d) {
  if (!d) return DIM_NONE;
  d->ty = ty_make(TY_SCALAR);
  if (d->kind == AST_NUM && d->num.value == 1) return DIM_ONE;
  if (d->kind == AST_NAME) {
    int bv = sema_builtin_var(d->name.id);
    d->ref = (Ref){REF_BUILTIN, bv};
    if (bv == BV_ROWS) return DIM_ROWS;
    if (bv == BV_COLS) return DIM_COLS;
    if (bv == BV_N) return DIM_N;
    d->ref = (Ref){REF_NONE, 0};
  }
  diag_error(s->diags, d->span, "a matrix state's dimensions are 1, rows, cols or n");
  return DIM_NONE;
}

static Type state_type(Sema *s, AstNode *st) {
  if (st->state.skind == AST_STATE_SCALAR) return ty_make(TY_SCALAR);
  if (st->state.skind == AST_STATE_TENSOR) return ty_make(TY_TENSOR);
  TyDim r = state_dim(s, st->state.rows), c = state_dim(s, st->state.cols);
  if (r == DIM_NONE || c == DIM_NONE) return ty_make(TY_ERROR);
  return ty_matrix(r, c);
}

/* history(M): M is a whole number >= 1 or a hyper whose range starts at
 * 1 or above and whose default is a whole number. */
static void check_history_size(Sema *s, AstNode *st) {
  AstNode *m = st->state.rows;
  const char *name = st->state.name;
  if (m && m->kind == AST_NUM) {
    if (!(m->num.value >= 1 && m->num.value == floor(m->num.value) && m->num.value <= 1e6))
      diag_error(s->diags, m->span,
                 "the size of history '%s' must be a whole number from 1 to 1000000", name);
    return;
  }
  int g = m && m->kind == AST_NAME ? sema_map_get(&s->globals, m->name.id) : -1;
  if (g < 0 || (g >> SEMA_SYM_SHIFT) != SYM_HYPER) {
    diag_error(s->diags, m ? m->span : st->state.name_span,
               "the size of history '%s' must be a hyper or a whole number (history(m), "
               "history(6))", name);
    return;
  }
  int idx = g & ((1 << SEMA_SYM_SHIFT) - 1);
  const AstNode *h = s->prog->hypers[idx];
  s->hyper_used[idx] = true;
  m->ref = (Ref){REF_HYPER, idx};
  m->ty = ty_make(TY_SCALAR);
  if (!h->hyper.lo || h->hyper.lo_value < 1)
    diag_error(s->diags, m->span,
               "hyper '%s' sizes history '%s', so its range must start at 1 or above "
               "(e.g. `in [1, 1000]`)", h->hyper.name, name);
  else if (h->hyper.def_value != floor(h->hyper.def_value))
    diag_error(s->diags, m->span,
               "hyper '%s' sizes history '%s', so its default must be a whole number",
               h->hyper.name, name);
}

static void check_history(Sema *s, AstNode *st) {
  sema_set_ty(s, st, ty_make(TY_VOID));
  check_history_size(s, st);
  if (st->state.dtype == AST_DT_BF16)
    diag_error(s->diags, st->span,
               "history '%s' is stored as f32 or f64; bf16 would round the secant pairs "
               "too coarsely", st->state.name);
}

static void check_state(Sema *s, AstNode *st) {
  if (st->state.skind == AST_STATE_HISTORY) {
    check_history(s, st);
    return;
  }
  Type ty = state_type(s, st);
  sema_set_ty(s, st, ty);
  if (!st->state.init) return;
  s->ctx = CTX_INIT;
  sema_expr(s, st->state.init);
  s->ctx = CTX_UPDATE;
  Type v = sema_settle(s, st->state.init, ty), r;
  if (ty_is_error(v) || ty_is_error(ty)) return;
  if (ty_broadcast(ty, v, &r) && ty_same(r, ty)) return;
  diag_error(s->diags, st->state.init->span,
             "the initial value of state '%s' is a %s, but the state is a %s",
             st->state.name, ty_text(s, v), ty_text(s, ty));
}

/* ---- warnings --------------------------------------------------------- */

static void warn_unused(Sema *s) {
  SemaProgram *p = s->prog;
  for (int i = 0; i < p->nhypers; i++)
    if (!s->hyper_used[i])
      diag_warning(s->diags, p->hypers[i]->hyper.name_span, "hyper '%s' is never used",
                   p->hypers[i]->hyper.name);
  for (int i = 0; i < p->nstates; i++) {
    const AstNode *st = p->states[i];
    if (!s->state_use[i].read && !s->state_use[i].written)
      diag_warning(s->diags, st->state.name_span, "state '%s' is never used",
                   st->state.name);
    else if (!s->state_use[i].written && st->state.skind == AST_STATE_HISTORY)
      diag_warning(s->diags, st->state.name_span,
                   "history '%s' is read but nothing is pushed to it, so it stays empty",
                   st->state.name);
    else if (!s->state_use[i].written)
      diag_warning(s->diags, st->state.name_span,
                   "state '%s' is read but never assigned, so it always keeps its "
                   "initial value",
                   st->state.name);
  }
}

/* ---- driver ----------------------------------------------------------- */

static void sema_free(Sema *s) {
  sema_map_free(&s->globals);
  sema_map_free(&s->defmap);
  sema_map_free(&s->localmap);
  sema_map_free(&s->targets);
  for (int i = 0; i < s->ndefs; i++) {
    for (int j = 0; j < s->defs[i].memo.len; j++) free(s->defs[i].memo.data[j].args);
    free(s->defs[i].memo.data);
    free(s->defs[i].callees);
  }
  free(s->defs);
  free(s->hyper_used);
  free(s->state_use);
  free(s->local_use);
  free(s->defined);
  free(s->mark);
  VEC_FREE(&s->target_nodes);
  VEC_FREE(&s->log);
}

static void export_defs(Sema *s) {
  SemaProgram *p = s->prog;
  p->defs = xmalloc(sizeof(AstNode *) * (size_t)(s->ndefs ? s->ndefs : 1));
  for (int i = 0; i < s->ndefs; i++) p->defs[i] = s->defs[i].node;
  p->ndefs = s->ndefs;
}

static void check_program(Sema *s) {
  SemaProgram *p = s->prog;
  MainItems mi = {0};
  load_all_imports(s);
  if (s->parse_errors) return; /* a syntax error says all there is to say */
  collect_main(s, &mi);
  collect_import_defs(s);
  require_main(s, &mi);
  p->name = mi.optimizer ? mi.optimizer->item.name : NULL;
  p->update = mi.update;
  s->hyper_used = xcalloc((size_t)(p->nhypers + 1), sizeof(bool));
  s->state_use = xcalloc((size_t)(p->nstates + 1), sizeof(SemaState));
  for (int i = 0; i < p->nhypers; i++) check_hyper(s, p->hypers[i]);
  for (int i = 0; i < p->nstates; i++) check_state(s, p->states[i]);
  sema_scan_defs(s);
  export_defs(s);
  if (mi.update) sema_update(s, mi.update);
  /* after an error, a use may sit in code that was not checked: the
   * usage warnings would mislead */
  bool clean = s->diags->nerrors == s->first_errors;
  if (clean && !mi.library) warn_unused(s);
  if (clean) sema_warn_unread_locals(s);
  p->needs = s->needs;
}

int sema_check_file(SemaProgram *out, SrcMgr *sm, int file, DiagSink *diags,
                    const SemaOptions *opts) {
  static const SemaOptions defaults = {0};
  memset(out, 0, sizeof *out);
  out->main = xcalloc(1, sizeof(AstModule));
  int before = diags->nerrors;
  /* With syntax errors, the file is not checked further: what the parser
   * recovered from would only produce follow-on errors. */
  if (front_parse(out->main, sm, file, diags) > 0) return diags->nerrors - before;
  Sema s = {.sm = sm, .diags = diags, .opts = opts ? opts : &defaults, .prog = out,
            .first_errors = before};
  check_program(&s);
  sema_free(&s);
  return diags->nerrors - before;
}

void sema_program_free(SemaProgram *p) {
  if (!p) return;
  for (int i = 0; i < p->nimports; i++) {
    ast_module_free(p->imports[i]);
    free(p->imports[i]);
  }
  free(p->imports);
  if (p->main) {
    ast_module_free(p->main);
    free(p->main);
  }
  free(p->hypers);
  free(p->states);
  free(p->defs);
  free(p->locals);
  memset(p, 0, sizeof *p);
}

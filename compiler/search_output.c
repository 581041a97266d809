/* search_output.c: the checkpoint and the output files of a search.
 *
 * DIR/search.ckpt is text: a header with a key (a hash of everything that
 * must not change on --resume: seed, population, tournament, batch,
 * length limit, tasks, start programs), the PRNG state, the counters, the
 * population ring and the whole archive, doubles as C99 hex floats (%a) so
 * that they read back exactly.  Every file is written atomically
 * (util_write_file_atomic): an interrupted search leaves the previous
 * checkpoint intact.  A checkpoint that does not parse is reported, never
 * trusted.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "search_evolve.h"

#define CKPT_MAGIC "optc-search-checkpoint 1"
/* Candidates listed in leaderboard.md. */
enum { LEADERBOARD_ROWS = 10 };
/* Largest checkpoint read back: far above any archive of a day's search. */
#define CKPT_MAX_BYTES (1u << 30)

static uint64_t config_key(const SearchConfig *c) {
  uint64_t k = util_hash_mix(c->seed, (uint64_t)c->population);
  k = util_hash_mix(k, (uint64_t)c->tournament * 1000003u + (uint64_t)c->batch);
  k = util_hash_mix(k, (uint64_t)c->max_stmts * 1000003u + (uint64_t)c->ntasks);
  const char *tk = c->tasks_key ? c->tasks_key : "";
  k = util_hash_mix(k, util_hash_bytes(tk, strlen(tk), 1));
  for (int i = 0; i < c->nstarts; i++) k = util_hash_mix(k, util_hash_bytes(c->starts[i], strlen(c->starts[i]), 2));
  return k;
}

static char *path_in(const SearchConfig *c, const char *name) {
  Str p = {0};
  str_printf(&p, "%s/%s", c->out_dir, name);
  return str_take(&p);
}

static int write_file(const SearchConfig *c, const char *name, const Str *data, char **err) {
  char *path = path_in(c, name);
  int rc = util_write_file_atomic(path, data->data ? data->data : "", data->len, err);
  free(path);
  return rc;
}

/* ---- checkpoint ------------------------------------------------------------- */

int search_checkpoint_save(const Search *s, char **err) {
  const SearchConfig *c = s->c;
  Str o = {0};
  str_printf(&o, CKPT_MAGIC "\nkey %016" PRIx64 "\nrng %016" PRIx64 "\n", config_key(c), s->rng.state);
  str_printf(&o, "stats %ld %ld %ld %a %a\n", s->st.children, s->st.invalid, s->st.duplicates,
             search_elapsed(s), s->st.eval_s);
  str_printf(&o, "pop %d %d", s->npop, s->head);
  for (int i = 0; i < s->npop; i++) str_printf(&o, " %d", s->pop[i]);
  str_printf(&o, "\narch %d %d\n", s->arch.len, c->ntasks);
  for (int i = 0; i < s->arch.len; i++) {
    const SearchIndiv *in = &s->arch.data[i];
    str_printf(&o, "%d %d %016" PRIx64 " %016" PRIx64 " %a %a", in->parent, in->mut, in->shash, in->bhash,
               in->fitness, in->time_s);
    for (int k = 0; k < c->ntasks; k++) str_printf(&o, " %a", in->scores[k]);
    str_printf(&o, " %zu\n%s\n", strlen(in->text), in->text);
  }
  int rc = write_file(c, "search.ckpt", &o, err);
  str_free(&o);
  return rc;
}

typedef struct Reader {
  const char *p, *end;
  bool bad;
} Reader;

static void skip_space(Reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n')) r->p++;
}

static void expect_word(Reader *r, const char *w) {
  skip_space(r);
  size_t n = strlen(w);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0) r->bad = true;
  else r->p += n;
}

static uint64_t read_hex(Reader *r) {
  skip_space(r);
  char *e;
  errno = 0;
  uint64_t v = strtoull(r->p, &e, 16);
  if (e == r->p || errno) r->bad = true;
  r->p = e;
  return v;
}

static long read_long(Reader *r, long lo, long hi) {
  skip_space(r);
  char *e;
  errno = 0;
  long v = strtol(r->p, &e, 10);
  if (e == r->p || errno || v < lo || v > hi) r->bad = true;
  r->p = e;
  return r->bad ? lo : v;
}

static double read_double(Reader *r) {
  skip_space(r);
  char *e;
  double v = strtod(r->p, &e);
  if (e == r->p) r->bad = true;
  r->p = e;
  return v;
}

static char *read_text(Reader *r) {
  long n = read_long(r, 0, 1 << 24);
  if (r->bad || r->p >= r->end || *r->p != '\n' || r->end - r->p - 1 < n) {
    r->bad = true;
    return NULL;
  }
  char *t = xstrndup(r->p + 1, (size_t)n);
  r->p += 1 + n;
  return t;
}

static void read_indiv(Search *s, Reader *r, int ntasks) {
  int parent = (int)read_long(r, -1, s->arch.len - 1);
  int mut = (int)read_long(r, -1, SEARCH_MUT_COUNT - 1);
  uint64_t sh = read_hex(r), bh = read_hex(r);
  double fit = read_double(r), time = read_double(r);
  double *scores = xcalloc((size_t)ntasks + 1, sizeof *scores);
  for (int k = 0; k < ntasks; k++) scores[k] = read_double(r);
  char *text = read_text(r);
  if (r->bad || !text) {
    free(scores);
    free(text);
    r->bad = true;
    return;
  }
  int idx = search_add_indiv(s, text, sh, bh, parent, mut);
  SearchIndiv *in = &s->arch.data[idx];
  free(in->scores);
  in->scores = scores;
  in->fitness = fit;
  in->time_s = time;
  in->pending = false;
  if (!(fit >= s->st.best_fitness)) s->st.best_fitness = fit;
}

static void read_body(Search *s, Reader *r) {
  expect_word(r, "rng");
  s->rng.state = read_hex(r);
  expect_word(r, "stats");
  s->st.children = read_long(r, 0, LONG_MAX);
  s->st.invalid = read_long(r, 0, LONG_MAX);
  s->st.duplicates = read_long(r, 0, LONG_MAX);
  s->elapsed_base = read_double(r);
  s->st.eval_s = read_double(r);
  expect_word(r, "pop");
  int npop = (int)read_long(r, 0, s->c->population);
  s->head = (int)read_long(r, 0, npop > 0 ? npop - 1 : 0);
  int *pop = xcalloc((size_t)npop + 1, sizeof *pop);
  for (int i = 0; i < npop; i++) pop[i] = (int)read_long(r, 0, INT32_MAX);
  expect_word(r, "arch");
  int n = (int)read_long(r, 1, INT32_MAX);
  int ntasks = (int)read_long(r, s->c->ntasks, s->c->ntasks);
  for (int i = 0; i < n && !r->bad; i++) read_indiv(s, r, ntasks);
  for (int i = 0; i < npop; i++) r->bad |= pop[i] >= s->arch.len;
  memcpy(s->pop, pop, sizeof *pop * (size_t)npop);
  s->npop = r->bad ? 0 : npop;
  free(pop);
  s->st.evals = s->arch.len;
}

int search_checkpoint_load(Search *s, char **err) {
  char *path = path_in(s->c, "search.ckpt"), *text = NULL, *rerr = NULL;
  size_t len = 0;
  Str m = {0};
  if (util_read_file(path, CKPT_MAX_BYTES, &text, &len, &rerr) != 0) {
    str_printf(&m, "cannot resume: %s", rerr);
  } else {
    Reader r = {text, text + len, false};
    expect_word(&r, CKPT_MAGIC);
    expect_word(&r, "key");
    uint64_t key = read_hex(&r);
    if (!r.bad && key != config_key(s->c))
      str_printf(&m, "cannot resume from %s: it was written by a search with other settings "
                     "(seed, population, tournament, batch, length, tasks or start programs)", path);
    else if (!r.bad) read_body(s, &r);
    if (r.bad) str_printf(&m, "cannot resume: %s is not a valid search checkpoint", path);
  }
  free(rerr);
  free(text);
  free(path);
  if (!m.len) return 0;
  *err = str_take(&m);
  return -1;
}

/* ---- output files ---------------------------------------------------------------- */

typedef struct Ranked {
  double fitness;
  int idx;
} Ranked;

/* Fitness, then archive index: a total order, so the ranking is the same
 * whatever qsort does with ties. */
static int by_fitness(const void *a, const void *b) {
  const Ranked *x = a, *y = b;
  if (x->fitness != y->fitness) return x->fitness < y->fitness ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

int search_ranking(const Search *s, int **order) {
  Ranked *r = xcalloc((size_t)s->arch.len + 1, sizeof *r);
  int n = 0;
  for (int i = 0; i < s->arch.len; i++)
    if (!s->arch.data[i].pending && isfinite(s->arch.data[i].fitness)) r[n++] = (Ranked){s->arch.data[i].fitness, i};
  qsort(r, (size_t)n, sizeof *r, by_fitness);
  int *v = xcalloc((size_t)n + 1, sizeof *v);
  for (int i = 0; i < n; i++) v[i] = r[i].idx;
  free(r);
  *order = v;
  return n;
}

static const char *mut_name(int mut) { return mut < 0 ? "start" : search_mutation_name((SearchMutation)mut); }

static void write_log(const Search *s, Str *o) {
  const SearchConfig *c = s->c;
  str_puts(o, "index,time_s,fitness");
  for (int k = 0; k < c->ntasks; k++) str_printf(o, ",%s", c->task_names[k]);
  str_puts(o, ",hash,parent,mutation\n");
  for (int i = 0; i < s->arch.len; i++) {
    const SearchIndiv *in = &s->arch.data[i];
    if (in->pending) continue;
    str_printf(o, "%d,%.3f,%.6g", i, in->time_s, in->fitness);
    for (int k = 0; k < c->ntasks; k++) str_printf(o, ",%.6g", in->scores[k]);
    str_printf(o, ",%016" PRIx64 ",%d,%s\n", in->shash, in->parent, mut_name(in->mut));
  }
}

static void write_leaderboard(const Search *s, const int *order, int n, Str *o) {
  const SearchConfig *c = s->c;
  str_printf(o, "# Search leaderboard\n\nFitness is the mean over the search tasks of each task's score "
                "(normalised final loss, or 1 - accuracy; lower is better; see docs/search.md).\n\n"
                "%ld candidates evaluated, %ld children generated, %ld invalid, %ld duplicates skipped, "
                "%.1f s.\n\n| rank | candidate | fitness |",
             s->st.evals, s->st.children, s->st.invalid, s->st.duplicates, search_elapsed(s));
  for (int k = 0; k < c->ntasks; k++) str_printf(o, " %s |", c->task_names[k]);
  str_puts(o, " parent | mutation |\n|---|---|---|");
  for (int k = 0; k < c->ntasks; k++) str_puts(o, "---|");
  str_puts(o, "---|---|\n");
  int rows = n < LEADERBOARD_ROWS ? n : LEADERBOARD_ROWS;
  for (int r = 0; r < rows; r++) {
    const SearchIndiv *in = &s->arch.data[order[r]];
    str_printf(o, "| %d | %d | %.4f |", r + 1, order[r], in->fitness);
    for (int k = 0; k < c->ntasks; k++) str_printf(o, " %.4f |", in->scores[k]);
    str_printf(o, " %d | %s |\n", in->parent, mut_name(in->mut));
  }
  for (int r = 0; r < rows; r++)
    str_printf(o, "\n## %d. candidate %d (fitness %.4f)\n\n```\n%s```\n", r + 1, order[r],
               s->arch.data[order[r]].fitness, s->arch.data[order[r]].text);
}

static void write_svg(const Search *s, Str *o) {
  const double W = 640, H = 360, L = 60, R = 20, T = 20, B = 40;
  double tmax = 1e-9, lo = INFINITY, hi = -INFINITY, best = INFINITY;
  for (int i = 0; i < s->arch.len; i++) {
    const SearchIndiv *in = &s->arch.data[i];
    if (in->pending) continue;
    best = fmin(best, in->fitness);
    tmax = fmax(tmax, in->time_s);
    lo = fmin(lo, best);
    hi = fmax(hi, best);
  }
  if (!isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) hi = lo + 1e-3;
  str_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%g\" y=\"14\" font-size=\"12\">best fitness (lower is better) over search time</text>\n"
                "<text x=\"%g\" y=\"%g\" font-size=\"11\">%.4g</text><text x=\"4\" y=\"%g\" font-size=\"11\">%.4g</text>\n"
                "<text x=\"%g\" y=\"%g\" font-size=\"11\">0 s</text><text x=\"%g\" y=\"%g\" font-size=\"11\">%.1f s</text>\n"
                "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"",
             W, H, L, 4.0, T + 10, hi, H - B, lo, L, H - B + 16, W - R - 40, H - B + 16, tmax);
  best = INFINITY;
  double px = L, py = 0;
  for (int i = 0; i < s->arch.len; i++) {
    const SearchIndiv *in = &s->arch.data[i];
    if (in->pending || !(in->fitness < best)) continue;
    best = in->fitness;
    double x = L + (W - L - R) * in->time_s / tmax, y = T + (H - T - B) * (hi - best) / (hi - lo);
    if (py > 0) str_printf(o, "%.1f,%.1f ", x, py);
    str_printf(o, "%.1f,%.1f ", x, y);
    px = x, py = y;
  }
  str_printf(o, "%.1f,%.1f\"/>\n<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n"
                "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n</svg>\n",
             fmax(px, W - R), py, L, H - B, W - R, H - B, L, T, L, H - B);
}

static int write_best(const Search *s, const int *order, int n, char **err) {
  int rc = 0;
  for (int r = 0; r < n && r < s->c->top && rc == 0; r++) {
    char name[32], file[48];
    snprintf(name, sizeof name, "found_%d", r + 1);
    snprintf(file, sizeof file, "best_%d.opt", r + 1);
    Str o = {0};
    char *text = search_rename(s->arch.data[order[r]].text, name);
    str_printf(&o, "# Found by optc search (candidate %d, fitness %.6g; see leaderboard.md).\n%s", order[r],
               s->arch.data[order[r]].fitness, text);
    free(text);
    rc = write_file(s->c, file, &o, err);
    str_free(&o);
  }
  return rc;
}

int search_write_outputs(const Search *s, char **err) {
  int *order = NULL;
  int n = search_ranking(s, &order);
  Str log = {0}, board = {0}, svg = {0};
  write_log(s, &log);
  write_leaderboard(s, order, n, &board);
  write_svg(s, &svg);
  int rc = write_file(s->c, "log.csv", &log, err);
  if (rc == 0) rc = write_file(s->c, "leaderboard.md", &board, err);
  if (rc == 0) rc = write_file(s->c, "fitness.svg", &svg, err);
  if (rc == 0) rc = write_best(s, order, n, err);
  str_free(&log);
  str_free(&board);
  str_free(&svg);
  free(order);
  return rc;
}

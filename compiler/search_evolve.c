/* search_evolve.c: regularised evolution (Real et al., AAAI 2019).
 *
 * Every candidate ever evaluated is kept in an archive (its text, hashes,
 * scores, parent and mutation); the population is a ring of archive
 * indices, the oldest replaced first.  A search runs in batches of
 * `batch` new candidates: the main thread draws tournaments and mutates
 * (all randomness, in a fixed order), discards invalid children, and skips
 * children whose structure or behaviour hash was seen before (they join
 * the population with the fitness already known, costing no evaluation);
 * then the batch is evaluated by `threads` workers in parallel and the
 * results are stored in batch order.  The batch size does not depend on
 * the thread count, so a run is the same for any --threads.  An
 * evaluation budget is checked between batches (a run may pass it by less
 * than one batch), which makes a run stopped at a checkpoint and resumed
 * identical to one that was never stopped.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "search_evolve.h"

/* Children tried per wanted candidate before a batch is closed early, and
 * empty batches in a row before the search stops: past these, mutation
 * only finds programs seen before. */
enum { TRIES_PER_CHILD = 100, MAX_EMPTY_BATCHES = 10 };

/* ---- hash set of seen programs (open addressing, 0 = empty) -------------- */

static void seen_grow(Search *s);

static int *seen_slot(Search *s, uint64_t key) {
  if (key == 0) key = 1;
  for (size_t i = (size_t)(key % s->seen_cap);; i = (i + 1) % s->seen_cap) {
    if (s->seen_keys[i] == key || s->seen_keys[i] == 0) return &s->seen_vals[i];
  }
}

int search_seen_get(Search *s, uint64_t key) {
  if (!s->seen_cap) return -1;
  int *v = seen_slot(s, key);
  size_t i = (size_t)(v - s->seen_vals);
  return s->seen_keys[i] ? *v : -1;
}

void search_seen_put(Search *s, uint64_t key, int idx) {
  if (2 * (s->seen_len + 1) > s->seen_cap) seen_grow(s);
  int *v = seen_slot(s, key);
  size_t i = (size_t)(v - s->seen_vals);
  if (!s->seen_keys[i]) s->seen_len++;
  s->seen_keys[i] = key ? key : 1;
  *v = idx;
}

static void seen_grow(Search *s) {
  uint64_t *keys = s->seen_keys;
  int *vals = s->seen_vals;
  size_t cap = s->seen_cap;
  s->seen_cap = cap ? 2 * cap : 1024;
  s->seen_keys = xcalloc(s->seen_cap, sizeof *s->seen_keys);
  s->seen_vals = xcalloc(s->seen_cap, sizeof *s->seen_vals);
  s->seen_len = 0;
  for (size_t i = 0; i < cap; i++)
    if (keys[i]) search_seen_put(s, keys[i], vals[i]);
  free(keys);
  free(vals);
}

/* ---- archive and population ---------------------------------------------------- */

int search_add_indiv(Search *s, char *text, uint64_t shash, uint64_t bhash, int parent, int mut) {
  SearchIndiv in = {.text = text, .shash = shash, .bhash = bhash, .parent = parent, .mut = mut,
                    .fitness = NAN, .pending = true};
  in.scores = xcalloc((size_t)s->c->ntasks + 1, sizeof *in.scores);
  VEC_PUSH(&s->arch, in);
  int idx = s->arch.len - 1;
  search_seen_put(s, shash, idx);
  if (bhash) search_seen_put(s, bhash, idx);
  return idx;
}

void search_pop_insert(Search *s, int idx) {
  if (s->npop < s->c->population) {
    s->pop[s->npop++] = idx;
    return;
  }
  s->pop[s->head] = idx; /* the oldest */
  s->head = (s->head + 1) % s->npop;
}

static int tournament(Search *s) {
  int best = -1;
  for (int k = 0; k < s->c->tournament; k++) {
    int i = s->pop[search_rng_below(&s->rng, s->npop)];
    const SearchIndiv *a = &s->arch.data[i];
    if (best < 0 || (!a->pending && (s->arch.data[best].pending || a->fitness < s->arch.data[best].fitness)))
      best = i;
  }
  return best;
}

/* ---- parallel evaluation --------------------------------------------------------- */

typedef struct Batch {
  Search *s;
  const int *idx;
  int n, next;
  pthread_mutex_t lock;
} Batch;

typedef struct WorkerArg {
  Batch *b;
  int worker;
} WorkerArg;

static void eval_one(Search *s, int worker, SearchIndiv *in) {
  const SearchConfig *c = s->c;
  double sum = 0;
  if (c->eval(c->user, worker, in->text, in->scores) != 0)
    for (int k = 0; k < c->ntasks; k++) in->scores[k] = SEARCH_WORST;
  for (int k = 0; k < c->ntasks; k++) {
    double v = in->scores[k];
    in->scores[k] = isfinite(v) ? fmin(fmax(v, 0), SEARCH_WORST) : SEARCH_WORST;
    sum += in->scores[k];
  }
  in->fitness = c->ntasks ? sum / c->ntasks : SEARCH_WORST;
}

static void *worker_main(void *arg) {
  WorkerArg *w = arg;
  Batch *b = w->b;
  for (;;) {
    pthread_mutex_lock(&b->lock);
    int i = b->next < b->n ? b->next++ : -1;
    pthread_mutex_unlock(&b->lock);
    if (i < 0) return NULL;
    eval_one(b->s, w->worker, &b->s->arch.data[b->idx[i]]);
  }
}

static void evaluate(Search *s, const int *idx, int n) {
  Batch b = {.s = s, .idx = idx, .n = n};
  pthread_mutex_init(&b.lock, NULL);
  int nt = s->c->threads < n ? s->c->threads : n;
  pthread_t th[SEARCH_MAX_THREADS];
  WorkerArg args[SEARCH_MAX_THREADS];
  int started = 0;
  for (int w = 1; w < nt; w++) {
    args[w] = (WorkerArg){&b, w};
    if (pthread_create(&th[w], NULL, worker_main, &args[w]) != 0) break;
    started = w;
  }
  args[0] = (WorkerArg){&b, 0};
  worker_main(&args[0]);
  for (int w = 1; w <= started; w++) pthread_join(th[w], NULL);
  pthread_mutex_destroy(&b.lock);
  double now = search_elapsed(s);
  for (int i = 0; i < n; i++) {
    SearchIndiv *in = &s->arch.data[idx[i]];
    in->pending = false;
    in->time_s = now;
    if (!(in->fitness >= s->st.best_fitness)) s->st.best_fitness = in->fitness;
  }
  s->st.evals += n;
}

/* ---- one batch ------------------------------------------------------------------- */

typedef struct { int *data; int len, cap; } IntVec;

/* Makes one child; adds it to `batch` when it is new. */
static void child(Search *s, IntVec *batch) {
  const SearchConfig *c = s->c;
  SearchMutateOptions mo = {.anchor = c->anchor, .max_stmts = c->max_stmts};
  int parent = tournament(s);
  char *text = NULL, *simple = NULL;
  SearchMutation kind;
  s->st.children++;
  uint64_t sh = 0;
  if (search_mutate(s->arch.data[parent].text, &mo, &s->rng, &text, &kind) != SEARCH_OK ||
      search_simplify(c->anchor, text, &simple, &sh) != 0) {
    s->st.invalid++;
    free(text);
    return;
  }
  free(text);
  int dup = search_seen_get(s, sh);
  uint64_t bh = dup < 0 && c->behaviour ? c->behaviour(c->user, simple) : 0;
  if (dup < 0 && bh) dup = search_seen_get(s, bh);
  if (dup >= 0) {
    s->st.duplicates++;
    search_seen_put(s, sh, dup);
    search_pop_insert(s, dup);
    free(simple);
    return;
  }
  int idx = search_add_indiv(s, simple, sh, bh, parent, (int)kind);
  search_pop_insert(s, idx);
  VEC_PUSH(batch, idx);
}

/* Returns the number of new candidates evaluated. */
static int run_batch(Search *s) {
  IntVec batch = {0};
  int want = s->c->batch;
  for (long tries = 0; batch.len < want && tries < (long)want * TRIES_PER_CHILD; tries++) child(s, &batch);
  double t0 = util_now_ms();
  if (batch.len) evaluate(s, batch.data, batch.len);
  s->st.eval_s += (util_now_ms() - t0) / 1000;
  int n = batch.len;
  VEC_FREE(&batch);
  return n;
}

double search_elapsed(const Search *s) { return s->elapsed_base + (util_now_ms() - s->t0_ms) / 1000; }

static bool done(Search *s) {
  const SearchConfig *c = s->c;
  if (c->max_evals > 0 && s->st.evals >= c->max_evals) return true;
  if (c->budget_s > 0 && search_elapsed(s) >= c->budget_s) return true;
  return c->stop && *c->stop;
}

/* ---- starting and finishing -------------------------------------------------------- */

static int add_starts(Search *s, char **err) {
  const SearchConfig *c = s->c;
  IntVec batch = {0};
  for (int i = 0; i < c->nstarts; i++) {
    char *simple = NULL;
    uint64_t sh = 0;
    if (search_simplify(c->anchor, c->starts[i], &simple, &sh) != 0) {
      Str m = {0};
      str_printf(&m, "start program %d does not check (run `optc check` on it)", i + 1);
      *err = str_take(&m);
      VEC_FREE(&batch);
      return -1;
    }
    int dup = search_seen_get(s, sh);
    if (dup >= 0) {
      free(simple);
      search_pop_insert(s, dup);
      continue;
    }
    uint64_t bh = c->behaviour ? c->behaviour(c->user, simple) : 0;
    int idx = search_add_indiv(s, simple, sh, bh, -1, -1);
    search_pop_insert(s, idx);
    VEC_PUSH(&batch, idx);
  }
  evaluate(s, batch.data, batch.len);
  VEC_FREE(&batch);
  return 0;
}

void search_config_init(SearchConfig *c) {
  memset(c, 0, sizeof *c);
  c->population = 64;
  c->tournament = 8;
  c->batch = 8;
  c->threads = 1;
  c->max_stmts = 16;
  c->seed = 1;
  c->checkpoint_s = 10;
  c->top = 5;
}

static void fill_result(Search *s, SearchResult *res) {
  res->stats = s->st;
  int *order = NULL;
  int n = search_ranking(s, &order);
  res->nbest = n < s->c->top ? n : s->c->top;
  res->best = xcalloc((size_t)res->nbest + 1, sizeof *res->best);
  res->best_fitness = xcalloc((size_t)res->nbest + 1, sizeof *res->best_fitness);
  res->best_is_start = xcalloc((size_t)res->nbest + 1, sizeof *res->best_is_start);
  for (int i = 0; i < res->nbest; i++) {
    res->best[i] = xstrdup(s->arch.data[order[i]].text);
    res->best_fitness[i] = s->arch.data[order[i]].fitness;
    res->best_is_start[i] = s->arch.data[order[i]].parent < 0;
  }
  free(order);
}

void search_free(Search *s) {
  for (int i = 0; i < s->arch.len; i++) {
    free(s->arch.data[i].text);
    free(s->arch.data[i].scores);
  }
  VEC_FREE(&s->arch);
  free(s->pop);
  free(s->seen_keys);
  free(s->seen_vals);
}

static int check_config(const SearchConfig *c, char **err) {
  const char *bad = NULL;
  if (c->nstarts < 1) bad = "no start program";
  else if (c->population < 1 || c->tournament < 1 || c->batch < 1) bad = "population, tournament and batch must be >= 1";
  else if (c->threads < 1 || c->threads > SEARCH_MAX_THREADS) bad = "threads must be in 1..256";
  else if (c->max_evals <= 0 && c->budget_s <= 0) bad = "no budget (an evaluation count or seconds)";
  else if (!c->eval) bad = "no evaluator";
  if (bad) *err = xstrdup(bad);
  return bad ? -1 : 0;
}

static int start(Search *s, char **err) {
  if (s->c->resume) return search_checkpoint_load(s, err);
  search_rng_seed(&s->rng, s->c->seed);
  return add_starts(s, err);
}

static int finish(Search *s, char **err) {
  if (!s->c->out_dir) return 0;
  if (search_checkpoint_save(s, err) != 0) return -1;
  return search_write_outputs(s, err);
}

int search_run(const SearchConfig *c, SearchResult *res, char **err) {
  memset(res, 0, sizeof *res);
  *err = NULL;
  if (check_config(c, err) != 0) return -1;
  Search s = {.c = c, .t0_ms = util_now_ms()};
  s.st.best_fitness = INFINITY;
  s.pop = xcalloc((size_t)c->population, sizeof *s.pop);
  int rc = start(&s, err);
  double last = util_now_ms();
  int empty = 0;
  while (rc == 0 && !done(&s) && empty < MAX_EMPTY_BATCHES) {
    empty = run_batch(&s) ? 0 : empty + 1;
    s.st.elapsed_s = search_elapsed(&s);
    if (c->progress) c->progress(c->progress_user, &s.st);
    if (c->out_dir && util_now_ms() - last >= c->checkpoint_s * 1000) {
      rc = search_checkpoint_save(&s, err);
      if (rc == 0) rc = search_write_outputs(&s, err);
      last = util_now_ms();
    }
  }
  s.st.elapsed_s = search_elapsed(&s);
  if (rc == 0) rc = finish(&s, err);
  if (rc == 0) fill_result(&s, res);
  search_free(&s);
  return rc;
}

void search_result_free(SearchResult *r) {
  for (int i = 0; i < r->nbest; i++) free(r->best[i]);
  free(r->best);
  free(r->best_fitness);
  free(r->best_is_start);
  memset(r, 0, sizeof *r);
}

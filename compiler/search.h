/* search.h: symbolic optimizer search (`optc search`, docs/search.md).
 *
 * A candidate is the canonical text of a whole .opt program (fmt output,
 * comments dropped).  The pieces, each usable alone:
 * - SearchRng: splitmix64, the only randomness of a search.
 * - search_mutate: parse and check a parent, change its update body once
 *   (insert, delete or modify a statement), print the child with fmt and
 *   check it again with sema.  An invalid child is reported, never kept.
 * - search_simplify: drop statements that neither p nor any state depends
 *   on, and hash the structure of what is left (commutative operands in a
 *   canonical order, locals renamed by first assignment).
 * - search_run: regularised evolution (Real et al. 2019) over candidates,
 *   with deduplication, a pthread worker pool calling the caller's
 *   evaluator, checkpoints and the output files.  The evaluator and the
 *   behaviour hash are callbacks so that this part needs only the front
 *   end; the JIT/runtime evaluator lives in tool_search_eval.c.
 * Fitness is "lower is better": the mean over tasks of a score in [0, 1].
 */
#ifndef OPTC_SEARCH_H
#define OPTC_SEARCH_H

#include "util.h"

/* ---- randomness --------------------------------------------------------- */

typedef struct SearchRng {
  uint64_t state;
} SearchRng;

void search_rng_seed(SearchRng *r, uint64_t seed);
uint64_t search_rng_next(SearchRng *r);
double search_rng_unit(SearchRng *r);      /* uniform in [0, 1) */
int search_rng_below(SearchRng *r, int n); /* uniform in [0, n); 0 when n <= 0 */

/* ---- mutation ------------------------------------------------------------ */

#define SEARCH_MUTATIONS(X)                                           \
  X(INSERT, "insert")   /* new statement, its result used later */    \
  X(DELETE, "delete")   /* drop a statement */                        \
  X(SWAP_ARG, "swap_arg") /* a variable read replaced by another */   \
  X(PERTURB, "perturb") /* a constant times a random factor */        \
  X(SWAP_FN, "swap_fn") /* sqrt -> tanh, min -> max, ... */           \
  X(SWAP_OP, "swap_op") /* + - * / among themselves */                \
  X(WRAP, "wrap")       /* e -> fn(e) or e -> e op leaf */

typedef enum SearchMutation {
#define X(id, name) SEARCH_MUT_##id,
  SEARCH_MUTATIONS(X)
#undef X
  SEARCH_MUT_COUNT
} SearchMutation;

const char *search_mutation_name(SearchMutation m);

typedef struct SearchMutateOptions {
  const char *anchor; /* file name for diagnostics and relative imports */
  int max_stmts;      /* statements in the update body, nested ones counted */
} SearchMutateOptions;

/* Why a child was discarded (SEARCH_OK: it is valid). */
typedef enum SearchReject {
  SEARCH_OK = 0,
  SEARCH_REJ_PARENT,   /* the parent itself does not check */
  SEARCH_REJ_NOTHING,  /* no mutation applied to this parent */
  SEARCH_REJ_TOO_LONG, /* more than max_stmts statements */
  SEARCH_REJ_SEMA      /* the child fails sema */
} SearchReject;

/* One mutation of `parent`.  On SEARCH_OK *child is the child's canonical
 * text (malloc'd; the caller frees it); otherwise *child is NULL.  *kind
 * gets the mutation tried.  Deterministic in (parent, rng state). */
SearchReject search_mutate(const char *parent, const SearchMutateOptions *o, SearchRng *rng,
                           char **child, SearchMutation *kind);

/* Counts the statements of the update body of checked text, nested ones
 * included; -1 when the text does not check. */
int search_count_stmts(const char *anchor, const char *text);

/* ---- simplification and structure hash ------------------------------------ */

/* Checks `text`, removes dead statements from its update body (repeatedly,
 * until none is left), and returns the canonical text in *out (malloc'd)
 * and its structure hash.  Returns 0, or -1 when `text` does not check. */
int search_simplify(const char *anchor, const char *text, char **out, uint64_t *hash);

/* Rewrites the `optimizer NAME` line of canonical text; malloc'd result. */
char *search_rename(const char *text, const char *name);

/* ---- evolution --------------------------------------------------------------- */

/* Worst score of a task (diverged, non-finite, failed to compile). */
#define SEARCH_WORST 1.0

/* Evaluates candidate `text` on every task: scores[k] in [0, 1] (lower is
 * better).  Called from worker `worker` (0 .. threads-1), never from two
 * threads with the same worker index at once.  Returns 0, or -1 when the
 * candidate cannot be evaluated at all (all scores then SEARCH_WORST). */
typedef int (*SearchEvalFn)(void *user, int worker, const char *text, double *scores);
/* Behaviour hash of `text` (0: unknown, then only the structure hash
 * deduplicates).  Called from the main thread. */
typedef uint64_t (*SearchBehaviourFn)(void *user, const char *text);

typedef struct SearchStats {
  long evals;      /* candidates evaluated (start programs included) */
  long children;   /* children generated */
  long invalid;    /* children discarded by mutation or sema */
  long duplicates; /* children skipped because their hash was seen */
  double elapsed_s;
  double best_fitness;
  double eval_s;   /* wall time spent in evaluation batches */
} SearchStats;

typedef struct SearchConfig {
  const char *anchor;
  const char *const *starts; /* start programs (text) */
  int nstarts;
  const char *const *task_names; /* column names of the per-task scores */
  int ntasks;
  const char *tasks_key; /* describes the tasks; a resumed run must match */
  int population, tournament, batch, threads, max_stmts;
  uint64_t seed;
  long max_evals;       /* 0: none */
  double budget_s;      /* 0: none */
  const char *out_dir;  /* checkpoint and outputs; NULL: none written */
  bool resume;
  double checkpoint_s;  /* seconds between checkpoints */
  int top;              /* best_K.opt files written */
  SearchEvalFn eval;
  SearchBehaviourFn behaviour;
  void *user;
  /* Checked between batches: nonzero stops the search (a signal handler's
   * flag; may be NULL). */
  const volatile int *stop;
  /* Called after every batch (may be NULL). */
  void (*progress)(void *user, const SearchStats *st);
  void *progress_user;
} SearchConfig;

void search_config_init(SearchConfig *c);

typedef struct SearchResult {
  SearchStats stats;
  char **best;          /* the best distinct programs, best first */
  double *best_fitness;
  bool *best_is_start; /* the program is one of the start programs */
  int nbest;
} SearchResult;

/* Runs the search.  Returns 0, or -1 with *err (malloc'd) for a bad start
 * program, an unusable checkpoint or an output that cannot be written. */
int search_run(const SearchConfig *c, SearchResult *res, char **err);
void search_result_free(SearchResult *r);

#endif

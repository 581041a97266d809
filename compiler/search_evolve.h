/* search_evolve.h: the state of one search, shared by search_evolve.c
 * (the evolution loop) and search_output.c (checkpoint and output files).
 * Not public. */
#ifndef OPTC_SEARCH_EVOLVE_H
#define OPTC_SEARCH_EVOLVE_H

#include "search.h"

/* Worker threads at most: far more cores than a search machine has. */
enum { SEARCH_MAX_THREADS = 256 };

typedef struct SearchIndiv {
  char *text;           /* simplified canonical program */
  uint64_t shash, bhash; /* structure and behaviour hashes (bhash 0: none) */
  int parent, mut;      /* archive index and SearchMutation; -1 for a start */
  double fitness;       /* mean of scores; NaN while pending */
  double *scores;       /* one per task */
  double time_s;        /* search time when its evaluation finished */
  bool pending;         /* generated, not yet evaluated */
} SearchIndiv;

typedef struct Search {
  const SearchConfig *c;
  SearchRng rng;
  struct { SearchIndiv *data; int len, cap; } arch;
  int *pop; /* archive indices; population slots */
  int npop, head;
  uint64_t *seen_keys;
  int *seen_vals;
  size_t seen_cap, seen_len;
  SearchStats st;
  double t0_ms, elapsed_base;
} Search;

double search_elapsed(const Search *s);
int search_seen_get(Search *s, uint64_t key);
void search_seen_put(Search *s, uint64_t key, int idx);
/* Takes ownership of text; registers both hashes. */
int search_add_indiv(Search *s, char *text, uint64_t shash, uint64_t bhash, int parent, int mut);
void search_pop_insert(Search *s, int idx);
void search_free(Search *s);

/* Evaluated archive indices, best fitness first (ties: lower index);
 * *order is malloc'd.  Returns the count. */
int search_ranking(const Search *s, int **order);

/* DIR/search.ckpt, written atomically / read back (the config must match
 * the one the checkpoint was written with, budgets aside). */
int search_checkpoint_save(const Search *s, char **err);
int search_checkpoint_load(Search *s, char **err);

/* leaderboard.md, best_K.opt, log.csv and fitness.svg in DIR. */
int search_write_outputs(const Search *s, char **err);

#endif

/* search_eval.h: evaluating search candidates on the runtime's tasks.
 *
 * Implemented in tool_search_eval.c (it needs the JIT, the interpreter and
 * liboptrt, which the front-end objects of search*.c do not link).  A task
 * list is text: specs separated by commas, each NAME[/KEY=VALUE...][@STEPS],
 * e.g. "quadratic/dim=32/cond=100@200,logistic,mlp/hidden=16".
 *
 * A candidate's score on a task (lower is better, in [0, 1]):
 *   classifiers (tasks with an accuracy): 1 - accuracy at the end;
 *   others: min(1, final loss / initial loss);
 *   1 when the run diverged (a loss not finite or above 10x the initial
 *   one at any step: the run stops there), the step failed, or the
 *   program does not compile.
 * Each task is run once per learning-rate multiplier (the program's `lr`
 * hyper times 0.3, 1 and 3; programs without `lr` run once) and the best
 * score is kept.  Runs use one runtime thread and fixed seeds, so a score
 * is a function of the program text alone.
 */
#ifndef OPTC_SEARCH_EVAL_H
#define OPTC_SEARCH_EVAL_H

#include "search.h"

typedef struct SearchTaskSpec {
  char *name;    /* registry name */
  char *options; /* "key=value,..." or NULL */
  char *label;   /* the spec as written, for column names */
  int steps;
} SearchTaskSpec;

/* Parses a task list; default_steps where a spec gives none.  Returns 0,
 * or -1 with *err (malloc'd).  Free with search_tasks_free. */
int search_tasks_parse(const char *list, int default_steps, SearchTaskSpec **out, int *n, char **err);
void search_tasks_free(SearchTaskSpec *t, int n);

typedef struct SearchEvaluator SearchEvaluator;

/* Creates the tasks (seed task_seed) once per worker.  NULL with *err. */
SearchEvaluator *search_evaluator_create(const SearchTaskSpec *tasks, int ntasks, int workers,
                                         const char *anchor, uint64_t task_seed, char **err);
void search_evaluator_free(SearchEvaluator *e);

/* SearchEvalFn and SearchBehaviourFn over a SearchEvaluator. */
int search_evaluator_eval(void *evaluator, int worker, const char *text, double *scores);
uint64_t search_evaluator_behaviour(void *evaluator, const char *text);

/* Counters of the evaluator (all workers): programs compiled, total
 * compile milliseconds. */
void search_evaluator_counts(SearchEvaluator *e, long *compiled, double *compile_ms);

/* The learning-rate multipliers of the sweep. */
extern const double SEARCH_LR_MULTS[3];

#endif

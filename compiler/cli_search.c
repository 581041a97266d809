/* cli_search.c: `optc search`, symbolic optimizer search (docs/search.md).
 *
 *   optc search --start FILE... [--tasks LIST] (--budget SECONDS | --evals N)
 *               [--seed S] --out DIR [--threads T] [--population P]
 *               [--tournament S] [--batch B] [--max-len L] [--top K]
 *               [--holdout LIST] [--resume] [--bench]
 *
 * Reads the start programs, runs search_run (search_evolve.c) with the
 * JIT evaluator of tool_search_eval.c, then evaluates the best programs and
 * the start programs on the held-out tasks (holdout.md).  Progress goes to
 * stderr, redrawn in place on a terminal and one line every 10 seconds
 * otherwise; Ctrl-C stops after the current batch, with a checkpoint.  The
 * last lines on stdout are the benchmark figures: candidates compiled and
 * evaluated per second and the share of duplicates skipped.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "search_eval.h"
#include "sema.h"

#define DEFAULT_TASKS "quadratic/dim=32/cond=100@100,rosenbrock/dim=4@100,logistic/n=256@100,mlp/n=256/hidden=16@100"
#define DEFAULT_HOLDOUT "quadratic/dim=64/cond=1000@200,noisy_quadratic/dim=64/sigma=0.1@200,softmax/n=256/d=4/k=8@150,mlp/n=256/d=4/k=4/hidden=24@150"
/* Start programs at most; more is surely a mistaken glob. */
enum { MAX_STARTS = 64, DEFAULT_STEPS = 100, HOLDOUT_TOP = 3 };
#define MAX_SOURCE_BYTES (1u << 20)

static volatile int interrupted; /* set by SIGINT; read between batches */

typedef struct SearchArgs {
  const char *starts[MAX_STARTS];
  int nstarts;
  const char *tasks, *holdout, *out;
  long evals, population, tournament, batch, threads, max_len, top;
  double budget;
  unsigned long long seed;
  bool resume, bench;
} SearchArgs;

static void usage(FILE *out) {
  fprintf(out,
          "usage: optc search --start FILE... (--budget SECONDS | --evals N) --out DIR\n"
          "                   [--tasks LIST] [--holdout LIST] [--seed S] [--threads T]\n"
          "                   [--population P] [--tournament S] [--batch B] [--max-len L]\n"
          "                   [--top K] [--resume] [--bench]\n\n"
          "Evolves optimizer programs from the start files (regularised evolution),\n"
          "evaluating each new candidate with the JIT on the tasks of LIST.\n"
          "LIST: NAME[/KEY=VALUE...][@STEPS] separated by commas.  Defaults:\n"
          "  --tasks   %s\n  --holdout %s\n"
          "  --seed 1, --threads: online cores, --population 64, --tournament 8,\n"
          "  --batch 16, --max-len 16, --top 5.  --bench: no held-out evaluation,\n"
          "  and --evals 200 when no budget is given.\n"
          "Writes DIR/leaderboard.md, best_K.opt, log.csv, fitness.svg, holdout.md and\n"
          "the checkpoint search.ckpt (--resume continues from it).  See docs/search.md.\n",
          DEFAULT_TASKS, DEFAULT_HOLDOUT);
}

static int parse_long(const char *flag, const char *val, long lo, long hi, long *out) {
  if (!cli_parse_int(val, lo, hi, out))
    return cli_usage_error("search", "%s wants an integer in %ld..%ld, not '%s'", flag, lo, hi, val);
  return 0;
}

static int parse_value(SearchArgs *a, const char *flag, const char *val) {
  double d;
  if (!strcmp(flag, "--tasks")) a->tasks = val;
  else if (!strcmp(flag, "--holdout")) a->holdout = val;
  else if (!strcmp(flag, "--out")) a->out = val;
  else if (!strcmp(flag, "--evals")) return parse_long(flag, val, 1, 100000000, &a->evals);
  else if (!strcmp(flag, "--population")) return parse_long(flag, val, 1, 100000, &a->population);
  else if (!strcmp(flag, "--tournament")) return parse_long(flag, val, 1, 100000, &a->tournament);
  else if (!strcmp(flag, "--batch")) return parse_long(flag, val, 1, 4096, &a->batch);
  else if (!strcmp(flag, "--threads")) return parse_long(flag, val, 1, 256, &a->threads);
  else if (!strcmp(flag, "--max-len")) return parse_long(flag, val, 1, 1000, &a->max_len);
  else if (!strcmp(flag, "--top")) return parse_long(flag, val, 1, 100, &a->top);
  else if (!strcmp(flag, "--budget")) {
    if (!cli_parse_double(val, &d) || !(d > 0) || d > 1e7)
      return cli_usage_error("search", "--budget wants seconds > 0, not '%s'", val);
    a->budget = d;
  } else {
    if (!cli_parse_double(val, &d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
      return cli_usage_error("search", "--seed wants a non-negative integer, not '%s'", val);
    a->seed = (unsigned long long)d;
  }
  return 0;
}

static int add_start(SearchArgs *a, const char *file) {
  if (a->nstarts == MAX_STARTS) return cli_usage_error("search", "more than %d start files", MAX_STARTS);
  a->starts[a->nstarts++] = file;
  return 0;
}

static int parse_args(int argc, char **argv, SearchArgs *a) {
  static const char *with_value[] = {"--tasks", "--holdout", "--out", "--evals", "--population", "--tournament",
                                     "--batch", "--threads", "--max-len", "--top", "--budget", "--seed"};
  bool in_start = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool takes = false;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) takes |= !strcmp(arg, with_value[k]);
    if (arg[0] == '-') in_start = false;
    if (takes) {
      if (i + 1 >= argc) return cli_usage_error("search", "%s needs a value", arg);
      if (parse_value(a, arg, argv[++i])) return 2;
    } else if (!strcmp(arg, "--start")) {
      in_start = true;
    } else if (!strcmp(arg, "--resume") || !strcmp(arg, "--bench")) {
      *(!strcmp(arg, "--resume") ? &a->resume : &a->bench) = true;
    } else if (arg[0] == '-') {
      return cli_usage_error("search", "unknown option '%s'", arg);
    } else if (in_start) {
      if (add_start(a, arg)) return 2;
    } else {
      return cli_usage_error("search", "unexpected argument '%s' (start files follow --start)", arg);
    }
  }
  if (a->bench && !a->evals && !(a->budget > 0)) a->evals = 200;
  if (!a->nstarts) return cli_usage_error("search", "no --start FILE given");
  if (!a->out) return cli_usage_error("search", "no --out DIR given");
  if (!a->evals && !(a->budget > 0)) return cli_usage_error("search", "give --budget SECONDS or --evals N");
  return 0;
}

/* ---- progress ------------------------------------------------------------------- */

typedef struct Progress {
  bool tty;
  double last_ms;
} Progress;

static void progress(void *user, const SearchStats *st) {
  Progress *p = user;
  double now = util_now_ms();
  if (!p->tty && now - p->last_ms < 10000) return;
  p->last_ms = now;
  fprintf(stderr, "%s%ld evals  %.1f/s  best %.4f  invalid %ld  duplicates %ld  %.0f s%s", p->tty ? "\r" : "",
          st->evals, st->elapsed_s > 0 ? st->evals / st->elapsed_s : 0.0, st->best_fitness, st->invalid,
          st->duplicates, st->elapsed_s, p->tty ? "   " : "\n");
}

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* ---- held-out evaluation ------------------------------------------------------------ */

typedef struct Holdout {
  SearchTaskSpec *tasks;
  int ntasks;
  SearchEvaluator *ev;
} Holdout;

static double holdout_row(Holdout *h, const char *text, double *scores) {
  search_evaluator_eval(h->ev, 0, text, scores);
  double sum = 0;
  for (int k = 0; k < h->ntasks; k++) sum += scores[k];
  return sum / h->ntasks;
}

static void row(Str *o, const char *name, double fit, const double *scores, int n) {
  str_printf(o, "| %s | %.4f |", name, fit);
  for (int k = 0; k < n; k++) str_printf(o, " %.4f |", scores[k]);
  str_putc(o, '\n');
}

static void holdout_table(Holdout *h, const SearchArgs *a, char **starts, const SearchResult *res, Str *o) {
  str_printf(o, "# Held-out evaluation\n\nScores on tasks not used in the search (lower is better; "
                "normalised final loss or 1 - accuracy, best of lr x {0.3, 1, 3}; see docs/search.md).\n\n"
                "| program | fitness |");
  for (int k = 0; k < h->ntasks; k++) str_printf(o, " %s |", h->tasks[k].label);
  str_puts(o, "\n|---|---|");
  for (int k = 0; k < h->ntasks; k++) str_puts(o, "---|");
  str_putc(o, '\n');
  double *sc = xcalloc((size_t)h->ntasks + 1, sizeof *sc), *base = xcalloc((size_t)a->nstarts + 1, sizeof *base);
  for (int i = 0; i < a->nstarts; i++) {
    base[i] = holdout_row(h, starts[i], sc);
    row(o, a->starts[i], base[i], sc, h->ntasks);
  }
  Str verdicts = {0};
  for (int i = 0; i < res->nbest && i < HOLDOUT_TOP; i++) {
    char name[32];
    snprintf(name, sizeof name, "best_%d.opt", i + 1);
    double fit = holdout_row(h, res->best[i], sc);
    row(o, name, fit, sc, h->ntasks);
    for (int s = 0; s < a->nstarts; s++)
      str_printf(&verdicts, "- %s%s %s %s on the held-out tasks (%.6f vs %.6f).\n", name,
                 res->best_is_start[i] ? " (a start program itself)" : "",
                 fit < base[s] ? "beats" : "does not beat", a->starts[s], fit, base[s]);
  }
  str_printf(o, "\n%s", verdicts.data ? verdicts.data : "");
  str_free(&verdicts);
  free(sc);
  free(base);
}

static int write_holdout(const SearchArgs *a, char **starts, const SearchResult *res) {
  Holdout h = {0};
  char *err = NULL;
  int rc = search_tasks_parse(a->holdout, DEFAULT_STEPS, &h.tasks, &h.ntasks, &err);
  if (rc == 0 && !(h.ev = search_evaluator_create(h.tasks, h.ntasks, 1, a->starts[0], 2, &err))) rc = -1;
  Str o = {0};
  if (rc == 0) {
    holdout_table(&h, a, starts, res, &o);
    Str path = {0};
    str_printf(&path, "%s/holdout.md", a->out);
    rc = util_write_file_atomic(path.data, o.data, o.len, &err);
    str_free(&path);
    fputs(o.data, stdout);
  }
  if (rc != 0) fprintf(stderr, "optc search: error: %s\n", err ? err : "held-out evaluation failed");
  free(err);
  str_free(&o);
  search_evaluator_free(h.ev);
  search_tasks_free(h.tasks, h.ntasks);
  return rc ? 2 : 0;
}

/* ---- the search ------------------------------------------------------------------- */

static void report(const SearchResult *r, SearchEvaluator *ev) {
  const SearchStats *st = &r->stats;
  long compiled;
  double cms;
  search_evaluator_counts(ev, &compiled, &cms);
  double valid = (double)(st->children - st->invalid);
  printf("evaluations: %ld\nchildren: %ld\ninvalid: %ld\nduplicates_skipped: %ld\n", st->evals, st->children,
         st->invalid, st->duplicates);
  printf("duplicate_share: %.4f\n", valid > 0 ? st->duplicates / valid : 0.0);
  printf("seconds: %.2f\ncompiled_this_run: %ld\ncompile_ms_mean: %.2f\n", st->elapsed_s, compiled,
         compiled ? cms / compiled : 0.0);
  printf("candidates_per_second: %.2f\n", st->eval_s > 0 ? compiled / st->eval_s : 0.0);
  for (int i = 0; i < r->nbest; i++) printf("best_%d: %.6f\n", i + 1, r->best_fitness[i]);
}

static char **read_starts(const SearchArgs *a) {
  char **t = xcalloc((size_t)a->nstarts, sizeof *t);
  for (int i = 0; i < a->nstarts; i++) {
    char *err = NULL;
    size_t len;
    if (util_read_file(a->starts[i], MAX_SOURCE_BYTES, &t[i], &len, &err) != 0) {
      fprintf(stderr, "optc search: error: %s\n", err);
      free(err);
      for (int k = 0; k < i; k++) free(t[k]);
      free(t);
      return NULL;
    }
  }
  return t;
}

/* Every start program must check: its diagnostics go to stderr as
 * `optc check` prints them.  Returns the number of files with errors. */
static int check_starts(const SearchArgs *a, char **texts) {
  int bad = 0;
  for (int i = 0; i < a->nstarts; i++) {
    SrcMgr sm;
    srcmgr_init(&sm);
    DiagPrinter printer = {stderr, &sm};
    DiagSink sink;
    diag_init(&sink, &sm, diag_print_fn, &printer);
    int file = srcmgr_add(&sm, a->starts[i], texts[i], strlen(texts[i]));
    SemaProgram sp;
    SemaOptions so = {0};
    bad += sema_check_file(&sp, &sm, file, &sink, &so) != 0;
    sema_program_free(&sp);
    srcmgr_free(&sm);
  }
  return bad;
}

static void config_from(SearchConfig *c, const SearchArgs *a, char **starts) {
  search_config_init(c);
  c->anchor = a->starts[0];
  c->starts = (const char *const *)starts;
  c->nstarts = a->nstarts;
  c->tasks_key = a->tasks;
  c->seed = a->seed;
  c->max_evals = a->evals;
  c->budget_s = a->budget;
  c->out_dir = a->out;
  c->resume = a->resume;
  c->stop = &interrupted;
  if (a->population) c->population = (int)a->population;
  if (a->tournament) c->tournament = (int)a->tournament;
  c->batch = a->batch ? (int)a->batch : 16;
  if (a->max_len) c->max_stmts = (int)a->max_len;
  if (a->top) c->top = (int)a->top;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  c->threads = a->threads ? (int)a->threads : (int)(cores > 0 && cores <= 256 ? cores : 1);
}

static int search(const SearchArgs *a, char **starts, SearchTaskSpec *tasks, int ntasks) {
  char *err = NULL;
  SearchConfig c;
  config_from(&c, a, starts);
  SearchEvaluator *ev = search_evaluator_create(tasks, ntasks, c.threads, a->starts[0], 1, &err);
  if (!ev) {
    fprintf(stderr, "optc search: error: %s\n", err);
    free(err);
    return 2;
  }
  const char **names = xcalloc((size_t)ntasks, sizeof *names);
  for (int k = 0; k < ntasks; k++) names[k] = tasks[k].label;
  c.task_names = names;
  c.ntasks = ntasks;
  c.eval = search_evaluator_eval;
  c.behaviour = search_evaluator_behaviour;
  c.user = ev;
  Progress p = {.tty = isatty(STDERR_FILENO) != 0, .last_ms = util_now_ms()};
  c.progress = progress;
  c.progress_user = &p;
  SearchResult res;
  void (*old)(int) = signal(SIGINT, on_sigint);
  int rc = search_run(&c, &res, &err);
  signal(SIGINT, old);
  if (p.tty) fputc('\n', stderr);
  if (rc != 0) fprintf(stderr, "optc search: error: %s\n", err);
  if (rc == 0 && !a->bench) rc = write_holdout(a, starts, &res);
  if (rc == 0) report(&res, ev);
  free(err);
  search_result_free(&res);
  free(names);
  search_evaluator_free(ev);
  return rc ? 2 : 0;
}

/* --resume needs DIR/search.ckpt: refused before anything is created. */
static int check_resumable(const SearchArgs *a) {
  Str path = {0};
  str_printf(&path, "%s/search.ckpt", a->out);
  int rc = 0;
  if (access(path.data, R_OK) != 0) {
    fprintf(stderr, "optc search: error: cannot resume: '%s': %s\n", path.data, strerror(errno));
    rc = 2;
  }
  free(path.data);
  return rc;
}

int cli_search(int argc, char **argv) {
  SearchArgs a = {.tasks = DEFAULT_TASKS, .holdout = DEFAULT_HOLDOUT, .seed = 1};
  for (int i = 1; i < argc; i++)
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc;
  SearchTaskSpec *tasks = NULL;
  int ntasks = 0;
  char *err = NULL;
  if (search_tasks_parse(a.tasks, DEFAULT_STEPS, &tasks, &ntasks, &err) != 0) {
    rc = cli_usage_error("search", "%s", err);
    free(err);
    return rc;
  }
  char **starts = read_starts(&a);
  rc = starts ? 0 : 2;
  if (starts && check_starts(&a, starts)) rc = 1; /* diagnostics printed */
  if (!rc && a.resume) rc = check_resumable(&a);
  if (!rc && mkdir(a.out, 0777) != 0 && access(a.out, W_OK) != 0) {
    fprintf(stderr, "optc search: error: cannot create or write '%s'\n", a.out);
    rc = 2;
  }
  if (!rc) rc = search(&a, starts, tasks, ntasks);
  for (int i = 0; starts && i < a.nstarts; i++) free(starts[i]);
  free(starts);
  search_tasks_free(tasks, ntasks);
  return rc;
}

/* e2e_search.c: `optc search` end to end: the evaluator against a direct
 * runtime run, the behaviour hash, and whole searches that must be
 * bit-reproducible from their seed and resume from a checkpoint to the
 * same result.
 *
 * The evaluator lives in compiler/tool_search_eval.c (it needs the JIT and
 * the runtime, which the front-end search objects do not link); e2e tests
 * link it with the other tool objects. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "optc.h"
#include "optrt.h"
#include "optrt_tasks.h"
#include "search_eval.h"
#include "search_internal.h"
#include "tmpdir.h"

static const char SGD[] = "optimizer sgd\nhyper lr = 0.05\nupdate {\n  p = p - lr * g\n}\n";

/* ---- fitness against a direct runtime run ---------------------------------------- */

/* final/initial loss of plain SGD at rate lr on quadratic dim=8, seed 1,
 * with the gradient from the task: written without the evaluator. */
static double direct_sgd(double lr, int steps) {
  char *err = NULL;
  OptrtTask *task = optrt_task_create("quadratic", 1, "dim=8", &err);
  assert_non_null(task);
  float x[8], g[8];
  float *xs[1] = {x}, *gs[1] = {g};
  optrt_task_init(task, xs);
  OptcOptions o;
  optc_options_init(&o);
  OptcJit *jit = optc_jit_compile("sgd.opt", SGD, strlen(SGD), &o);
  assert_non_null(jit);
  OptrtKernel *k = optrt_wrap_descriptor(optc_jit_descriptor(jit), &err);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  Optrt *opt = optrt_create(k, &cfg, &err);
  optrt_add_group(opt, NULL);
  optrt_add_param(opt, 0, x, g, 8, 0);
  assert_int_equal(optrt_set_hyper(opt, 0, "lr", lr), 0);
  double f0, f;
  optrt_task_eval(task, (const float *const *)xs, NULL, &f0);
  for (int s = 0; s < steps; s++) {
    optrt_task_eval(task, (const float *const *)xs, gs, &f);
    assert_int_equal(optrt_step(opt), 0);
  }
  optrt_task_eval(task, (const float *const *)xs, NULL, &f);
  optrt_destroy(opt);
  optrt_kernel_close(k);
  optc_jit_free(jit);
  optrt_task_free(task);
  return fmin(f / f0, 1.0);
}

static SearchEvaluator *evaluator(const char *list, int workers, SearchTaskSpec **t, int *n) {
  char *err = NULL;
  assert_int_equal(search_tasks_parse(list, 100, t, n, &err), 0);
  SearchEvaluator *e = search_evaluator_create(*t, *n, workers, "x.opt", 1, &err);
  if (!e) fail_msg("%s", err);
  return e;
}

static void test_fitness_matches_runtime(void **state) {
  (void)state;
  SearchTaskSpec *t;
  int n;
  SearchEvaluator *e = evaluator("quadratic/dim=8@30", 1, &t, &n);
  assert_int_equal(n, 1);
  assert_int_equal(t[0].steps, 30);
  double score = -1;
  assert_int_equal(search_evaluator_eval(e, 0, SGD, &score), 0);
  double want = 1;
  for (int m = 0; m < 3; m++) want = fmin(want, direct_sgd(0.05 * SEARCH_LR_MULTS[m], 30));
  assert_true(want < 1);
  assert_true(score == want); /* bit for bit */
  /* a rule that diverges scores worst */
  const char *up = "optimizer up\nhyper lr = 0.05\nupdate {\n  p = p + 100 * g\n}\n";
  assert_int_equal(search_evaluator_eval(e, 0, up, &score), 0);
  assert_true(score == SEARCH_WORST);
  /* text that does not compile scores worst and reports it */
  assert_int_equal(search_evaluator_eval(e, 0, "optimizer x\nupdate { p = q }\n", &score), -1);
  assert_true(score == SEARCH_WORST);
  search_evaluator_free(e);
  search_tasks_free(t, n);
}

static void test_task_list_errors(void **state) {
  (void)state;
  SearchTaskSpec *t = NULL;
  int n = 0;
  char *err = NULL;
  assert_int_equal(search_tasks_parse("quadratic@0", 10, &t, &n, &err), -1);
  assert_string_equal(err, "task 'quadratic@0': steps after '@' must be 1..1000000");
  free(err);
  err = NULL;
  assert_int_equal(search_tasks_parse("a/x=1/y=2@7,b", 10, &t, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(t[0].name, "a");
  assert_string_equal(t[0].options, "x=1,y=2");
  assert_int_equal(t[0].steps, 7);
  assert_int_equal(t[1].steps, 10);
  search_tasks_free(t, n);
  assert_int_equal(search_tasks_parse("nosuchtask", 10, &t, &n, &err), 0);
  assert_null(search_evaluator_create(t, n, 1, "x.opt", 1, &err));
  assert_non_null(strstr(err, "nosuchtask"));
  free(err);
  search_tasks_free(t, n);
}

static void test_behaviour_hash(void **state) {
  (void)state;
  SearchTaskSpec *t;
  int n;
  SearchEvaluator *e = evaluator("quadratic/dim=8@5", 1, &t, &n);
  uint64_t a = search_evaluator_behaviour(e, "optimizer a\nhyper lr = 0.1\nupdate {\n  p = p - lr * (g + g)\n}\n");
  uint64_t b = search_evaluator_behaviour(e, "optimizer b\nhyper lr = 0.1\nupdate {\n  p = p - lr * 2 * g\n}\n");
  uint64_t c = search_evaluator_behaviour(e, "optimizer c\nhyper lr = 0.1\nupdate {\n  p = p - lr * 3 * g\n}\n");
  assert_true(a != 0);
  assert_true(a == b); /* different structure, same behaviour */
  assert_true(a != c);
  search_evaluator_free(e);
  search_tasks_free(t, n);
}

/* ---- whole searches -------------------------------------------------------------------- */

/* the MLP runs cblas_sgemm: its sums must not depend on OpenBLAS threads */
#define TASKS "quadratic/dim=8@20,logistic/n=64/d=4@20,mlp/n=64/hidden=8@20"

static char *slurp(const char *dir, const char *name) {
  char path[256], *text = NULL, *err = NULL;
  size_t len;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (util_read_file(path, 1 << 24, &text, &len, &err) != 0) fail_msg("%s", err);
  return text;
}

/* log.csv without its time column (the only part that depends on the clock). */
static char *log_without_time(const char *dir) {
  char *text = slurp(dir, "log.csv");
  Str o = {0};
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    assert_non_null(c2);
    str_append(&o, line, (size_t)(c1 - line));
    str_puts(&o, c2);
    str_putc(&o, '\n');
  }
  free(text);
  return str_take(&o);
}

static void run_search(const char *dir, long evals, int threads, bool resume, SearchResult *res) {
  SearchTaskSpec *t;
  int n;
  SearchEvaluator *e = evaluator(TASKS, threads, &t, &n);
  const char *starts[] = {SGD};
  const char *names[] = {t[0].label, t[1].label, t[2].label};
  SearchConfig c;
  search_config_init(&c);
  c.anchor = "x.opt";
  c.starts = starts;
  c.nstarts = 1;
  c.task_names = names;
  c.ntasks = n;
  c.tasks_key = TASKS;
  c.population = 6;
  c.tournament = 3;
  c.batch = 4;
  c.threads = threads;
  c.seed = 42;
  c.max_evals = evals;
  c.out_dir = dir;
  c.resume = resume;
  c.checkpoint_s = 0;
  c.top = 2;
  c.eval = search_evaluator_eval;
  c.behaviour = search_evaluator_behaviour;
  c.user = e;
  char *err = NULL;
  if (search_run(&c, res, &err) != 0) fail_msg("%s", err);
  search_evaluator_free(e);
  search_tasks_free(t, n);
}

static void test_reproducible_and_resumable(void **state) {
  (void)state;
  char d1[64], d2[64], d3[64];
  assert_non_null(test_mkdtemp(d1, sizeof d1, "optc_search_"));
  assert_non_null(test_mkdtemp(d2, sizeof d2, "optc_search_"));
  assert_non_null(test_mkdtemp(d3, sizeof d3, "optc_search_"));
  SearchResult a, b, c1, c2;
  run_search(d1, 9, 2, false, &a);
  run_search(d2, 9, 1, false, &b);
  assert_int_equal(a.stats.evals, 9);
  char *la = log_without_time(d1), *lb = log_without_time(d2);
  assert_string_equal(la, lb);
  assert_int_equal(a.nbest, b.nbest);
  for (int i = 0; i < a.nbest; i++) assert_string_equal(a.best[i], b.best[i]);
  assert_int_equal(a.stats.children, b.stats.children);
  assert_int_equal(a.stats.duplicates, b.stats.duplicates);
  /* stopped after 5 evaluations, resumed to 9: the same as never stopped */
  run_search(d3, 5, 2, false, &c1);
  assert_int_equal(c1.stats.evals, 5);
  run_search(d3, 9, 2, true, &c2);
  char *lc = log_without_time(d3);
  assert_string_equal(la, lc);
  for (int i = 0; i < a.nbest; i++) assert_string_equal(a.best[i], c2.best[i]);
  assert_int_equal(a.stats.children, c2.stats.children);
  /* outputs exist and the best program is canonical .opt naming found_1 */
  char *best = slurp(d1, "best_1.opt");
  assert_non_null(strstr(best, "\noptimizer found_1\n"));
  SearchChecked chk;
  assert_true(search_check(&chk, "x.opt", best));
  search_checked_free(&chk);
  free(best);
  free(la);
  free(lb);
  free(lc);
  search_result_free(&a);
  search_result_free(&b);
  search_result_free(&c1);
  search_result_free(&c2);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", d1, d2, d3);
  assert_int_equal(system(cmd), 0);
}

static void test_resume_refuses_other_settings(void **state) {
  (void)state;
  char d[64];
  assert_non_null(test_mkdtemp(d, sizeof d, "optc_search_"));
  SearchResult r;
  run_search(d, 5, 1, false, &r);
  search_result_free(&r);
  /* a corrupt checkpoint is reported, never trusted */
  char path[128];
  snprintf(path, sizeof path, "%s/search.ckpt", d);
  char *err = NULL;
  assert_int_equal(util_write_file_atomic(path, "optc-search-checkpoint 1\nkey zz\n", 33, &err), 0);
  SearchConfig c;
  search_config_init(&c);
  const char *starts[] = {SGD};
  c.starts = starts;
  c.nstarts = 1;
  c.max_evals = 5;
  c.out_dir = d;
  c.resume = true;
  c.eval = search_evaluator_eval;
  assert_int_equal(search_run(&c, &r, &err), -1);
  assert_non_null(strstr(err, "is not a valid search checkpoint"));
  free(err);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fitness_matches_runtime),
      cmocka_unit_test(test_task_list_errors),
      cmocka_unit_test(test_behaviour_hash),
      cmocka_unit_test(test_reproducible_and_resumable),
      cmocka_unit_test(test_resume_refuses_other_settings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

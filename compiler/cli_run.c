/* cli_run.c: `optc run FILE --task NAME [--steps N] [--threads T]
 * [--seed S] [--set NAME=VALUE]... [--matrix-rule FILE2] [--trace FILE.csv]
 * [--json]`.
 *
 * JIT-compiles FILE, puts every tensor of the built-in task into one
 * parameter group (with --matrix-rule, the 2-D tensors, rows and cols
 * both above 1, go to a second group running FILE2: one optimizer, two
 * rules, as Muon is used with AdamW), and steps it with the task as the
 * objective
 * (optrt_step_objective evaluates loss and gradient at the start of each
 * step, so rules that read f, hvp or a line search work too).  Progress
 * goes to stderr only when it is a terminal.  The result is a list of
 * `key: value` lines (or one JSON object) ending with `final_loss:` and
 * `params_sha256:`, the SHA-256 of the final parameter bytes (f32,
 * tensors in order), which is the same for any --threads.  Exit status:
 * 0; 1 for errors in the .opt files or a failing step; 2 for bad usage
 * (options, --task, --set) or unreadable files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "optc.h"
#include "optrt.h"
#include "optrt_tasks.h"
#include "optrt_minimize.h"
#include "sha256.h"
#include "util.h"

/* --set may repeat; more than this many is surely a mistake. */
enum { MAX_SETS = 64 };
/* .opt files are small; this bounds a mistaken path to a huge file. */
#define MAX_SOURCE_BYTES (1u << 20)

typedef struct RunArgs {
  const char *file, *task, *trace, *matrix_rule;
  const char *sets[MAX_SETS];
  int nsets, threads, json;
  long steps;
  double tol, ftol; /* --tol / --ftol: minimize until converged (0: off) */
  unsigned long long seed;
} RunArgs;

typedef struct Run {
  RunArgs a;
  OptcJit *jit, *jit2;
  OptrtKernel *kernel, *kernel2;
  int ngroups;
  OptrtTask *task;
  Optrt *opt;
  int ntensors;
  float **x, **g;
  int64_t *count;
  FILE *trace;
  double initial_loss, final_loss, accuracy;
  int has_accuracy;
  int minimized;
  OptrtMinimizeReport min;
} Run;

static void usage(FILE *out) {
  fprintf(out,
          "usage: optc run FILE --task NAME [--steps N] [--threads T] [--seed S]\n"
          "                [--set NAME=VALUE]... [--matrix-rule FILE2] [--trace FILE.csv]\n"
          "                [--tol GTOL] [--ftol FTOL] [--json]\n\n"
          "JIT-compiles FILE and trains the built-in task NAME with it (all tensors\n"
          "in one group; with --matrix-rule the 2-D tensors form a second group that\n"
          "runs FILE2).  --set applies to every group that has the hyper.\n"
          "Defaults: 100 steps, threads 0 (one per core), seed 1.  Prints key: value\n"
          "lines ending with final_loss and params_sha256.\n\n"
          "--tol GTOL minimizes a deterministic task instead of taking a fixed number\n"
          "of steps: it stops when the gradient norm is <= GTOL, the relative decrease\n"
          "of the loss is <= FTOL (--ftol, default off) or after --steps steps, and\n"
          "reports why, with the iterations and the objective's evaluations.\n\n"
          "tasks:\n");
  for (int i = 0; i < optrt_task_count(); i++)
    fprintf(out, "  %-28s %s\n", optrt_task_name_at(i), optrt_task_summary_at(i));
}

static int parse_value(RunArgs *a, const char *flag, const char *val) {
  long v;
  double d;
  if (!strcmp(flag, "--task")) a->task = val;
  else if (!strcmp(flag, "--trace")) a->trace = val;
  else if (!strcmp(flag, "--matrix-rule")) a->matrix_rule = val;
  else if (!strcmp(flag, "--set")) {
    if (a->nsets == MAX_SETS) return cli_usage_error("run", "more than %d --set", MAX_SETS);
    a->sets[a->nsets++] = val;
  } else if (!strcmp(flag, "--steps")) {
    if (!cli_parse_int(val, 0, 1000000000L, &v))
      return cli_usage_error("run", "--steps wants 0..1000000000, not '%s'", val);
    a->steps = v;
  } else if (!strcmp(flag, "--tol") || !strcmp(flag, "--ftol")) {
    if (!cli_parse_double(val, &d) || !(d >= 0) || isinf(d))
      return cli_usage_error("run", "%s wants a non-negative number, not '%s'", flag, val);
    *(!strcmp(flag, "--tol") ? &a->tol : &a->ftol) = d;
  } else if (!strcmp(flag, "--threads")) {
    if (!cli_parse_int(val, 0, 1024, &v)) return cli_usage_error("run", "--threads wants 0..1024, not '%s'", val);
    a->threads = (int)v;
  } else {
    if (!cli_parse_double(val, &d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
      return cli_usage_error("run", "--seed wants a non-negative integer, not '%s'", val);
    a->seed = (unsigned long long)d;
  }
  return 0;
}

static int parse_args(int argc, char **argv, RunArgs *a) {
  static const char *with_value[] = {"--task",  "--steps", "--threads",    "--seed",
                                     "--set",   "--trace", "--matrix-rule", "--tol",
                                     "--ftol"};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int takes = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) takes |= !strcmp(arg, with_value[k]);
    if (takes) {
      if (i + 1 >= argc) return cli_usage_error("run", "%s needs a value", arg);
      if (parse_value(a, arg, argv[++i])) return 2;
    } else if (!strcmp(arg, "--json")) {
      a->json = 1;
    } else if (arg[0] == '-') {
      return cli_usage_error("run", "unknown option '%s'", arg);
    } else if (a->file) {
      return cli_usage_error("run", "one FILE at a time ('%s' and '%s')", a->file, arg);
    } else {
      a->file = arg;
    }
  }
  if (!a->file) return cli_usage_error("run", "no FILE given");
  if (!a->task) return cli_usage_error("run", "no --task given");
  return 0;
}

static void print_diag(void *user, const OptcDiagnostic *d) {
  (void)user;
  fprintf(stderr, "%s", d->rendered ? d->rendered : d->message);
}

static int fail(const char *fmt, const char *what) {
  fprintf(stderr, "optc run: error: ");
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n");
  return 1;
}

static int compile_one(const char *file, OptcJit **jit, OptrtKernel **kernel) {
  char *src = NULL, *err = NULL;
  size_t len = 0;
  if (util_read_file(file, MAX_SOURCE_BYTES, &src, &len, &err) != 0) {
    fprintf(stderr, "optc run: error: %s\n", err);
    free(err);
    return 2;
  }
  OptcOptions o;
  optc_options_init(&o);
  o.diag = print_diag;
  *jit = optc_jit_compile(file, src, len, &o);
  free(src);
  if (!*jit) return 1;
  *kernel = optrt_wrap_descriptor(optc_jit_descriptor(*jit), &err);
  if (!*kernel) {
    int rc = fail("%s", err);
    free(err);
    return rc;
  }
  return 0;
}

static int compile(Run *r) {
  int rc = compile_one(r->a.file, &r->jit, &r->kernel);
  if (!rc && r->a.matrix_rule) rc = compile_one(r->a.matrix_rule, &r->jit2, &r->kernel2);
  return rc;
}

static int make_task(Run *r) {
  char *err = NULL;
  r->task = optrt_task_create(r->a.task, r->a.seed, NULL, &err);
  if (!r->task) {
    fail("%s", err ? err : "cannot create the task");
    free(err);
    return 2; /* a bad --task is bad usage */
  }
  r->ntensors = optrt_task_num_tensors(r->task);
  r->x = xcalloc((size_t)r->ntensors, sizeof *r->x);
  r->g = xcalloc((size_t)r->ntensors, sizeof *r->g);
  r->count = xcalloc((size_t)r->ntensors, sizeof *r->count);
  for (int i = 0; i < r->ntensors; i++) {
    int64_t rows = 0, cols = 0;
    optrt_task_tensor(r->task, i, NULL, &rows, &cols);
    r->count[i] = rows * cols;
    r->x[i] = xcalloc((size_t)r->count[i], sizeof(float));
    r->g[i] = xcalloc((size_t)r->count[i], sizeof(float));
  }
  optrt_task_init(r->task, r->x);
  r->has_accuracy = (optrt_task_flags(r->task) & OPTRT_TASK_HAS_ACCURACY) != 0;
  return 0;
}

/* NAME=VALUE into every group that has NAME; an error if none has it. */
static int set_hyper(Run *r, const char *text) {
  const char *eq = strchr(text, '=');
  double v, old;
  if (!eq || eq == text || !cli_parse_double(eq + 1, &v))
    return cli_usage_error("run", "--set wants NAME=VALUE, not '%s'", text);
  char *name = xstrndup(text, (size_t)(eq - text));
  int rc = 0, found = 0;
  for (int gi = 0; !rc && gi < r->ngroups; gi++)
    if (optrt_get_hyper(r->opt, gi, name, &old) == 0) {
      found = 1;
      rc = optrt_set_hyper(r->opt, gi, name, v);
    }
  if (!found) rc = optrt_set_hyper(r->opt, 0, name, v);
  free(name);
  if (rc) fail("%s", optrt_last_error(r->opt));
  return rc ? 2 : 0; /* a bad --set is bad usage */
}

static int make_optimizer(Run *r) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = r->a.threads;
  cfg.seed = r->a.seed;
  char *err = NULL;
  r->opt = optrt_create(r->kernel, &cfg, &err);
  if (!r->opt) {
    int rc = fail("%s", err ? err : "cannot create the optimizer");
    free(err);
    return rc;
  }
  optrt_add_group(r->opt, NULL);
  r->ngroups = r->kernel2 ? 2 : 1;
  if (r->kernel2) optrt_add_group(r->opt, r->kernel2);
  for (int i = 0; i < r->ntensors; i++) {
    int64_t rows = 0, cols = 0;
    optrt_task_tensor(r->task, i, NULL, &rows, &cols);
    int group = r->kernel2 && rows > 1 && cols > 1 ? 1 : 0;
    if (optrt_add_param(r->opt, group, r->x[i], r->g[i], rows, cols) < 0)
      return fail("%s", optrt_last_error(r->opt));
  }
  for (int i = 0; i < r->a.nsets; i++)
    if (set_hyper(r, r->a.sets[i])) return 2;
  return 0;
}

static void progress(const Run *r, long step, double loss) {
  long every = r->a.steps / 100 > 0 ? r->a.steps / 100 : 1;
  if (step % every == 0 || step == r->a.steps)
    fprintf(stderr, "\rstep %ld/%ld  loss %.6g   ", step, r->a.steps, loss);
}

static int train(Run *r) {
  OptrtObjective obj;
  memset(&obj, 0, sizeof obj);
  optrt_task_objective(r->task, r->x, r->g, &obj);
  int tty = isatty(STDERR_FILENO);
  double loss = NAN;
  optrt_task_eval(r->task, (const float *const *)r->x, NULL, &r->initial_loss);
  for (long s = 1; s <= r->a.steps; s++) {
    optrt_task_set_step(r->task, (uint64_t)s);
    if (optrt_step_objective(r->opt, &obj) != 0) {
      if (tty) fprintf(stderr, "\n");
      return fail("%s", optrt_last_error(r->opt));
    }
    optrt_task_eval(r->task, (const float *const *)r->x, NULL, &loss);
    if (r->trace) fprintf(r->trace, "%ld,%.17g\n", s, loss);
    if (tty) progress(r, s, loss);
  }
  if (tty && r->a.steps) fprintf(stderr, "\n");
  optrt_task_eval(r->task, (const float *const *)r->x, NULL, &r->final_loss);
  if (r->has_accuracy) optrt_task_accuracy(r->task, (const float *const *)r->x, &r->accuracy);
  return 0;
}

static int min_progress(void *user, int64_t iter, double loss, double gnorm) {
  const Run *r = user;
  if (r->trace) fprintf(r->trace, "%lld,%.17g,%.17g\n", (long long)iter, loss, gnorm);
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "\riter %lld  loss %.6g  |g| %.3g   ", (long long)iter, loss, gnorm);
  return 0;
}

/* --tol: optrt_minimize until the gradient norm, the relative decrease or
 * the step budget says stop. */
static int minimize(Run *r) {
  OptrtObjective obj;
  memset(&obj, 0, sizeof obj);
  optrt_task_objective(r->task, r->x, r->g, &obj);
  optrt_task_eval(r->task, (const float *const *)r->x, NULL, &r->initial_loss);
  OptrtMinimizeOptions mo;
  optrt_minimize_options_init(&mo);
  mo.max_iters = r->a.steps;
  mo.gtol = r->a.tol;
  mo.ftol = r->a.ftol;
  mo.progress = min_progress;
  mo.progress_user = r;
  int rc = optrt_minimize(r->opt, &obj, &mo, &r->min);
  if (isatty(STDERR_FILENO)) fprintf(stderr, "\n");
  if (rc != 0) return fail("%s", optrt_last_error(r->opt));
  r->minimized = 1;
  optrt_task_eval(r->task, (const float *const *)r->x, NULL, &r->final_loss);
  if (r->has_accuracy) optrt_task_accuracy(r->task, (const float *const *)r->x, &r->accuracy);
  return 0;
}

static void report_minimize(const Run *r) {
  const OptrtMinimizeReport *m = &r->min;
  if (r->a.json) {
    printf("{\"stop\": \"%s\", \"iterations\": %lld, \"fevals\": %lld, \"gevals\": %lld, "
           "\"hvps\": %lld, \"hessians\": %lld, \"gnbs\": %lld, \"gnorm\": %.17g}\n",
           optrt_minimize_stop_text(m->stop), (long long)m->iters, (long long)m->fevals,
           (long long)m->gevals, (long long)m->hvps, (long long)m->hessians, (long long)m->gnbs,
           m->gnorm);
    return;
  }
  printf("stop: %s\niterations: %lld\nfevals: %lld\ngevals: %lld\nhvps: %lld\nhessians: %lld\n"
         "gnbs: %lld\ngnorm: %.17g\n",
         optrt_minimize_stop_text(m->stop), (long long)m->iters, (long long)m->fevals,
         (long long)m->gevals, (long long)m->hvps, (long long)m->hessians, (long long)m->gnbs,
         m->gnorm);
}

static void params_hash(const Run *r, char hex[65]) {
  Sha256 s;
  sha256_init(&s);
  for (int i = 0; i < r->ntensors; i++) sha256_update(&s, r->x[i], (size_t)r->count[i] * sizeof(float));
  sha256_final_hex(&s, hex);
}

static void report(const Run *r) {
  char hex[65];
  params_hash(r, hex);
  char name[256];
  snprintf(name, sizeof name, "%s%s%s%s", optc_jit_descriptor(r->jit)->name, r->jit2 ? " + " : "",
           r->jit2 ? optc_jit_descriptor(r->jit2)->name : "", r->jit2 ? " (2-D)" : "");
  if (r->a.json) {
    printf("{\"optimizer\": \"%s\", \"task\": \"%s\", \"steps\": %ld, \"threads\": %d, "
           "\"seed\": %llu, \"initial_loss\": %.17g, ",
           name, r->a.task, r->a.steps, optrt_threads(r->opt), r->a.seed, r->initial_loss);
    if (r->has_accuracy) printf("\"accuracy\": %.17g, ", r->accuracy);
    printf("\"final_loss\": %.17g, \"params_sha256\": \"%s\"}\n", r->final_loss, hex);
    return;
  }
  printf("optimizer: %s\ntask: %s\nsteps: %ld\nthreads: %d\nseed: %llu\n", name, r->a.task,
         r->a.steps, optrt_threads(r->opt), r->a.seed);
  printf("compile_ms: %.3f\ninitial_loss: %.17g\n", optc_jit_compile_ms(r->jit), r->initial_loss);
  if (r->has_accuracy) printf("accuracy: %.17g\n", r->accuracy);
  printf("final_loss: %.17g\nparams_sha256: %s\n", r->final_loss, hex);
}

static void cleanup(Run *r) {
  if (r->trace) fclose(r->trace);
  optrt_destroy(r->opt);
  for (int i = 0; i < r->ntensors; i++) {
    free(r->x[i]);
    free(r->g[i]);
  }
  free(r->x);
  free(r->g);
  free(r->count);
  optrt_task_free(r->task);
  optrt_kernel_close(r->kernel);
  optrt_kernel_close(r->kernel2);
  optc_jit_free(r->jit);
  optc_jit_free(r->jit2);
}

int cli_run(int argc, char **argv) {
  Run r;
  memset(&r, 0, sizeof r);
  r.a.steps = 100;
  r.a.seed = 1;
  for (int i = 1; i < argc; i++)
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
  int rc = parse_args(argc, argv, &r.a);
  if (!rc) rc = compile(&r);
  if (!rc) rc = make_task(&r);
  if (!rc) rc = make_optimizer(&r);
  if (!rc && r.a.trace && !(r.trace = fopen(r.a.trace, "w"))) rc = fail("cannot write '%s'", r.a.trace);
  if (!rc && r.trace) fprintf(r.trace, r.a.tol > 0 ? "iter,loss,gnorm\n" : "step,loss\n");
  if (!rc) rc = r.a.tol > 0 ? minimize(&r) : train(&r);
  if (!rc && r.minimized) report_minimize(&r);
  if (!rc) report(&r);
  cleanup(&r);
  return rc;
}

/* train_softmax.c: a training loop on liboptrt, with checkpoint and resume.
 *
 *   train_softmax LIBADAMW.so [WORK_DIR]
 *
 * Loads the AdamW kernel that `optc compile stdlib/adamw.opt` built, and
 * trains the built-in softmax-regression task with two parameter groups:
 * the weight matrix W with weight decay, the bias b without.  It runs
 * three times:
 *   A. STEPS steps without interruption;
 *   B. STEPS / 2 steps, then saves the optimizer (optrt_save) and the
 *      parameters (the host's own file), and throws everything away;
 *   C. a fresh optimizer and fresh buffers: reads the parameters back,
 *      loads the checkpoint (optrt_load), and runs the remaining steps.
 * and shows that C ends bit for bit where A ends.  Exit status 0 if so.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optrt.h"
#include "optrt_tasks.h"

enum { STEPS = 200, SEED = 7 };

typedef struct Model {
  OptrtTask *task;
  Optrt *opt;
  float *x[2], *g[2];  /* W and b, and their gradients */
  int64_t rows[2], cols[2], n[2];
} Model;

static void die(const char *what, const char *why) {
  fprintf(stderr, "train_softmax: %s: %s\n", what, why);
  exit(2);
}

/* The task's data and starting point, and an optimizer over them. */
static void model_init(Model *m, const OptrtKernel *adamw) {
  char *err = NULL;
  m->task = optrt_task_create("softmax", SEED, NULL, &err);
  if (!m->task) die("softmax task", err);
  for (int i = 0; i < 2; i++) {
    optrt_task_tensor(m->task, i, NULL, &m->rows[i], &m->cols[i]);
    m->n[i] = m->rows[i] * m->cols[i];
    m->x[i] = calloc((size_t)m->n[i], sizeof(float));
    m->g[i] = calloc((size_t)m->n[i], sizeof(float));
  }
  optrt_task_init(m->task, m->x);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 2;
  m->opt = optrt_create(adamw, &cfg, &err);
  if (!m->opt) die("optrt_create", err);
  int weights = optrt_add_group(m->opt, NULL), biases = optrt_add_group(m->opt, NULL);
  if (optrt_add_param(m->opt, weights, m->x[0], m->g[0], m->rows[0], m->cols[0]) < 0 ||
      optrt_add_param(m->opt, biases, m->x[1], m->g[1], m->rows[1], 0) < 0 ||
      optrt_set_hyper(m->opt, weights, "lr", 0.05) || optrt_set_hyper(m->opt, biases, "lr", 0.05) ||
      optrt_set_hyper(m->opt, weights, "weight_decay", 0.01) ||
      optrt_set_hyper(m->opt, biases, "weight_decay", 0.0))
    die("setup", optrt_last_error(m->opt));
}

static void model_free(Model *m) {
  optrt_destroy(m->opt);
  optrt_task_free(m->task);
  for (int i = 0; i < 2; i++) {
    free(m->x[i]);
    free(m->g[i]);
  }
}

static double loss_of(Model *m) {
  double loss = NAN;
  optrt_task_eval(m->task, (const float *const *)m->x, NULL, &loss);
  return loss;
}

/* Steps first+1 .. last: the host computes gradients, the runtime steps. */
static void train(Model *m, int first, int last) {
  for (int s = first + 1; s <= last; s++) {
    double loss;
    optrt_task_set_step(m->task, (uint64_t)s);
    optrt_task_eval(m->task, (const float *const *)m->x, m->g, &loss);
    if (optrt_step(m->opt)) die("optrt_step", optrt_last_error(m->opt));
  }
}

static void save_params(const Model *m, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) die(path, "cannot write");
  for (int i = 0; i < 2; i++) fwrite(m->x[i], sizeof(float), (size_t)m->n[i], f);
  if (fclose(f)) die(path, "write failed");
}

static void load_params(Model *m, const char *path) {
  FILE *f = fopen(path, "rb");
  size_t got = 0;
  for (int i = 0; f && i < 2; i++) got += fread(m->x[i], sizeof(float), (size_t)m->n[i], f);
  if (!f || got != (size_t)(m->n[0] + m->n[1])) die(path, "cannot read the parameters back");
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: train_softmax LIBADAMW.so [WORK_DIR]\n");
    return 2;
  }
  const char *dir = argc > 2 ? argv[2] : ".";
  char ckpt[4096], params[4096], *err = NULL;
  snprintf(ckpt, sizeof ckpt, "%s/softmax_half.ckpt", dir);
  snprintf(params, sizeof params, "%s/softmax_half.params", dir);
  OptrtKernel *adamw = optrt_open_library(argv[1], &err);
  if (!adamw) die("loading the kernel", err);
  printf("kernel: %s (%s)\n", optrt_kernel_descriptor(adamw)->name, argv[1]);

  Model a, b, c;
  model_init(&a, adamw);
  printf("task: softmax, W %lld x %lld with weight decay 0.01, b %lld without\n",
         (long long)a.rows[0], (long long)a.cols[0], (long long)a.rows[1]);
  printf("A: initial loss %.6f\n", loss_of(&a));
  train(&a, 0, STEPS);
  printf("A: %d steps straight through, final loss %.9f\n", STEPS, loss_of(&a));

  model_init(&b, adamw);
  train(&b, 0, STEPS / 2);
  if (optrt_save(b.opt, ckpt)) die("optrt_save", optrt_last_error(b.opt));
  save_params(&b, params);
  printf("B: %d steps, loss %.9f, saved %s\n", STEPS / 2, loss_of(&b), ckpt);
  model_free(&b);

  model_init(&c, adamw);
  load_params(&c, params);
  if (optrt_load(c.opt, ckpt)) die("optrt_load", optrt_last_error(c.opt));
  printf("C: fresh optimizer, loaded the checkpoint at step %lld\n",
         (long long)optrt_step_count(c.opt, 0));
  train(&c, STEPS / 2, STEPS);
  printf("C: resumed to step %d, final loss %.9f\n", STEPS, loss_of(&c));

  int same = 1;
  for (int i = 0; i < 2; i++) same &= memcmp(a.x[i], c.x[i], (size_t)a.n[i] * sizeof(float)) == 0;
  printf("resume check: %s\n", same ? "the resumed run ends bit for bit where the uninterrupted run ends"
                                    : "MISMATCH: the resumed run differs");
  model_free(&a);
  model_free(&c);
  optrt_kernel_close(adamw);
  remove(ckpt);
  remove(params);
  return same ? 0 : 1;
}

/* task_objective.c: a task as the runtime's OptrtObjective (optrt.h), so
 * that optrt_step_objective and optrt_minimize can run on it.
 *
 * The binding lives in the task (bind_x, bind_g).  hvp and gnb_grad follow
 * the runtime's convention: one array per parameter in global order, NULL
 * in v for a zero block and NULL in hv (out) for a block not wanted.
 */
#include <stdlib.h>
#include <string.h>

#include "optrt.h"
#include "tasks.h"

static int obj_value_grad(void *user, double *loss, int want_grad) {
  OptrtTask *t = user;
  return optrt_task_eval(t, (const float *const *)t->bind_x, want_grad ? t->bind_g : NULL, loss);
}

/* flat <- blocks, a NULL block reads as zeros. */
static void gather_or_zero(const OptrtTask *t, const float *const *blocks, double *flat) {
  int64_t off = 0;
  for (int i = 0; i < t->ntensors; i++) {
    int64_t len = t->rows[i] * t->cols[i];
    for (int64_t j = 0; j < len; j++) flat[off + j] = blocks[i] ? (double)blocks[i][j] : 0.0;
    off += len;
  }
}

static int obj_hvp(void *user, const float *const *v, float *const *hv) {
  OptrtTask *t = user;
  if (!v || !hv) return -1;
  gather_or_zero(t, (const float *const *)t->bind_x, t->xs);
  gather_or_zero(t, v, t->vs);
  t->kind->hvp(t, t->xs, t->vs, t->hvs);
  int64_t off = 0;
  for (int i = 0; i < t->ntensors; i++) {
    int64_t len = t->rows[i] * t->cols[i];
    for (int64_t j = 0; hv[i] && j < len; j++) hv[i][j] = (float)t->hvs[off + j];
    off += len;
  }
  return 0;
}

/* gnb_grad: all blocks computed, the wanted ones (non-NULL) written. */
static int obj_gnb(void *user, float *const *out) {
  OptrtTask *t = user;
  if (!out) return -1;
  gather_or_zero(t, (const float *const *)t->bind_x, t->xs);
  t->kind->gnb(t, t->xs, task_gnb_key(t), t->hvs);
  int64_t off = 0;
  for (int i = 0; i < t->ntensors; i++) {
    int64_t len = t->rows[i] * t->cols[i];
    for (int64_t j = 0; out[i] && j < len; j++) out[i][j] = (float)t->hvs[off + j];
    off += len;
  }
  return 0;
}

/* Diagonal block of tensor `param` of the full Hessian. */
static int obj_hessian(void *user, int param, double *out) {
  OptrtTask *t = user;
  if (param < 0 || param >= t->ntensors || !out) return -1;
  gather_or_zero(t, (const float *const *)t->bind_x, t->xs);
  if (t->ntensors == 1) {
    t->kind->hessian(t, t->xs, out);
    return 0;
  }
  if (!t->hfull && !(t->hfull = malloc((size_t)(t->n * t->n) * sizeof(double)))) return -1;
  t->kind->hessian(t, t->xs, t->hfull);
  int64_t off = 0, len = t->rows[param] * t->cols[param];
  for (int i = 0; i < param; i++) off += t->rows[i] * t->cols[i];
  for (int64_t r = 0; r < len; r++)
    memcpy(out + r * len, t->hfull + (off + r) * t->n + off, (size_t)len * sizeof(double));
  return 0;
}

int optrt_task_objective(OptrtTask *t, float *const *x, float *const *g, OptrtObjective *obj) {
  if (!t || !x || !g || !obj) return -1;
  for (int i = 0; i < t->ntensors; i++)
    if (!x[i] || !g[i]) return -1;
  t->bind_x = x;
  t->bind_g = g;
  memset(obj, 0, sizeof *obj);
  obj->user = t;
  obj->value_grad = obj_value_grad;
  if (t->flags & OPTRT_TASK_HAS_HVP) obj->hvp = obj_hvp;
  if (t->flags & OPTRT_TASK_HAS_HESSIAN) obj->hessian = obj_hessian;
  if (t->flags & OPTRT_TASK_HAS_GNB) obj->gnb_grad = obj_gnb;
  return 0;
}

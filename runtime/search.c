/* search.c: the LINESEARCH plan op, on the searches of linesearch.c.
 *
 * phi(alpha) = f(p0 + alpha d) over the group's parameters (the other
 * groups' parameters stay put): each evaluation writes
 * p = (float)(p0 + alpha d) into the host's buffers, calls value_grad,
 * and forms phi' = sum of g . d over the group's tensors in add order and
 * element order, in double.  phi(0) is the loss of the latest evaluation
 * and phi'(0) uses the gradient buffers as they are.  Slots c..c+3 give
 * step0, c1, c2 and max_evals (NaN: the search's default).  On success p,
 * g and f are at the accepted step; on failure p is restored and
 * value_grad re-evaluated there, the group's plan stops, and the step
 * fails with the search's status.
 */
#include <math.h>
#include <string.h>

#include "linesearch.h"
#include "rt_internal.h"

typedef struct Line {
  RtExec *x;
  const OptkOp *op;
  float **p0;
} Line;

static double d_at(const RtExec *x, const RtTensor *t, int32_t b, int64_t i) {
  const void *v = t->buf[b];
  switch (x->grp->d->bufs[b].dtype) {
  case OPTK_F64: return ((const double *)v)[i];
  case OPTK_BF16: return optk_bf16_to_f32(((const uint16_t *)v)[i]);
  default: return ((const float *)v)[i];
  }
}

static double directional(const Line *l) {
  double s = 0;
  for (int k = 0; k < l->x->nt; k++) {
    const RtTensor *t = l->x->t[k];
    for (int64_t i = 0; i < t->n; i++) s += (double)t->g[i] * d_at(l->x, t, l->op->a, i);
  }
  return s;
}

static void move_to(const Line *l, double alpha) {
  for (int k = 0; k < l->x->nt; k++) {
    RtTensor *t = l->x->t[k];
    for (int64_t i = 0; i < t->n; i++)
      t->p[i] = (float)((double)l->p0[k][i] + alpha * d_at(l->x, t, l->op->a, i));
  }
}

static int eval(void *user, double alpha, double *phi, double *dphi) {
  Line *l = user;
  move_to(l, alpha);
  if (l->x->obj->value_grad(l->x->obj->user, phi, 1) != 0) return -1;
  *dphi = directional(l);
  return 0;
}

static OptrtLsParams params_of(const RtExec *x, const OptkOp *op, OptrtLsMethod m) {
  OptrtLsParams p = optrt_ls_defaults(m);
  const double *s = x->t[0]->slot + op->c;
  if (!isnan(s[0])) p.step0 = s[0];
  if (!isnan(s[1])) p.c1 = s[1];
  if (!isnan(s[2])) p.c2 = s[2];
  if (!isnan(s[3])) p.max_evals = s[3] >= 1e9 ? 1000000000 : s[3] < 0 ? 0 : (int)s[3];
  return p;
}

static void free_p0(Optrt *o, float **p0, int n) {
  for (int k = 0; p0 && k < n; k++) rt_free(&o->alloc, p0[k]);
  rt_free(&o->alloc, p0);
}

static int save_p0(Line *l) {
  Optrt *o = l->x->o;
  l->p0 = rt_calloc(&o->alloc, (size_t)l->x->nt, sizeof *l->p0);
  for (int k = 0; l->p0 && k < l->x->nt; k++) {
    RtTensor *t = l->x->t[k];
    if (!(l->p0[k] = rt_malloc(&o->alloc, (size_t)t->n * sizeof(float)))) return -1;
    memcpy(l->p0[k], t->p, (size_t)t->n * sizeof(float));
  }
  return l->p0 ? 0 : -1;
}

static int finish(Line *l, const OptrtLsResult *res) {
  RtExec *x = l->x;
  x->grp->ls_status = 1 + (int)res->status;
  if (res->status == OPTRT_LS_OK) {
    x->f = res->phi;
    for (int k = 0; k < x->nt && l->op->d >= 0; k++) x->t[k]->slot[l->op->d] = res->alpha;
    return 0;
  }
  for (int k = 0; k < x->nt; k++) memcpy(x->t[k]->p, l->p0[k], (size_t)x->t[k]->n * sizeof(float));
  double f = NAN;
  int again = x->obj->value_grad(x->obj->user, &f, 1);
  x->f = f;
  char lab[160];
  rt_group_label(x->o, x->group, lab, sizeof lab);
  return rt_error(x->o, "%s: line search failed: %s after %d evaluations; parameters restored%s", lab,
                  optrt_ls_status_text(res->status), res->nevals,
                  again ? " (re-evaluating the objective there failed too)" : "");
}

int rt_host_linesearch(RtExec *x, const OptkOp *op) {
  Line l = {x, op, NULL};
  if (save_p0(&l)) {
    free_p0(x->o, l.p0, x->nt);
    return rt_error(x->o, "line search: out of memory");
  }
  OptrtLsMethod m = op->b == OPTK_LS_WOLFE ? OPTRT_LS_METHOD_MORE_THUENTE : OPTRT_LS_METHOD_ARMIJO;
  OptrtLsParams params = params_of(x, op, m);
  OptrtLsResult res;
  memset(&res, 0, sizeof res);
  optrt_ls_search(m, eval, &l, x->f, directional(&l), &params, &res);
  int rc = finish(&l, &res);
  free_p0(x->o, l.p0, x->nt);
  return rc;
}

int optrt_linesearch_status(const Optrt *o, int group, const char **text) {
  if (!o || group < 0 || group >= o->ng) return -1;
  int s = o->g[group]->ls_status;
  if (text) *text = s ? optrt_ls_status_text((OptrtLsStatus)(s - 1)) : "no line search yet";
  return s - 1;
}

/* step.c: one optimizer step over all groups.
 *
 * Order: refuse rules whose needs the call cannot meet; evaluate the
 * objective once (optrt_step_objective); scan gradients of guarded groups;
 * allocate missing state for every group that will step (so running out
 * of memory fails before anything moves); then, group by group in order,
 * advance the step counter, run the init plan for each tensor whose state
 * is new and then the step plan (both with t = the new count).  OpenBLAS runs
 * single-threaded for the duration (threads.c).
 */
#include <math.h>
#include <string.h>

#include "rt_internal.h"

static const char *needs_text(uint32_t needs) {
  if (needs & OPTK_NEED_LINESEARCH) return "a line search";
  if (needs & OPTK_NEED_HESSIAN) return "a dense Hessian";
  if (needs & OPTK_NEED_HVP) return "Hessian-vector products";
  if (needs & OPTK_NEED_GNB) return "Gauss-Newton-Bartlett gradients";
  return "the loss value";
}

static int check_needs(Optrt *o, const OptrtObjective *obj) {
  const uint32_t host = OPTK_NEED_LOSS | OPTK_NEED_HVP | OPTK_NEED_HESSIAN | OPTK_NEED_LINESEARCH |
                        OPTK_NEED_GNB;
  char lab[160];
  if (obj && !obj->value_grad) return rt_error(o, "step_objective: the objective has no value_grad");
  for (int i = 0; i < o->ng; i++) {
    uint32_t needs = o->g[i]->k->needs;
    rt_group_label(o, i, lab, sizeof lab);
    if (!obj && (needs & host))
      return rt_error(o, "%s: the rule needs %s: call optrt_step_objective with an objective", lab,
                      needs_text(needs & host));
    if (obj && (needs & OPTK_NEED_HVP) && !obj->hvp)
      return rt_error(o, "%s: the rule needs Hessian-vector products; the objective has no hvp", lab);
    if (obj && (needs & OPTK_NEED_HESSIAN) && !obj->hessian)
      return rt_error(o, "%s: the rule needs a dense Hessian; the objective has no hessian", lab);
    if (obj && (needs & OPTK_NEED_GNB) && !obj->gnb_grad)
      return rt_error(o, "%s: the rule needs Gauss-Newton-Bartlett gradients; the objective has no gnb_grad",
                      lab);
  }
  return 0;
}

/* skip[i] = 1 when group i's guard finds a NaN/Inf gradient. */
static int scan_guards(Optrt *o, unsigned char *skip) {
  for (int i = 0; i < o->ng; i++) {
    RtGroup *g = o->g[i];
    int bad = g->guard && g->nt ? rt_group_has_nonfinite(o, g) : 0;
    if (bad < 0) return -1;
    skip[i] = (unsigned char)bad;
  }
  return 0;
}

static int alloc_states(Optrt *o, const unsigned char *skip) {
  for (int i = 0; i < o->ng; i++) {
    RtGroup *g = o->g[i];
    for (int j = 0; !skip[i] && j < g->nt; j++)
      if (!g->t[j]->sstate && rt_tensor_alloc_state(o, g->d, g->t[j])) return -1;
  }
  return 0;
}

/* The init plan, once per tensor whose state is new (as the reference
 * interpreter does): it sees the step about to run, and a group-scope
 * reduction in it covers that tensor alone. */
static int run_init(RtExec *x) {
  RtGroup *g = x->grp;
  for (int j = 0; j < g->nt; j++) {
    if (g->t[j]->ready) continue;
    RtExec init = *x;
    init.t = &g->t[j];
    init.nt = 1;
    init.ops = g->d->init_ops;
    init.nops = (int)g->d->ninit_ops;
    if (rt_exec_plan(&init)) return -1;
    g->t[j]->ready = true;
  }
  return 0;
}

static int run_group(Optrt *o, int i, const OptrtObjective *obj, double *f) {
  RtGroup *g = o->g[i];
  g->step++;
  RtExec x = {.o = o, .grp = g, .group = i, .t = g->t, .nt = g->nt, .ops = g->d->ops,
              .nops = (int)g->d->nops, .t_step = (double)g->step, .f = *f, .obj = obj};
  int rc = run_init(&x);
  if (!rc) rc = rt_exec_plan(&x);
  *f = x.f;
  return rc;
}

static int step_groups(Optrt *o, const OptrtObjective *obj, const unsigned char *skip, double f) {
  int saved = rt_blas_threads_begin();
  int rc = 0;
  for (int i = 0; i < o->ng && !rc; i++) {
    RtGroup *g = o->g[i];
    if (skip[i]) {
      g->skipped++;
      g->last_skipped = g->step + 1;
    } else if (g->nt) {
      rc = run_group(o, i, obj, &f);
    }
  }
  rt_blas_threads_end(saved);
  return rc;
}

static int step_impl(Optrt *o, const OptrtObjective *obj) {
  if (!o) return -1;
  if (check_needs(o, obj)) return -1;
  double f = NAN;
  if (obj && obj->value_grad(obj->user, &f, 1) != 0)
    return rt_error(o, "step_objective: the objective's value_grad failed");
  unsigned char *skip = rt_calloc(&o->alloc, (size_t)o->ng + 1, 1);
  if (!skip) return rt_error(o, "out of memory");
  int rc = scan_guards(o, skip);
  if (!rc) rc = alloc_states(o, skip);
  if (!rc) rc = step_groups(o, obj, skip, f);
  rt_free(&o->alloc, skip);
  return rc;
}

int optrt_step(Optrt *o) { return step_impl(o, NULL); }

int optrt_step_objective(Optrt *o, const OptrtObjective *obj) {
  if (!obj) return o ? rt_error(o, "step_objective: no objective") : -1;
  return step_impl(o, obj);
}

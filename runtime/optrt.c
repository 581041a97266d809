/* optrt.c: the public API around the optimizer object: creation, groups,
 * parameters, hypers, the guard switch, state access and error text.
 *
 * Every public call checks its arguments and reports through
 * rt_error(), which fills the optimizer's error buffer and returns -1.
 * Validation comes before any change, so a failing call changes nothing.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

int rt_verror(Optrt *o, const char *fmt, va_list ap) {
  vsnprintf(o->err, sizeof o->err, fmt, ap);
  return -1;
}

int rt_error(Optrt *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rt_verror(o, fmt, ap);
  va_end(ap);
  return -1;
}

const char *rt_group_label(const Optrt *o, int group, char *buf, size_t cap) {
  snprintf(buf, cap, "group %d (%s)", group, o->g[group]->d->name);
  return buf;
}

const char *optrt_last_error(const Optrt *o) { return o ? o->err : "no optimizer"; }

void optrt_config_init(OptrtConfig *cfg) {
  memset(cfg, 0, sizeof *cfg);
}

static int online_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

Optrt *optrt_create(const OptrtKernel *k, const OptrtConfig *cfg, char **err) {
  OptrtConfig c;
  if (cfg) c = *cfg;
  else optrt_config_init(&c);
  const char *why = !k ? "no kernel" : c.threads < 0 || c.threads > 1024 ? "threads must be in [0, 1024]"
                     : c.chunk_elems < 0 || c.chunk_elems > RT_CHUNK_LIMIT
                         ? "chunk_elems must be in [0, 2^40]"
                         : NULL;
  RtAlloc a = {c.alloc, c.alloc_user};
  Optrt *o = why ? NULL : rt_calloc(&a, 1, sizeof *o);
  if (o) {
    o->alloc = a;
    o->k = k;
    o->threads = c.threads ? c.threads : online_cores();
    c.chunk_elems = (c.chunk_elems + OPTK_BLOCK - 1) / OPTK_BLOCK * OPTK_BLOCK; /* 0: auto */
    o->cfg = c;
    o->pool = rt_pool_create(&a, o->threads);
    if (!o->pool) why = "cannot start the thread pool";
  } else if (!why) {
    why = "out of memory";
  }
  if (why) {
    if (o) rt_free(&a, o);
    if (err) *err = strdup(why);
    return NULL;
  }
  return o;
}

void optrt_destroy(Optrt *o) {
  if (!o) return;
  for (int i = 0; i < o->ng; i++) {
    RtGroup *g = o->g[i];
    for (int j = 0; j < g->nt; j++) rt_tensor_free(&o->alloc, g->d, g->t[j]);
    rt_free(&o->alloc, g->t);
    rt_free(&o->alloc, g->hyper);
    rt_free(&o->alloc, g->chunks);
    rt_free(&o->alloc, g);
  }
  rt_free(&o->alloc, o->g);
  rt_free(&o->alloc, o->all);
  rt_pool_destroy(o->pool);
  RtAlloc a = o->alloc;
  rt_free(&a, o);
}

int optrt_threads(const Optrt *o) { return o ? o->threads : 0; }
int optrt_num_groups(const Optrt *o) { return o ? o->ng : 0; }

/* Grows *arr (of elem-sized items) to hold one more than *len. */
static int grow(Optrt *o, void **arr, int len, int *cap, size_t elem) {
  if (len < *cap) return 0;
  int ncap = *cap ? 2 * *cap : 8;
  void *n = rt_realloc(&o->alloc, *arr, (size_t)ncap * elem);
  if (!n) return rt_error(o, "out of memory");
  *arr = n;
  *cap = ncap;
  return 0;
}

int optrt_add_group(Optrt *o, const OptrtKernel *k) {
  if (!o) return -1;
  if (!k) k = o->k;
  if (grow(o, (void **)&o->g, o->ng, &o->gcap, sizeof *o->g)) return -1;
  RtGroup *g = rt_calloc(&o->alloc, 1, sizeof *g);
  double *h = rt_calloc(&o->alloc, (size_t)k->d->nhyper + 1, sizeof(double));
  if (!g || !h) {
    rt_free(&o->alloc, g);
    rt_free(&o->alloc, h);
    return rt_error(o, "out of memory");
  }
  for (uint32_t i = 0; i < k->d->nhyper; i++) h[i] = k->d->hypers[i].def;
  g->k = k;
  g->d = k->d;
  g->hyper = h;
  g->chunks_for = -1;
  o->g[o->ng] = g;
  return o->ng++;
}

static int check_group(const Optrt *o, int group) {
  if (!o) return -1;
  if (group < 0 || group >= o->ng)
    return rt_error((Optrt *)o, "no group %d (the optimizer has %d)", group, o->ng);
  return 0;
}

static int check_param(const Optrt *o, int group, int param) {
  if (check_group(o, group)) return -1;
  if (param < 0 || param >= o->g[group]->nt)
    return rt_error((Optrt *)o, "group %d has no parameter %d (it has %d)", group, param,
                    o->g[group]->nt);
  return 0;
}

int optrt_num_params(const Optrt *o, int group) {
  return check_group(o, group) ? -1 : o->g[group]->nt;
}

/* HVP, HESSIAN and LINESEARCH buffers hold n (Hessian: n * n) elements. */
static bool host_buffers_fit(const OptkDescriptor *d, const OptkOp *op, const RtTensor *t) {
  switch (op->kind) {
  case OPTK_OP_HVP: return rt_buf_count(d, op->a, t) == t->n && rt_buf_count(d, op->b, t) == t->n;
  case OPTK_OP_LINESEARCH: return rt_buf_count(d, op->a, t) == t->n;
  case OPTK_OP_GNB: return rt_buf_count(d, op->a, t) == t->n;
  case OPTK_OP_HESSIAN:
    return t->n <= RT_HESSIAN_MAX && rt_buf_count(d, op->a, t) == t->n * t->n;
  default: return true;
  }
}

/* Shape rules of the group's kernel for a new tensor t. */
static int check_shape(Optrt *o, int group, const RtTensor *t) {
  RtGroup *g = o->g[group];
  char lab[160];
  rt_group_label(o, group, lab, sizeof lab);
  if ((g->k->needs & OPTK_NEED_2D) && !t->is2d)
    return rt_error(o, "%s: the rule works on 2-D parameters only; parameter %d is 1-D (cols = 0)",
                    lab, g->nt);
  if ((g->k->needs & OPTK_NEED_HESSIAN) && g->nt >= 1)
    return rt_error(o, "%s: the rule uses a dense Hessian and takes one parameter per group", lab);
  for (uint32_t i = 0; i < g->d->nops; i++)
    if (!host_buffers_fit(g->d, &g->d->ops[i], t))
      return rt_error(o, "%s: parameter of %lld elements does not fit the rule's %s buffers", lab,
                      (long long)t->n, g->d->ops[i].kind == OPTK_OP_HVP ? "hvp"
                                       : g->d->ops[i].kind == OPTK_OP_HESSIAN ? "hessian"
                                       : g->d->ops[i].kind == OPTK_OP_GNB     ? "gnb"
                                                                              : "line search");
  for (int pass = 0; pass < 2; pass++) {
    const OptkOp *ops = pass ? g->d->init_ops : g->d->ops;
    uint32_t n = pass ? g->d->ninit_ops : g->d->nops;
    for (uint32_t i = 0; i < n; i++)
      if (ops[i].kind == OPTK_OP_MATOP && rt_matop_check(o, g->d, &ops[i], t, lab)) return -1;
  }
  return 0;
}

static RtTensor *new_tensor(Optrt *o, int group, float *p, const float *grad, int64_t rows,
                            int64_t cols) {
  RtTensor *t = rt_calloc(&o->alloc, 1, sizeof *t);
  if (!t) return NULL;
  t->p = p;
  t->g = grad;
  t->is2d = cols > 0;
  t->rows = rows;
  t->cols = cols > 0 ? cols : 1;
  t->n = rows * t->cols;
  t->group = group;
  t->hyper = o->g[group]->hyper;
  return t;
}

int optrt_add_param(Optrt *o, int group, float *p, const float *grad, int64_t rows, int64_t cols) {
  if (check_group(o, group)) return -1;
  if (!p || !grad) return rt_error(o, "add_param: parameter and gradient must not be NULL");
  if (rows < 1 || cols < 0 || (cols > 0 && rows > INT64_MAX / 8 / cols) || rows > INT64_MAX / 8)
    return rt_error(o, "add_param: invalid shape %lld x %lld (rows >= 1, cols >= 0; 0 means 1-D)",
                    (long long)rows, (long long)cols);
  RtGroup *g = o->g[group];
  RtTensor *t = new_tensor(o, group, p, grad, rows, cols);
  if (!t) return rt_error(o, "out of memory");
  t->buf = rt_calloc(&o->alloc, g->d->nbuf, sizeof(void *));
  int rc = t->buf ? check_shape(o, group, t) : rt_error(o, "out of memory");
  if (!rc) rc = grow(o, (void **)&g->t, g->nt, &g->cap, sizeof *g->t);
  if (!rc) rc = grow(o, (void **)&o->all, o->nall, &o->allcap, sizeof *o->all);
  if (rc) {
    rt_tensor_free(&o->alloc, g->d, t);
    return -1;
  }
  t->buf[0] = p;
  t->buf[1] = (void *)grad;
  t->id = (uint64_t)o->nall;
  t->index = g->nt;
  o->all[o->nall++] = t;
  g->t[g->nt++] = t;
  return t->index;
}

static int edit_distance(const char *a, const char *b) {
  size_t n = strlen(b);
  if (strlen(a) > 64 || n > 64) return 1 << 20;
  int row[65];
  for (size_t j = 0; j <= n; j++) row[j] = (int)j;
  for (size_t i = 1; a[i - 1]; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= n; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[n];
}

static int unknown_hyper(Optrt *o, int group, const char *name) {
  const OptkDescriptor *d = o->g[group]->d;
  int best = -1, bestd = 1 << 30;
  for (uint32_t i = 0; i < d->nhyper; i++) {
    int dist = edit_distance(name, d->hypers[i].name);
    if (dist < bestd) bestd = dist, best = (int)i;
  }
  char lab[160];
  rt_group_label(o, group, lab, sizeof lab);
  if (best >= 0 && bestd <= 2 + (int)strlen(name) / 4)
    return rt_error(o, "%s has no hyper '%s'; did you mean '%s'?", lab, name, d->hypers[best].name);
  return rt_error(o, "%s has no hyper '%s'", lab, name);
}

static bool in_range(const OptkHyper *h, double v) {
  if ((h->flags & OPTK_HYPER_HAS_LO) && (v < h->lo || ((h->flags & OPTK_HYPER_LO_OPEN) && v == h->lo)))
    return false;
  if ((h->flags & OPTK_HYPER_HAS_HI) && (v > h->hi || ((h->flags & OPTK_HYPER_HI_OPEN) && v == h->hi)))
    return false;
  return true;
}

static void range_text(const OptkHyper *h, char *buf, size_t cap) {
  char lo[40] = "-inf", hi[40] = "inf";
  if (h->flags & OPTK_HYPER_HAS_LO) snprintf(lo, sizeof lo, "%.17g", h->lo);
  if (h->flags & OPTK_HYPER_HAS_HI) snprintf(hi, sizeof hi, "%.17g", h->hi);
  snprintf(buf, cap, "%c%s, %s%c", (h->flags & OPTK_HYPER_LO_OPEN) ? '(' : '[', lo, hi,
           (h->flags & OPTK_HYPER_HI_OPEN) ? ')' : ']');
}

/* A hyper that sizes state (OPTK_HYPER_SIZES_STATE) cannot change once a
 * tensor of the group has its state. */
static bool sizes_fixed(const RtGroup *g, int i, double value) {
  if (!(g->d->hypers[i].flags & OPTK_HYPER_SIZES_STATE) || value == g->hyper[i]) return false;
  for (int k = 0; k < g->nt; k++)
    if (g->t[k]->ready) return true;
  return false;
}

int optrt_set_hyper(Optrt *o, int group, const char *name, double value) {
  if (check_group(o, group)) return -1;
  if (!name) return rt_error(o, "set_hyper: no name");
  int i = rt_find_hyper(o->g[group]->d, name);
  if (i < 0) return unknown_hyper(o, group, name);
  const OptkHyper *h = &o->g[group]->d->hypers[i];
  char lab[160], range[100];
  if (isnan(value) || !in_range(h, value)) {
    range_text(h, range, sizeof range);
    return rt_error(o, "%s: hyper '%s' = %.17g is outside its range %s",
                    rt_group_label(o, group, lab, sizeof lab), name, value, range);
  }
  if ((h->flags & OPTK_HYPER_INTEGER) && value != floor(value))
    return rt_error(o, "%s: hyper '%s' must be a whole number, not %.17g",
                    rt_group_label(o, group, lab, sizeof lab), name, value);
  if (sizes_fixed(o->g[group], i, value))
    return rt_error(o, "%s: hyper '%s' sizes the rule's state, which already exists; set it "
                       "before the first step (it stays %.17g)",
                    rt_group_label(o, group, lab, sizeof lab), name, o->g[group]->hyper[i]);
  o->g[group]->hyper[i] = value;
  return 0;
}

int optrt_get_hyper(const Optrt *o, int group, const char *name, double *value) {
  if (check_group(o, group)) return -1;
  if (!name || !value) return rt_error((Optrt *)o, "get_hyper: no name or output");
  int i = rt_find_hyper(o->g[group]->d, name);
  if (i < 0) return unknown_hyper((Optrt *)o, group, name);
  *value = o->g[group]->hyper[i];
  return 0;
}

int64_t optrt_step_count(const Optrt *o, int group) {
  return check_group(o, group) ? -1 : (int64_t)o->g[group]->step;
}

int optrt_set_nonfinite_guard(Optrt *o, int group, int on) {
  if (check_group(o, group)) return -1;
  o->g[group]->guard = on != 0;
  return 0;
}

int64_t optrt_skipped_steps(const Optrt *o, int group, int64_t *last_skipped) {
  if (check_group(o, group)) return -1;
  if (last_skipped) *last_skipped = (int64_t)o->g[group]->last_skipped;
  return (int64_t)o->g[group]->skipped;
}

int64_t optrt_solve_fallbacks(const Optrt *o) { return o ? o->solve_fallbacks : -1; }

void *optrt_state_data(Optrt *o, int group, int param, const char *name, OptkDType *dtype,
                       int64_t *count) {
  if (check_param(o, group, param)) return NULL;
  const OptkDescriptor *d = o->g[group]->d;
  RtTensor *t = o->g[group]->t[param];
  int b = name ? rt_find_buffer(d, name) : -1;
  if (b < 0) {
    rt_error(o, "rule '%s' has no buffer '%s'", d->name, name ? name : "(null)");
    return NULL;
  }
  if (b >= 2 && !t->ready) {
    rt_error(o, "the state of group %d parameter %d is created by the first step", group, param);
    return NULL;
  }
  if (dtype) *dtype = (OptkDType)d->bufs[b].dtype;
  if (count) *count = rt_buf_count(d, b, t);
  return t->buf[b];
}

int optrt_scalar_state(const Optrt *o, int group, int param, const char *name, double *value) {
  if (check_param(o, group, param)) return -1;
  const OptkDescriptor *d = o->g[group]->d;
  RtTensor *t = o->g[group]->t[param];
  int s = name ? rt_find_sstate(d, name) : -1;
  if (s < 0) return rt_error((Optrt *)o, "rule '%s' has no scalar state '%s'", d->name,
                             name ? name : "(null)");
  if (!t->ready)
    return rt_error((Optrt *)o, "the state of group %d parameter %d is created by the first step",
                    group, param);
  if (value) *value = t->sstate[s];
  return 0;
}

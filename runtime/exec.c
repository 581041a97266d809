/* exec.c: the plan executor.
 *
 * rt_exec_plan runs a plan (the step plan or the init plan) over a list
 * of tensors of one group:
 *   SCALAR   once per tensor, in order, on the calling thread;
 *   SWEEP    one parallel region over block-aligned chunks of all the
 *            tensors (a chunk never spans two tensors), each over the
 *            sweep's domain (the parameter or a matrix buffer, optk.h);
 *   COMBINE  partials of the blocks of its domain (op.c) summed (or
 *            maxed) in block order, tensor by tensor
 *            in add order, one running double per reduction; a group-scope
 *            result is copied into every tensor's red[];
 *   JUMP*    on tensor 0's slot (group-uniform by the ABI); the validator
 *            allows forward jumps only, so a plan always terminates;
 *   MATOP    per tensor (linalg.c), tensors spread over the pool;
 *   HVP, HESSIAN, LINESEARCH, GNB through the host's objective (host.c,
 *            search.c).
 * Chunking and threads never change a result: see optk.h.
 */
#include <math.h>
#include <stdatomic.h>

#include "rt_internal.h"

static void scalar_op(RtExec *x, const OptkOp *op) {
  OptkScalarFn fn = x->grp->d->scalar_fns[op->fn];
  for (int i = 0; i < x->nt; i++) {
    RtTensor *t = x->t[i];
    OptkScalarCtx c = {.hyper = x->grp->hyper, .t = x->t_step, .f = x->f,
                       .n = (double)t->n, .rows = (double)t->rows, .cols = (double)t->cols,
                       .red = t->red, .sstate = t->sstate, .slot = t->slot};
    fn(&c);
  }
}

static int64_t domain_count(const OptkDescriptor *d, int32_t dom, const RtTensor *t) {
  int64_t r, c;
  rt_domain(d, dom, t, &r, &c);
  return r * c; /* fits: the domain's buffer was allocated */
}

int64_t rt_chunk_elems(const Optrt *o, int64_t total) {
  if (o->cfg.chunk_elems) return o->cfg.chunk_elems;
  const int64_t lo = RT_CHUNK_MIN_BLOCKS * OPTK_BLOCK, hi = RT_CHUNK_MAX_BLOCKS * OPTK_BLOCK;
  int64_t per = total / (RT_CHUNKS_PER_THREAD * (int64_t)o->threads);
  per = per < lo ? lo : per > hi ? hi : per;
  return (per + OPTK_BLOCK - 1) / OPTK_BLOCK * OPTK_BLOCK;
}

/* Block-aligned chunks of rt_chunk_elems over the domain `dom` of
 * tensors t[0..nt). */
static RtChunk *build_chunks(Optrt *o, const OptkDescriptor *d, int32_t dom, RtTensor *const *t,
                             int nt, int64_t *count) {
  int64_t total = 0, n = 0, k = 0;
  for (int i = 0; i < nt; i++) total += domain_count(d, dom, t[i]);
  int64_t per = rt_chunk_elems(o, total);
  for (int i = 0; i < nt; i++) n += (domain_count(d, dom, t[i]) + per - 1) / per;
  RtChunk *c = rt_calloc(&o->alloc, (size_t)n, sizeof *c);
  for (int i = 0; c && i < nt; i++) {
    int64_t m = domain_count(d, dom, t[i]);
    for (int64_t b = 0; b < m; b += per) c[k++] = (RtChunk){i, b, b + per < m ? b + per : m};
  }
  *count = n;
  if (!c) rt_error(o, "out of memory for %lld work chunks", (long long)n);
  return c;
}

int rt_group_chunks(Optrt *o, RtGroup *grp) {
  if (grp->chunks_for == grp->nt && grp->chunks) return 0;
  int64_t n = 0;
  RtChunk *c = build_chunks(o, grp->d, -1, grp->t, grp->nt, &n);
  if (!c) return -1;
  rt_free(&o->alloc, grp->chunks);
  grp->chunks = c;
  grp->nchunks = n;
  grp->chunks_for = grp->nt;
  return 0;
}

typedef struct SweepJob {
  RtExec *x;
  OptkSweepFn fn;
  const RtChunk *chunks;
  int32_t dom; /* the sweep's domain (OptkOp.a) */
} SweepJob;

static void sweep_task(void *ctx, int64_t i) {
  SweepJob *j = ctx;
  const RtChunk *c = &j->chunks[i];
  RtTensor *t = j->x->t[c->tensor];
  int64_t rows, cols;
  rt_domain(j->x->grp->d, j->dom, t, &rows, &cols);
  OptkSweepCtx s = {.buf = t->buf, .slot = t->slot, .partial = t->partial, .n = rows * cols,
                    .rows = rows, .cols = cols, .seed = j->x->o->cfg.seed,
                    .step = (uint64_t)j->x->t_step, .tensor_id = t->id};
  j->fn(&s, c->begin, c->end);
}

static int sweep_op(RtExec *x, const OptkOp *op) {
  SweepJob j = {x, x->grp->d->sweep_fns[op->fn], NULL, op->a};
  if (x->t == x->grp->t && x->nt == x->grp->nt && rt_param_domain(x->grp->d, op->a)) {
    if (rt_group_chunks(x->o, x->grp)) return -1;
    j.chunks = x->grp->chunks;
    rt_pool_run(x->o->pool, sweep_task, &j, x->grp->nchunks);
    return 0;
  }
  int64_t n = 0; /* a subset (the init plan's tensor) or a matrix domain */
  RtChunk *c = build_chunks(x->o, x->grp->d, op->a, x->t, x->nt, &n);
  if (!c) return -1;
  j.chunks = c;
  rt_pool_run(x->o->pool, sweep_task, &j, n);
  rt_free(&x->o->alloc, c);
  return 0;
}

static double fold(double acc, double v, int kind) {
  if (kind == OPTK_RED_SUM) return acc + v;
  return (isnan(v) || v > acc) ? v : acc;
}

static void combine_op(RtExec *x, const OptkOp *op) {
  const OptkDescriptor *d = x->grp->d;
  for (int32_t r = op->a; r < op->a + op->b; r++) {
    double init = op->flags == OPTK_RED_SUM ? 0.0 : -INFINITY, acc = init;
    for (int i = 0; i < x->nt; i++) {
      RtTensor *t = x->t[i];
      if (op->scope == OPTK_SCOPE_TENSOR) acc = init;
      int64_t nb = rt_domain_blocks(d, op->c, t);
      for (int64_t b = 0; b < nb; b++)
        acc = fold(acc, t->partial[b * d->nred + (uint32_t)r], op->flags);
      t->red[r] = acc;
    }
    if (op->scope == OPTK_SCOPE_GROUP)
      for (int i = 0; i < x->nt; i++) x->t[i]->red[r] = acc;
  }
}

/* MATOPs of different tensors are independent: with several threads each
 * tensor is a task (OpenBLAS runs single-threaded inside it), with its own
 * error text and fall-back count, merged in tensor order afterwards. */
typedef struct MatJob {
  RtExec *x;
  const OptkOp *op, *pair;
  int *rc;
  char *err;
  int64_t *fallbacks;
} MatJob;

static void matop_task(void *ctx, int64_t i) {
  MatJob *j = ctx;
  j->rc[i] = rt_matop(j->x->grp->d, j->op, j->pair, j->x->t[i], &j->x->o->alloc,
                      j->err + i * RT_ERR_MAX, &j->fallbacks[i]);
}

static int matop_failed(RtExec *x, int i, const char *msg) {
  char lab[160];
  return rt_error(x->o, "%s: parameter %d: %s", rt_group_label(x->o, x->group, lab, sizeof lab),
                  x->t[i]->index, msg);
}

/* pair: NULL, or the next op, run with op (rt_means_pair). */
static int matop_all(RtExec *x, const OptkOp *op, const OptkOp *pair) {
  Optrt *o = x->o;
  MatJob j = {x, op, pair, NULL, NULL, NULL};
  if (o->threads > 1 && x->nt > 1) {
    j.rc = rt_calloc(&o->alloc, (size_t)x->nt, sizeof *j.rc);
    j.err = rt_calloc(&o->alloc, (size_t)x->nt, RT_ERR_MAX);
    j.fallbacks = rt_calloc(&o->alloc, (size_t)x->nt, sizeof *j.fallbacks);
  }
  int rc = 0;
  if (j.rc && j.err && j.fallbacks) {
    rt_pool_run(o->pool, matop_task, &j, x->nt);
    for (int i = 0; i < x->nt; i++) o->solve_fallbacks += j.fallbacks[i];
    for (int i = 0; i < x->nt && !rc; i++)
      if (j.rc[i]) rc = matop_failed(x, i, j.err + (size_t)i * RT_ERR_MAX);
  } else {
    char err[RT_ERR_MAX];
    for (int i = 0; i < x->nt && !rc; i++)
      if (rt_matop(x->grp->d, op, pair, x->t[i], &o->alloc, err, &o->solve_fallbacks))
        rc = matop_failed(x, i, err);
  }
  rt_free(&o->alloc, j.rc);
  rt_free(&o->alloc, j.err);
  rt_free(&o->alloc, j.fallbacks);
  return rc;
}

static int run_op(RtExec *x, const OptkOp *op) {
  switch (op->kind) {
  case OPTK_OP_SCALAR: scalar_op(x, op); return 0;
  case OPTK_OP_SWEEP: return sweep_op(x, op);
  case OPTK_OP_COMBINE: combine_op(x, op); return 0;
  case OPTK_OP_HVP: return rt_host_hvp(x, op);
  case OPTK_OP_HESSIAN: return rt_host_hessian(x, op);
  case OPTK_OP_LINESEARCH: return rt_host_linesearch(x, op);
  case OPTK_OP_MATOP: return matop_all(x, op, NULL);
  case OPTK_OP_GNB: return rt_host_gnb(x, op);
  case OPTK_OP_HISTORY: return rt_history(x, op);
  default: return 0;
  }
}

int rt_exec_plan(RtExec *x) {
  if (x->nt == 0) return 0;
  int pc = 0;
  while (pc < x->nops) {
    const OptkOp *op = &x->ops[pc];
    if (op->kind == OPTK_OP_JUMP) {
      pc = op->a;
    } else if (op->kind == OPTK_OP_JUMP_IF_ZERO) {
      pc = x->t[0]->slot[op->b] == 0.0 ? op->a : pc + 1;
    } else if (pc + 1 < x->nops && rt_means_pair(op, &x->ops[pc + 1])) {
      if (matop_all(x, op, &x->ops[pc + 1])) return -1;
      pc += 2;
    } else {
      if (run_op(x, op)) return -1;
      pc++;
    }
  }
  return 0;
}

typedef struct ScanJob {
  RtGroup *grp;
  atomic_int bad;
} ScanJob;

static void scan_task(void *ctx, int64_t i) {
  ScanJob *j = ctx;
  const RtChunk *c = &j->grp->chunks[i];
  const float *g = j->grp->t[c->tensor]->g;
  bool bad = false;
  for (int64_t e = c->begin; e < c->end; e++) bad |= !isfinite(g[e]);
  if (bad) atomic_store(&j->bad, 1);
}

int rt_group_has_nonfinite(Optrt *o, RtGroup *grp) {
  if (rt_group_chunks(o, grp)) return -1;
  ScanJob j = {grp, 0};
  atomic_init(&j.bad, 0);
  rt_pool_run(o->pool, scan_task, &j, grp->nchunks);
  return atomic_load(&j.bad) ? 1 : 0;
}

/* sched.c: the sweep scheduler: function-level IR -> the step plan.
 *
 * 1. Levels.  Phase k of the plan is: [SCALAR k] [SWEEP k] [combines and
 *    host ops of level k] [jumps].  A reduction gets the lowest level at
 *    which its input can be computed (so independent reductions share one
 *    sweep); host calls and `if` markers are ordered: each comes after
 *    every barrier before it in program order.  `ep` is the first phase
 *    whose sweep can compute a value.
 * 2. Stores.  Each STORE may go to any phase of its context between the
 *    first where its value exists (lo) and the last before something reads
 *    memory (hi).  In program order, each takes the earliest phase that
 *    already has a sweep and leaves every root of every phase computable;
 *    otherwise hi: a state's store waits while a later sweep still needs
 *    its old value.
 * 3. Materialisation.  A sweep computes a value by loading it from a
 *    buffer that holds it at that phase (a state stored earlier, or an
 *    intact old value), else by recomputing it from its arguments; scalars
 *    come from slots, RNG is recomputed (counter-based).  Only a value
 *    whose memory is gone (p and g after a linesearch, an hvp input) gets
 *    a scratch buffer.
 * 4. Emission of stages, costs and the init plan.
 *
 * Buffer contents are tracked as value numbers: a store puts its value,
 * the step's entry and each host write put a version token -(version+1),
 * matched by LOADs of that version.  Everything walks values in index
 * order (arguments precede uses), so nothing recurses on deep input.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ir_build.h"
#include "ir_func.h"
#include "sched_scratch.h"

enum { GARBAGE = INT_MIN };

typedef struct Write {
  int buf, x, kind, seq, content; /* effective in phases > x; kind 0 store, 1 host */
} Write;

typedef struct Store {
  int inst, buf, value, lo, hi, ctx, phase; /* phase -1: not placed (at hi) */
} Store;

typedef struct Sched {
  IrProgram *prog;
  const IrFunc *f;
  DiagSink *diags;
  bool init;
  int errors;
  int *ep, *lvl, *ctx; /* per instruction */
  int nphases;
  int *phase_ctx;
  int *ctx_parent;     /* [nblocks + 1]: context 0 is the root */
  struct { Store *data; int len, cap; } stores;
  struct { Write *data; int len, cap; } writes; /* host writes */
  int *ls_level;       /* [nls] level of each linesearch */
  int *ls_inst;        /* [nls] the linesearch instruction */
  int nls;
  int *host_in;        /* host op: input buffer; matop: first operand */
  int *host_in2;       /* matop: second operand buffer, or -1 */
  int *mat_add;        /* GEMM: the buffer of the matrix it adds to (xargs[3]), or -1 */
  int *host_out;       /* hvp, gnb: output buffer */
  int *mat_buf;        /* matop, msweep, hessian: output buffer; mreduce:
                          its domain; -1 elsewhere */
  int *red_id, *slot_of, *slot_ctx;
  int nbufs0;          /* buffers before scratch */
  unsigned char *ok;   /* scratch for materialisation checks [len] */
  OptkDType compute;
  int fn[2];           /* next SCALAR / SWEEP function number */
} Sched;

static int max2(int a, int b) { return a > b ? a : b; }

static bool ctx_dominates(const struct Sched *S, int outer, int inner);

static bool is_host(int op) { return op == FN_HVP || op == FN_LINESEARCH; }
/* Host calls that read p from memory. */
static bool reads_p(int op) { return is_host(op) || op == FN_HESSIAN || op == FN_GNB; }
/* Values a sweep computes per element: ELEM, and MAT (in a parameter
 * sweep a MAT value broadcasts: a row or column vector). */
static bool per_elem(const IrFInst *in) { return irf_is_elem(in) || irf_is_mat(in); }

/* ---- 1. levels ------------------------------------------------------------- */

static int version_ep(Sched *S, int version) {
  return version <= 0 || version > S->nls ? 0 : S->ls_level[version - 1] + 1;
}

static int arg_ep(Sched *S, const IrFInst *in) {
  int e = 0;
  for (int k = 0; k < 3; k++)
    if (in->args[k] >= 0) e = max2(e, S->ep[in->args[k]]);
  for (int k = 0; k < 4; k++) { /* scalars, from the SCALAR stage before */
    bool operand = in->op == FN_MATOP && (k == 0 || k == 3); /* a matrix, not a scalar */
    if (in->xargs[k] >= 0) e = max2(e, S->ep[in->xargs[k]] - !operand);
  }
  return e;
}

typedef struct LevelWalk {
  int base, maxlvl, depth;
  int sync_ep; /* ep of the value last stored into p (host calls read it) */
  int *stack; /* open FN_IF instructions */
} LevelWalk;

static void level_barrier(Sched *S, LevelWalk *w, int i) {
  const IrFInst *in = &S->f->data[i];
  int e = arg_ep(S, in);
  switch (in->op) {
  case IR_REDUCE:
    S->lvl[i] = max2(w->base, e);
    S->ep[i] = S->lvl[i] + 1;
    w->maxlvl = max2(w->maxlvl, S->lvl[i]);
    return;
  case FN_IF:
    S->lvl[i] = max2(max2(w->base, w->maxlvl), S->ep[in->args[0]] - 1);
    w->stack[w->depth++] = i;
    break;
  case FN_ENDIF:
    S->lvl[i] = max2(w->maxlvl, w->depth ? S->lvl[w->stack[--w->depth]] + 1 : 0);
    break;
  case FN_MSWEEP:
    if (in->index < 0) {
      /* into a scratch (pass bcast's factors, matrix ops' operands): runs
       * after the sweep and combines of the level where its arguments
       * exist and after the host calls before it, and orders nothing
       * else, like a reduction (later events of its level follow it in
       * program order) */
      S->lvl[i] = max2(max2(w->base - 1, e - 1), 0);
      S->ep[i] = S->lvl[i] + 1;
      w->maxlvl = max2(w->maxlvl, S->lvl[i]);
      return;
    }
    S->lvl[i] = max2(max2(w->base, w->maxlvl), max2(e, w->sync_ep));
    break;
  default: /* host calls */
    S->lvl[i] = max2(max2(w->base, w->maxlvl), max2(e, w->sync_ep));
    if (in->op == FN_LINESEARCH) {
      S->ls_inst[S->nls] = i;
      S->ls_level[S->nls++] = S->lvl[i];
    }
    break;
  }
  S->ep[i] = S->lvl[i] + 1;
  w->base = S->lvl[i] + 1;
  w->maxlvl = S->lvl[i];
}

static void compute_levels(Sched *S) {
  const IrFunc *f = S->f;
  LevelWalk w = {0, -1, 0, 0, xmalloc(sizeof(int) * (size_t)(f->len + 1))};
  int ctx = 0, nctx = 1;
  int *ctxstack = xmalloc(sizeof(int) * (size_t)(f->len + 1));
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    S->lvl[i] = -1;
    if (in->op == FN_ENDIF && w.depth > 0) ctx = ctxstack[w.depth - 1];
    S->ctx[i] = ctx;
    if (in->op == FN_IF) {
      ctxstack[w.depth] = ctx;
      S->ctx_parent[nctx] = ctx;
      ctx = nctx++;
    }
    if (irf_is_barrier(in)) level_barrier(S, &w, i);
    else if (in->op == IR_LOAD || in->op == IR_LOSS) S->ep[i] = version_ep(S, in->aux);
    else S->ep[i] = arg_ep(S, in);
    if (in->op == IR_STORE && in->index == 0) w.sync_ep = S->ep[i];
  }
  S->nphases = w.maxlvl + 1;
  free(w.stack);
  free(ctxstack);
}

/* Contexts of phases: the phases of a block are (level of FN_IF, level of
 * FN_ENDIF]; inner blocks come later in program order and win. */
static void compute_phase_ctx(Sched *S) {
  const IrFunc *f = S->f;
  S->phase_ctx = xcalloc((size_t)S->nphases + 2, sizeof(int));
  for (int i = 0; i < f->len; i++) {
    if (f->data[i].op != FN_IF) continue;
    int depth = 0, j = i;
    for (; j < f->len; j++) {
      depth += f->data[j].op == FN_IF;
      if (f->data[j].op == FN_ENDIF && --depth == 0) break;
    }
    for (int k = S->lvl[i] + 1; k <= S->lvl[j] && k < S->nphases; k++)
      S->phase_ctx[k] = S->ctx[i + 1];
  }
}

/* ---- buffer contents ---------------------------------------------------------- */

static int store_phase(const Store *s) { return s->phase >= 0 ? s->phase : s->hi; }

static bool key_later(int x, int kind, int seq, int bx, int bkind, int bseq) {
  if (x != bx) return x > bx;
  if (kind != bkind) return kind > bkind;
  return seq > bseq;
}

/* What buffer b holds when phase j's sweep starts. */
static int content_at(const Sched *S, int b, int j) {
  int best = b < S->nbufs0 ? -1 : GARBAGE, bx = -1, bkind = -1, bseq = -1;
  for (int i = 0; i < S->writes.len; i++) {
    const Write *w = &S->writes.data[i];
    if (w->buf == b && w->x < j && key_later(w->x, w->kind, w->seq, bx, bkind, bseq))
      best = w->content, bx = w->x, bkind = w->kind, bseq = w->seq;
  }
  bool maybe = false; /* the latest store sits in a block that may not have run */
  for (int i = 0; i < S->stores.len; i++) {
    const Store *s = &S->stores.data[i];
    int x = store_phase(s);
    if (s->buf == b && x < j && key_later(x, 0, s->inst, bx, bkind, bseq)) {
      best = s->value, bx = x, bkind = 0, bseq = s->inst;
      maybe = S->phase_ctx && !ctx_dominates(S, s->ctx, S->phase_ctx[j]);
    }
  }
  /* a scratch written in a block holds nothing certain outside it (a pure
   * value CSE'd between sibling blocks must be recomputed there) */
  return maybe && b >= S->nbufs0 ? GARBAGE : best;
}

/* Whether buffer b, holding `content`, gives back value v when loaded.  A
 * stored value comes back exactly only when the buffer's dtype is the
 * sweeps' compute type: a bf16 state (or an f32 one under f64 compute)
 * holds a rounded copy, so later sweeps recompute the value instead. */
static bool holds(const Sched *S, int content, int b, int v) {
  const IrFInst *in = &S->f->data[v];
  if (content == v) /* a matrix op's value is its output, rounded to its dtype */
    return S->prog->bufs[b].dtype == S->compute || irf_is_mat(in) || irf_is_barrier(in);
  return in->op == IR_LOAD && in->index == b && content == -(in->aux + 1);
}

/* Whether memory of b holds v at all (host calls read it as stored). */
static bool holds_stored(const Sched *S, int content, int b, int v) {
  return content == v || holds(S, content, b, v);
}

/* cont[b] = content_at(b, j) for every buffer. */
static int *contents(const Sched *S, int j) {
  int *cont = xmalloc(sizeof(int) * (size_t)(S->prog->nbufs + 1));
  for (int b = 0; b < S->prog->nbufs; b++) cont[b] = content_at(S, b, j);
  return cont;
}

/* A buffer holding value v (contents `cont`), or -1. */
static int buffer_holding(const Sched *S, const int *cont, int v) {
  if (S->f->data[v].op == IR_RNG) return -1; /* recomputing is cheaper than a load */
  for (int b = 0; b < S->prog->nbufs; b++)
    if (holds(S, cont[b], b, v)) return b;
  return -1;
}

/* ---- roots and checks ------------------------------------------------------- */

typedef struct Roots {
  int *data;
  int len, cap;
} Roots;

/* Values the sweep of phase j must compute. */
static void phase_roots(const Sched *S, int j, Roots *r) {
  r->len = 0;
  for (int i = 0; i < S->f->len; i++) {
    const IrFInst *in = &S->f->data[i];
    if (in->op == IR_REDUCE && S->lvl[i] == j) VEC_PUSH(r, in->args[0]);
  }
  for (int i = 0; i < S->stores.len; i++)
    if (store_phase(&S->stores.data[i]) == j) VEC_PUSH(r, S->stores.data[i].value);
}

/* Fills S->ok[v] for v <= last: whether phase j's sweep can compute v. */
static void compute_ok(Sched *S, int j, int last) {
  int *cont = contents(S, j);
  for (int v = 0; v <= last; v++) {
    const IrFInst *in = &S->f->data[v];
    bool ok;
    if (!per_elem(in)) ok = true;
    else if (buffer_holding(S, cont, v) >= 0) ok = true;
    else if (in->op == IR_LOAD || irf_is_barrier(in)) ok = false;
    else {
      ok = true;
      for (int k = 0; k < 3; k++)
        if (in->args[k] >= 0 && !S->ok[in->args[k]]) ok = false;
    }
    S->ok[v] = ok;
  }
  free(cont);
}

static int max_root(const Roots *r) {
  int m = -1;
  for (int i = 0; i < r->len; i++) m = max2(m, r->data[i]);
  return m;
}

/* First root of phase j that cannot be computed, or -1. */
static int phase_failure(Sched *S, int j, Roots *r) {
  phase_roots(S, j, r);
  if (!r->len) return -1;
  compute_ok(S, j, max_root(r));
  for (int i = 0; i < r->len; i++)
    if (!S->ok[r->data[i]]) return r->data[i];
  return -1;
}

/* An ELEM operand read straight from p, g or a state still holds it. */
static bool input_intact(const Sched *S, int i, int b, int v) {
  if (b < 0 || b >= S->nbufs0 || v < 0 || !irf_is_elem(&S->f->data[v])) return true;
  return holds_stored(S, content_at(S, b, S->lvl[i] + 1), b, v);
}

static bool plan_ok(Sched *S, Roots *r) {
  for (int j = 0; j < S->nphases; j++)
    if (phase_failure(S, j, r) >= 0) return false;
  for (int i = 0; i < S->f->len; i++) { /* host inputs read directly */
    const IrFInst *in = &S->f->data[i];
    if (in->op == FN_HIST_PUSH && !input_intact(S, i, S->host_in2[i], in->args[1])) return false;
    if (!is_host(in->op) && in->op != FN_MATOP && in->op != FN_HIST_DIR && in->op != FN_HIST_PUSH)
      continue;
    if (!input_intact(S, i, S->host_in[i], in->args[0])) return false;
    if (in->op == FN_MATOP && !input_intact(S, i, S->host_in2[i], in->xargs[0])) return false;
    if (in->op == FN_MATOP && in->xargs[3] >= 0 && !input_intact(S, i, S->mat_add[i], in->xargs[3]))
      return false;
  }
  return true;
}

static bool phase_active(Sched *S, int j, Roots *r) {
  phase_roots(S, j, r);
  return r->len > 0;
}

/* ---- 2. stores ---------------------------------------------------------------- */

static int new_scratch(Sched *S) {
  int n = S->prog->scratch_buffers++;
  char name[32];
  snprintf(name, sizeof name, "scratch%d", n);
  return ir_program_add_buffer(S->prog, name, OPTK_BUF_SCRATCH, S->compute, OPTK_DIM_N,
                               OPTK_DIM_ONE);
}

static void add_store(Sched *S, int inst, int buf, int value, int lo, int hi, int ctx,
                      int phase) {
  Store s = {inst, buf, value, lo, hi, ctx, phase};
  VEC_PUSH(&S->stores, s);
}

/* lo: after the value exists, after the last host call touching the
 * buffer before it (host calls read p) and inside its block; hi: before
 * the next host call that reads it, else the last phase. */
static void collect_stores(Sched *S) {
  const IrFunc *f = S->f;
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    if (in->op != IR_STORE) continue;
    int lo = S->ep[in->args[0]], hi = S->nphases - 1;
    for (int k = i - 1; k >= 0; k--)
      if (in->index == 0 && reads_p(f->data[k].op)) {
        lo = max2(lo, S->lvl[k] + 1);
        break;
      }
    for (int k = i + 1; k < f->len; k++)
      if (in->index == 0 && reads_p(f->data[k].op)) {
        hi = S->lvl[k];
        break;
      }
    add_store(S, i, in->index, in->args[0], lo, hi, S->ctx[i], -1);
  }
}

static void place_store(Sched *S, Store *s, Roots *r) {
  for (int k = s->lo; k <= s->hi; k++) {
    if (S->phase_ctx[k] != s->ctx) continue;
    if (k != s->hi && !phase_active(S, k, r)) continue;
    s->phase = k;
    if (plan_ok(S, r)) return;
  }
  s->phase = -1;
}

static int new_mat_scratch(Sched *S, int d0, int d1) {
  int n = S->prog->scratch_buffers++;
  char name[32];
  snprintf(name, sizeof name, "scratch%d", n);
  return ir_program_add_buffer(S->prog, name, OPTK_BUF_SCRATCH, S->compute, (OptkDim)d0,
                               (OptkDim)d1);
}

/* The buffer holding value v of an earlier barrier or a load, or -1. */
static int buffer_of(const Sched *S, int v) {
  const IrFInst *in = &S->f->data[v];
  if (S->mat_buf[v] >= 0 && in->op != FN_MREDUCE) return S->mat_buf[v];
  if (in->op == FN_HVP || in->op == FN_GNB) return S->host_out[v];
  return in->op == IR_LOAD ? in->index : -1;
}

/* A matrix op's operand: a MAT value's buffer; an ELEM value read where
 * it is (a load or an earlier op's output), else written to a scratch by
 * the sweep of the op's level. */
static int matop_input(Sched *S, int i, int v) {
  if (v < 0) return -1;
  int b = buffer_of(S, v);
  if (b >= 0 || !irf_is_elem(&S->f->data[v])) return b;
  /* a state the value was stored into (its rounded copy, as a matrix
   * state's value is), or a scratch copy made for an earlier op */
  for (int k = 0; k < S->stores.len; k++) {
    const Store *st = &S->stores.data[k];
    if (st->value == v && st->buf >= 2 && st->phase >= 0 && st->phase <= S->lvl[i] &&
        ctx_dominates(S, st->ctx, S->ctx[i]) && S->prog->bufs[st->buf].dtype != OPTK_BF16)
      return st->buf;
  }
  b = new_scratch(S);
  add_store(S, i, b, v, S->lvl[i], S->lvl[i], S->ctx[i], S->lvl[i]);
  return b;
}

/* A matrix buffer with v's dims (an earlier MAT value's, most recent
 * first) to name an mreduce's domain; else a scratch of those dims. */
static int domain_for(Sched *S, int v) {
  const IrFInst *root = &S->f->data[v];
  for (int k = v; k >= 0; k--) {
    const IrFInst *in = &S->f->data[k];
    int b = irf_is_mat(in) ? buffer_of(S, k) : -1;
    if (b >= 0 && in->mdim[0] == root->mdim[0] && in->mdim[1] == root->mdim[1]) return b;
  }
  return new_mat_scratch(S, root->mdim[0], root->mdim[1]);
}

static void plan_mat_io(Sched *S, int i) {
  const IrFInst *in = &S->f->data[i];
  int out = -1;
  if (in->op == FN_MATOP) {
    S->host_in[i] = matop_input(S, i, in->args[0]);
    S->host_in2[i] = matop_input(S, i, in->xargs[0]);
    S->mat_add[i] = matop_input(S, i, in->xargs[3]);
    out = in->out > 1         ? in->out
          : irf_is_elem(in) ? new_scratch(S)
                            : new_mat_scratch(S, in->mdim[0], in->mdim[1]);
  } else if (in->op == FN_MSWEEP) {
    out = in->index >= 0 ? in->index : new_mat_scratch(S, in->mdim[0], in->mdim[1]);
  } else if (in->op == FN_HESSIAN) {
    out = in->out > 1 ? in->out : new_mat_scratch(S, OPTK_DIM_N, OPTK_DIM_N);
  } else { /* FN_MREDUCE: no output buffer */
    S->mat_buf[i] = domain_for(S, in->args[0]);
    return;
  }
  S->mat_buf[i] = out;
  Write w = {out, S->lvl[i], 1, i, i};
  VEC_PUSH(&S->writes, w);
}

/* The scratch buffer a host call (hvp, gnb) writes its value into. */
static void plan_host_out(Sched *S, int i) {
  S->host_out[i] = new_scratch(S);
  Write w = {S->host_out[i], S->lvl[i], 1, i, i};
  VEC_PUSH(&S->writes, w);
}

/* An L-BFGS history op: its operands as a matrix op's; the direction
 * goes to a scratch buffer. */
static void plan_history_io(Sched *S, int i) {
  const IrFInst *in = &S->f->data[i];
  S->host_in[i] = matop_input(S, i, in->args[0]);
  if (in->op == FN_HIST_PUSH) {
    S->host_in2[i] = matop_input(S, i, in->args[1]);
    return;
  }
  S->mat_buf[i] = new_scratch(S);
  Write w = {S->mat_buf[i], S->lvl[i], 1, i, i};
  VEC_PUSH(&S->writes, w);
}

/* Host inputs: read directly when the value is an intact buffer, else
 * written to a scratch buffer by the sweep of the host call's level. */
static void plan_host_io(Sched *S) {
  const IrFunc *f = S->f;
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    if (in->op >= FN_MATOP && in->op <= FN_HESSIAN) plan_mat_io(S, i);
    if (in->op == FN_HIST_DIR || in->op == FN_HIST_PUSH) plan_history_io(S, i);
    if (in->op == FN_GNB) plan_host_out(S, i);
    if (!is_host(in->op)) continue;
    const IrFInst *v = &f->data[in->args[0]];
    int synced = -1; /* hvp(p) right after p's store reads p itself */
    for (int k = 0; k < S->stores.len; k++)
      if (S->stores.data[k].value == in->args[0] && S->stores.data[k].hi == S->lvl[i])
        synced = S->stores.data[k].buf;
    if (v->op == IR_LOAD) {
      S->host_in[i] = v->index;
    } else if (synced >= 0) {
      S->host_in[i] = synced;
    } else {
      S->host_in[i] = new_scratch(S);
      add_store(S, i, S->host_in[i], in->args[0], S->lvl[i], S->lvl[i], S->ctx[i], S->lvl[i]);
    }
    if (in->op == FN_HVP) {
      plan_host_out(S, i);
    } else {
      S->nls++; /* p and g now hold version nls */
      Write wp = {0, S->lvl[i], 1, i, -(S->nls + 1)};
      Write wg = {1, S->lvl[i], 1, i, -(S->nls + 1)};
      VEC_PUSH(&S->writes, wp);
      VEC_PUSH(&S->writes, wg);
    }
  }
}

static bool ctx_dominates(const struct Sched *S, int outer, int inner) {
  for (int c = inner;; c = S->ctx_parent[c]) {
    if (c == outer) return true;
    if (c == 0) return false;
  }
}

/* A root of phase j lost its memory: copy the lost LOAD to a scratch
 * buffer in the last phase that still has it. */
static bool fix_with_scratch(Sched *S, int j, int root) {
  int leaf = -1;
  unsigned char *mark = xcalloc((size_t)root + 1, 1);
  mark[root] = 1;
  for (int v = root; v >= 0 && leaf < 0; v--) { /* a failing LOAD under root */
    const IrFInst *in = &S->f->data[v];
    if (!mark[v] || S->ok[v]) continue;
    if (in->op == IR_LOAD) leaf = v;
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0) mark[in->args[k]] = 1;
  }
  free(mark);
  if (leaf < 0 || irf_is_mat(&S->f->data[leaf])) return false;
  const IrFInst *in = &S->f->data[leaf];
  /* A version made inside a block is only used after it through the
   * selects that merge the block, which discard it when the block was
   * skipped: a copy in a phase that runs whenever that block ran is
   * enough, even if it runs (and copies stale data) when it did not. */
  int home = in->aux > 0 && in->aux <= S->nls ? S->ctx[S->ls_inst[in->aux - 1]] : 0;
  for (int pass = 0; pass < 2; pass++)
    for (int k = j - 1; k >= S->ep[leaf]; k--) {
      int c = S->phase_ctx[k];
      bool where_ok = pass == 0 ? ctx_dominates(S, c, S->phase_ctx[j]) : ctx_dominates(S, c, home);
      if (where_ok && holds(S, content_at(S, in->index, k), in->index, leaf)) {
        add_store(S, leaf, new_scratch(S), leaf, k, k, c, k);
        return true;
      }
    }
  return false;
}

/* ---- carried locals ----------------------------------------------------------
 * A local updated in a chain of `if` blocks (Newton-CG's z, r and d, once
 * per unrolled CG iteration) merges after each block as s = select(c, a,
 * b): a its value at the block's end, b its value before.  Recomputed
 * from its leaves, s keeps every earlier block's hvp output live.
 * Instead one scratch buffer X carries the local: X holds b when the
 * block starts and a store in the block's own phases (which run exactly
 * when the block runs) puts a there, so after the block X holds s whether
 * the block ran or not; a Write of s at the block's last phase records
 * that.  The chain's first value is stored outside every block.  Only
 * chains of two or more merges are carried (a single merge, as Sophia's
 * `every`, would only add a copy), and a merge is kept only when the
 * whole plan stays computable. */

typedef struct Merge {
  int s, a, b, ib, ie;
  bool carried;
} Merge;

/* Whether s merges a block: s = select(c, a, b) right after the block's
 * FN_ENDIF (past other merges), c its condition (or c = !x and s =
 * select(x, b, a), as `else` lowers). */
static bool merge_of(const Sched *S, int s, Merge *m) {
  const IrFunc *f = S->f;
  const IrFInst *in = &f->data[s];
  if (in->op != IR_SELECT || !irf_is_elem(in)) return false;
  int ie = s - 1;
  while (ie >= 0 && f->data[ie].op == IR_SELECT) ie--;
  if (ie < 1 || f->data[ie].op != FN_ENDIF) return false;
  int ib = ie - 1;
  while (ib >= 0 && !(f->data[ib].op == FN_IF && f->data[ib].index == f->data[ie].index)) ib--;
  if (ib < 0 || ib + 1 == ie) return false;
  const IrFInst *c = &f->data[f->data[ib].args[0]];
  if (in->args[0] == f->data[ib].args[0]) {
    m->a = in->args[1], m->b = in->args[2];
  } else if (c->op == IR_NOT && c->args[0] == in->args[0]) {
    m->a = in->args[2], m->b = in->args[1];
  } else {
    return false;
  }
  m->s = s, m->ib = ib, m->ie = ie, m->carried = false;
  return m->a != m->b && irf_is_elem(&f->data[m->a]) && irf_is_elem(&f->data[m->b]);
}

/* Chains: a merge whose b is an earlier merge's s; then, last to first,
 * the inner merges that give a carried merge its a. */
static void mark_carried(Merge *m, int nm) {
  for (int i = 0; i < nm; i++)
    for (int j = 0; j < i; j++)
      if (m[j].s == m[i].b) m[i].carried = m[j].carried = true;
  for (int i = nm - 1; i >= 0; i--)
    for (int j = 0; m[i].carried && j < i; j++)
      if (m[j].s == m[i].a) m[j].carried = true;
}

/* A store of b into X, new, in the earliest phase up to lo that has a
 * sweep, can compute b and lies outside every block: it always runs, so
 * X holds the chain's value after each of its merges on every path.
 * Returns the phase, or -1 when none does (a chain inside a block is
 * recomputed). */
static int store_before(Sched *S, int X, int b, int lo, int seq, Roots *r) {
  for (int k = S->ep[b]; k <= lo; k++) {
    if (S->phase_ctx[k] != 0 || !phase_active(S, k, r)) continue;
    add_store(S, seq, X, b, k, k, 0, k);
    return k;
  }
  return -1;
}

/* plan_ok after new stores and writes of a carrier at phases >= from:
 * earlier phases see the same contents, and no host op reads a carrier. */
static bool carried_ok(Sched *S, Roots *r, int from) {
  for (int j = from + 1; j < S->nphases; j++)
    if (phase_failure(S, j, r) >= 0) return false;
  return true;
}

/* Records that X holds s after the block and, unless an inner merge
 * already leaves a in X, stores a in the earliest phase of the block's
 * own that keeps the plan computable (checked from phase `from`). */
static bool store_merge(Sched *S, int X, const Merge *m, int from, Roots *r) {
  int bctx = S->ctx[m->ib + 1], lo = S->lvl[m->ib], hi = S->lvl[m->ie];
  bool inner = content_at(S, X, hi + 1) == m->a;
  Write w = {X, hi, 1, m->s, m->s};
  VEC_PUSH(&S->writes, w);
  if (inner) return carried_ok(S, r, from);
  for (int k = max2(lo + 1, S->ep[m->a]); k <= hi; k++) {
    if (S->phase_ctx[k] != bctx || !phase_active(S, k, r)) continue;
    add_store(S, m->s, X, m->a, k, k, bctx, k);
    if (carried_ok(S, r, from)) return true;
    S->stores.len--;
  }
  return false;
}

/* carry->data[X - nbufs0]: the value buffer X carries now, or -1. */
typedef struct CarryVec {
  int *data;
  int len, cap;
} CarryVec;

static int carrier(const Sched *S, const CarryVec *carry, int v) {
  for (int x = 0; x < carry->len; x++)
    if (carry->data[x] == v) return S->nbufs0 + x;
  return -1;
}

static bool try_merge(Sched *S, const Merge *m, CarryVec *carry, Roots *r) {
  int lo = S->lvl[m->ib], from = lo;
  int X = carrier(S, carry, m->a); /* an inner merge's buffer, holding b at the start */
  if (X < 0 || content_at(S, X, lo + 1) != m->b) X = carrier(S, carry, m->b);
  if (X < 0) {
    X = new_scratch(S);
    while (carry->len < X - S->nbufs0 + 1) VEC_PUSH(carry, -1);
    from = store_before(S, X, m->b, lo, m->s, r);
    if (from < 0) return false;
  } else if (content_at(S, X, lo + 1) != m->b) {
    return false;
  }
  if (!store_merge(S, X, m, from, r)) return false;
  carry->data[X - S->nbufs0] = m->s;
  return true;
}

static void carry_locals(Sched *S, Roots *r) {
  Merge *m = xmalloc(sizeof(Merge) * (size_t)(S->f->len + 1));
  int nm = 0;
  for (int s = 0; s < S->f->len; s++)
    if (merge_of(S, s, &m[nm])) nm++;
  mark_carried(m, nm);
  CarryVec carry = {0};
  for (int i = 0; i < nm; i++) {
    int nstores = S->stores.len, nwrites = S->writes.len;
    if (m[i].carried && !try_merge(S, &m[i], &carry, r))
      S->stores.len = nstores, S->writes.len = nwrites;
  }
  VEC_FREE(&carry);
  free(m);
}

static void place_all(Sched *S) {
  Roots r = {0};
  int nreal = S->stores.len;
  for (int i = 0; i < nreal; i++)
    if (S->stores.data[i].buf < S->nbufs0) place_store(S, &S->stores.data[i], &r);
  /* Each copy makes one (value, phase) computable, so this ends. */
  for (long guard = (long)S->f->len * S->nphases + 1;; guard--) {
    int j = 0, bad = -1;
    for (; j < S->nphases && bad < 0; j++) bad = phase_failure(S, j, &r);
    if (bad < 0) break;
    if (guard == 0 || !fix_with_scratch(S, j - 1, bad)) {
      diag_error(S->diags, S->f->data[bad].span,
                 "this value needs p, g or a state as it was before a host call changed "
                 "it, and no earlier sweep can keep a copy");
      S->errors++;
      break;
    }
  }
  if (!S->errors) carry_locals(S, &r);
  VEC_FREE(&r);
}

/* ---- 3. stage code -------------------------------------------------------------- */

typedef struct Code {
  IrInst *data;
  int len, cap;
  int *map; /* function value -> code value, -1 */
} Code;

static int code_push(Code *c, IrOp op, const IrFInst *src) {
  IrInst in = {.op = op, .args = {-1, -1, -1}, .span = src->span};
  VEC_PUSH(c, in);
  return c->len - 1;
}

/* Scalars a SCALAR stage must compute, each into its slot. */
typedef struct PendItem {
  int v, slot;
} PendItem;

typedef struct Pending {
  PendItem *data;
  int len, cap;
} Pending;

typedef struct IntVec {
  int *data;
  int len, cap;
} IntVec;

/* The slot of scalar v for phase context ctx, or -1 when v must be
 * computed (then it is queued for the SCALAR stage before). */
static int slot_for(Sched *S, int v, int ctx, Pending *pend) {
  if (S->slot_of[v] >= 0 && ctx_dominates(S, S->slot_ctx[v], ctx)) return S->slot_of[v];
  S->slot_of[v] = S->prog->nslot++;
  S->slot_ctx[v] = ctx;
  PendItem it = {v, S->slot_of[v]};
  VEC_PUSH(pend, it);
  return S->slot_of[v];
}

static void emit_args(Code *c, int at, const IrFInst *in) {
  for (int k = 0; k < irf_op_nargs(in->op); k++) c->data[at].args[k] = c->map[in->args[k]];
  c->data[at].index = in->index;
  c->data[at].aux = in->aux;
  c->data[at].imm = in->imm;
}

/* Sweep code for value v (its arguments already emitted when needed). */
static int sweep_value(Sched *S, Code *c, int v, int j, const int *cont, Pending *pend,
                       bool *loaded) {
  const IrFInst *in = &S->f->data[v];
  if (in->op == IR_CONST) {
    int at = code_push(c, IR_CONST, in);
    c->data[at].imm = in->imm;
    return at;
  }
  if (!per_elem(in)) {
    int at = code_push(c, IR_SLOT, in);
    c->data[at].index = slot_for(S, v, S->phase_ctx[j], pend);
    return at;
  }
  int b = buffer_holding(S, cont, v);
  if (b >= 0) {
    int at = code_push(c, IR_LOAD, in);
    c->data[at].index = b;
    loaded[b] = true;
    return at;
  }
  int at = code_push(c, (IrOp)in->op, in);
  emit_args(c, at, in);
  return at;
}

/* Marks what phase j's sweep computes, from the roots down to values
 * loaded or read from slots. */
static void mark_needed(Sched *S, const Roots *r, const int *cont, unsigned char *need) {
  int last = max_root(r);
  memset(need, 0, (size_t)S->f->len);
  for (int i = 0; i < r->len; i++) need[r->data[i]] = 1;
  for (int v = last; v >= 0; v--) {
    const IrFInst *in = &S->f->data[v];
    if (!need[v] || !per_elem(in) || buffer_holding(S, cont, v) >= 0) continue;
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0) need[in->args[k]] = 1;
  }
}

static void copy_code(Sched *S, int stage, const Code *c) {
  IrStage *st = ir_program_stage(S->prog, S->init, stage);
  for (int i = 0; i < c->len; i++) ir_stage_add_inst(S->prog, st, c->data[i]);
}

static bool slot_reusable(const Sched *S, int v, int ctx) {
  return S->slot_of[v] >= 0 && ctx_dominates(S, S->slot_ctx[v], ctx);
}

/* need[v]: 2 must be computed here, 1 used by those (a slot read when
 * an enclosing stage already computed it).  Returns the last value. */
static int mark_scalar_needs(Sched *S, const Pending *pend, const IntVec *sets, int ctx,
                             unsigned char *need) {
  int last = -1;
  for (int i = 0; i < pend->len; i++) need[pend->data[i].v] = 2, last = max2(last, pend->data[i].v);
  for (int i = 0; sets && i < sets->len; i++) {
    int v = S->f->data[sets->data[i]].args[0];
    need[v] = 2, last = max2(last, v);
  }
  for (int v = last; v >= 0; v--) {
    const IrFInst *in = &S->f->data[v];
    if (!need[v] || in->op == IR_REDUCE || in->op == FN_LINESEARCH || in->op == FN_MREDUCE)
      continue;
    if (need[v] == 1 && slot_reusable(S, v, ctx)) continue;
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0 && !need[in->args[k]]) need[in->args[k]] = 1;
  }
  return last;
}

/* Scalar code for value v: a reused slot, a combined reduction, the
 * linesearch step's slot, or the operation itself. */
static void scalar_value(Sched *S, Code *c, int v, bool reuse) {
  const IrFInst *in = &S->f->data[v];
  if (reuse || in->op == FN_LINESEARCH) {
    c->map[v] = code_push(c, IR_SLOT, in);
    c->data[c->map[v]].index = S->slot_of[v];
  } else if (in->op == IR_REDUCE || in->op == FN_MREDUCE) {
    c->map[v] = code_push(c, IR_RED, in);
    c->data[c->map[v]].index = S->red_id[v];
  } else {
    c->map[v] = code_push(c, (IrOp)in->op, in);
    emit_args(c, c->map[v], in);
  }
}

static void push_set(Code *c, IrOp op, const IrFInst *src, int value, int index) {
  int at = code_push(c, op, src);
  c->data[at].args[0] = value;
  c->data[at].index = index;
}

/* SCALAR stage computing the queued values into their slots, then the
 * SSTATE_SET instructions `sets` (function values) when given. */
static void emit_scalar_stage_sets(Sched *S, const Pending *pend, int ctx, const IntVec *sets) {
  if (!pend->len && !(sets && sets->len)) return;
  const IrFunc *f = S->f;
  Code c = {0};
  c.map = xmalloc(sizeof(int) * (size_t)f->len);
  unsigned char *need = xcalloc((size_t)f->len, 1);
  int last = mark_scalar_needs(S, pend, sets, ctx, need);
  for (int v = 0; v <= last; v++)
    if (need[v]) scalar_value(S, &c, v, need[v] == 1 && slot_reusable(S, v, ctx));
  for (int i = 0; i < pend->len; i++)
    push_set(&c, IR_SLOT_SET, &f->data[pend->data[i].v], c.map[pend->data[i].v],
             pend->data[i].slot);
  for (int i = 0; sets && i < sets->len; i++) {
    const IrFInst *in = &f->data[sets->data[i]];
    push_set(&c, IR_SSTATE_SET, in, c.map[in->args[0]], in->index);
  }
  int st = ir_program_add_stage(S->prog, S->init, ir_op_scalar(S->fn[0]++));
  copy_code(S, st, &c);
  free(need);
  free(c.map);
  VEC_FREE(&c);
}

static void emit_scalar_stage(Sched *S, const Pending *pend, int ctx) {
  emit_scalar_stage_sets(S, pend, ctx, NULL);
}

/* Reduction ids of level j, grouped by (scope, kind) so that one COMBINE
 * covers each group.  Returns the groups' first ids in first[4]. */
static void assign_reds(Sched *S, int j, int first[4], int count[4]) {
  for (int g = 0; g < 4; g++) {
    first[g] = S->prog->nred;
    count[g] = 0;
    for (int i = 0; i < S->f->len; i++) {
      const IrFInst *in = &S->f->data[i];
      if (in->op == IR_REDUCE && S->lvl[i] == j && in->index * 2 + in->aux == g) {
        S->red_id[i] = S->prog->nred++;
        count[g]++;
      }
    }
  }
}

static int buffer_size(OptkDType t) { return t == OPTK_F64 ? 8 : t == OPTK_BF16 ? 2 : 4; }

/* One element per element of p (row and column vectors and other
 * matrices are not per-element costs). */
static bool param_shaped(const IrBuffer *b) { return ir_dims_param_shaped(b->dim0, b->dim1); }

static void count_costs(Sched *S, const bool *loaded, const bool *stored, int j) {
  if (S->init || S->phase_ctx[j] != 0) return;
  S->prog->sweeps++;
  for (int b = 0; b < S->prog->nbufs; b++)
    if (param_shaped(&S->prog->bufs[b]))
      S->prog->bytes_per_element +=
          (loaded[b] + stored[b]) * buffer_size(S->prog->bufs[b].dtype);
}

/* Appends the effects (reductions, then stores) after all values, so every
 * load of an element precedes every store of it. */
static void emit_effects(Sched *S, Code *c, int j, bool *stored) {
  for (int i = 0; i < S->f->len; i++) {
    const IrFInst *in = &S->f->data[i];
    if (in->op != IR_REDUCE || S->lvl[i] != j) continue;
    int at = code_push(c, IR_REDUCE, in);
    c->data[at].args[0] = c->map[in->args[0]];
    c->data[at].index = S->red_id[i];
    c->data[at].aux = in->aux;
  }
  for (int i = 0; i < S->stores.len; i++) {
    const Store *s = &S->stores.data[i];
    if (store_phase(s) != j) continue;
    int at = code_push(c, IR_STORE, &S->f->data[s->value]);
    c->data[at].args[0] = c->map[s->value];
    c->data[at].index = s->buf;
    stored[s->buf] = true;
  }
}

static void emit_sweep(Sched *S, int j, const Roots *r) {
  const IrFunc *f = S->f;
  Code c = {0};
  Pending pend = {0};
  c.map = xmalloc(sizeof(int) * (size_t)f->len);
  unsigned char *need = xmalloc((size_t)f->len);
  int nb = S->prog->nbufs;
  bool *loaded = xcalloc((size_t)nb, sizeof(bool)), *stored = xcalloc((size_t)nb, sizeof(bool));
  int *cont = contents(S, j);
  mark_needed(S, r, cont, need);
  for (int v = 0; v < f->len; v++)
    if (need[v]) c.map[v] = sweep_value(S, &c, v, j, cont, &pend, loaded);
  free(cont);
  emit_effects(S, &c, j, stored);
  emit_scalar_stage(S, &pend, S->phase_ctx[j]);
  int st = ir_program_add_stage(S->prog, S->init, ir_op_sweep(S->fn[1]++));
  ir_program_stage(S->prog, S->init, st)->compute = S->compute;
  copy_code(S, st, &c);
  int nr = 0, nw = 0;
  for (int b = 0; b < nb; b++) nr += loaded[b], nw += stored[b];
  ir_program_stage(S->prog, S->init, st)->nreads = nr;
  ir_program_stage(S->prog, S->init, st)->nwrites = nw;
  count_costs(S, loaded, stored, j);
  free(loaded);
  free(stored);
  free(need);
  free(c.map);
  VEC_FREE(&c);
  VEC_FREE(&pend);
}

/* ---- 4. plan ops ------------------------------------------------------------------ */

static int add_op(Sched *S, OptkOp op) { return ir_program_add_stage(S->prog, S->init, op); }

static OptkOp plain_op(OptkOpKind kind, int a, int b, int c, int d) {
  OptkOp op = {.kind = (uint16_t)kind, .a = a, .b = b, .c = c, .d = d};
  return op;
}

/* Slots for a scalar computed right here (conditions, linesearch args). */
static int scalar_here(Sched *S, int v, int ctx, Pending *pend) {
  S->slot_of[v] = -1; /* always computed afresh at this point */
  return slot_for(S, v, ctx, pend);
}

/* A SCALAR stage puts step0, c1, c2, max_evals (values lowered with their
 * defaults) into four consecutive slots, then the host op runs. */
static void emit_linesearch(Sched *S, int i, int ctx) {
  const IrFInst *in = &S->f->data[i];
  Pending pend = {0};
  int first = S->prog->nslot;
  S->prog->nslot += 4;
  for (int k = 0; k < 4; k++) {
    PendItem it = {in->xargs[k], first + k};
    VEC_PUSH(&pend, it);
  }
  /* f changes with the step: later stages read f as it was before this
   * linesearch from slots filled now. */
  int version = 0;
  while (version < S->nls && S->ls_inst[version] != i) version++;
  for (int v = 0; v < S->f->len; v++)
    if (S->f->data[v].op == IR_LOSS && S->f->data[v].aux == version)
      slot_for(S, v, ctx, &pend);
  emit_scalar_stage(S, &pend, ctx);
  VEC_FREE(&pend);
  S->slot_of[i] = S->prog->nslot++;
  S->slot_ctx[i] = ctx;
  add_op(S, plain_op(OPTK_OP_LINESEARCH, S->host_in[i], in->aux, first, S->slot_of[i]));
}

/* A matrix op; INV_ROOT's k and eps go to two consecutive slots, GEMM's
 * alpha to one, or alpha and beta to two when it adds its product to a
 * matrix (xargs[3]), which is first copied into the output. */
static void emit_matop(Sched *S, int i, int ctx) {
  const IrFInst *in = &S->f->data[i];
  int slot = -1;
  if (in->xargs[1] >= 0) {
    Pending pend = {0};
    int n = in->xargs[2] >= 0 ? 2 : 1;
    slot = S->prog->nslot;
    S->prog->nslot += n;
    for (int k = 0; k < n; k++) {
      PendItem it = {in->xargs[1 + k], slot + k};
      VEC_PUSH(&pend, it);
    }
    emit_scalar_stage(S, &pend, ctx);
    VEC_FREE(&pend);
  }
  uint32_t flags = (uint32_t)in->aux;
  if (in->xargs[3] >= 0) {
    flags |= OPTK_MATOP_ACCUMULATE;
    if (S->mat_add[i] != S->mat_buf[i])
      add_op(S, ir_op_matop(OPTK_MAT_COPY, S->mat_add[i], -1, S->mat_buf[i], -1, 0));
  }
  add_op(S, ir_op_matop((OptkMatOp)in->index, S->host_in[i], S->host_in2[i], S->mat_buf[i], slot,
                        flags));
}

/* Code of a sweep over a matrix domain for the elementwise tree of v:
 * scalars from slots, matrices and earlier outputs loaded from their
 * buffers (by the position rule of optk.h), the rest recomputed. */
static void domain_code(Sched *S, Code *c, int v, int ctx, Pending *pend) {
  unsigned char *need = xcalloc((size_t)v + 1, 1);
  need[v] = 1;
  for (int k = v; k >= 0; k--) {
    const IrFInst *in = &S->f->data[k];
    if (!need[k]) continue;
    bool leaf = irf_is_scalar(in) || buffer_of(S, k) >= 0 || irf_is_barrier(in);
    for (int a = 0; !leaf && a < 3; a++)
      if (in->args[a] >= 0) need[in->args[a]] = 1;
  }
  for (int k = 0; k <= v; k++) {
    if (!need[k]) continue;
    const IrFInst *in = &S->f->data[k];
    int b = irf_is_scalar(in) ? -1 : buffer_of(S, k);
    if (in->op == IR_CONST) {
      c->map[k] = code_push(c, IR_CONST, in);
      c->data[c->map[k]].imm = in->imm;
    } else if (irf_is_scalar(in)) {
      c->map[k] = code_push(c, IR_SLOT, in);
      c->data[c->map[k]].index = slot_for(S, k, ctx, pend);
    } else if (b >= 0) {
      c->map[k] = code_push(c, IR_LOAD, in);
      c->data[c->map[k]].index = b;
    } else {
      c->map[k] = code_push(c, (IrOp)in->op, in);
      emit_args(c, c->map[k], in);
    }
  }
  free(need);
}

/* FN_MSWEEP (store into its buffer) or FN_MREDUCE (a reduction over its
 * domain, combined over that domain's blocks). */
static void emit_domain_sweep(Sched *S, int i, int ctx) {
  const IrFInst *in = &S->f->data[i];
  int from = in->op == FN_MSWEEP ? buffer_of(S, in->args[0]) : -1;
  if (from >= 0 && from != S->mat_buf[i] && S->prog->bufs[from].dtype != OPTK_BF16 &&
      S->prog->bufs[S->mat_buf[i]].dtype != OPTK_BF16) {
    /* the value is a buffer's (a matrix op's output): a copy, no sweep to compile */
    add_op(S, ir_op_matop(OPTK_MAT_COPY, from, -1, S->mat_buf[i], -1, 0));
    return;
  }
  Code c = {0};
  Pending pend = {0};
  c.map = xmalloc(sizeof(int) * (size_t)S->f->len);
  domain_code(S, &c, in->args[0], ctx, &pend);
  int at = code_push(&c, in->op == FN_MSWEEP ? IR_STORE : IR_REDUCE, in);
  c.data[at].args[0] = c.map[in->args[0]];
  if (in->op == FN_MSWEEP) {
    c.data[at].index = S->mat_buf[i];
  } else {
    S->red_id[i] = S->prog->nred++;
    c.data[at].index = S->red_id[i];
    c.data[at].aux = in->aux;
  }
  emit_scalar_stage(S, &pend, ctx);
  OptkOp op = ir_op_sweep(S->fn[1]++);
  op.a = S->mat_buf[i];
  int st = add_op(S, op);
  IrStage *stage = ir_program_stage(S->prog, S->init, st);
  stage->compute = S->compute;
  stage->nreads = 0;
  stage->nwrites = in->op == FN_MSWEEP;
  copy_code(S, st, &c);
  if (in->op == FN_MREDUCE) {
    OptkOp comb = ir_op_combine(S->red_id[i], 1, OPTK_SCOPE_TENSOR, (OptkReduceKind)in->aux);
    comb.c = S->mat_buf[i];
    add_op(S, comb);
  }
  free(c.map);
  VEC_FREE(&c);
  VEC_FREE(&pend);
}

typedef struct Jumps {
  int *data;
  int len, cap;
} Jumps;

/* Merged scalars (selects in the context of the `if` at i, before it)
 * that code after it still uses: computed into slots by the stage of the
 * condition, so stages inside later blocks read a slot instead of
 * recomputing the whole chain of merges (Newton-CG's rr, beta and active
 * over twenty iterations).  The same double arithmetic, done earlier. */
static void slot_merged_scalars(Sched *S, int i, int ctx, Pending *pend) {
  const IrFunc *f = S->f;
  unsigned char *used = xcalloc((size_t)i + 1, 1);
  for (int j = i + 1; j < f->len; j++)
    for (int k = 0; k < 7; k++) {
      int a = k < 3 ? f->data[j].args[k] : f->data[j].xargs[k - 3];
      if (a >= 0 && a < i) used[a] = 1;
    }
  for (int v = 0; v < i; v++) {
    const IrFInst *in = &f->data[v];
    if (used[v] && in->op == IR_SELECT && irf_is_scalar(in) && S->ctx[v] == ctx &&
        S->ep[v] <= S->lvl[i] + 1 && !slot_reusable(S, v, ctx))
      slot_for(S, v, ctx, pend);
  }
  free(used);
}

static void emit_event(Sched *S, int i, Jumps *open) {
  const IrFInst *in = &S->f->data[i];
  int ctx = S->ctx[i];
  if (in->op == FN_MATOP) {
    emit_matop(S, i, ctx);
  } else if (in->op == FN_MSWEEP || in->op == FN_MREDUCE) {
    emit_domain_sweep(S, i, ctx);
  } else if (in->op == FN_HESSIAN) {
    add_op(S, plain_op(OPTK_OP_HESSIAN, S->mat_buf[i], -1, -1, -1));
  } else if (in->op == FN_HVP) {
    add_op(S, plain_op(OPTK_OP_HVP, S->host_in[i], S->host_out[i], -1, -1));
  } else if (in->op == FN_GNB) {
    add_op(S, plain_op(OPTK_OP_GNB, S->host_out[i], -1, -1, -1));
  } else if (in->op == FN_HIST_DIR || in->op == FN_HIST_PUSH) {
    bool push = in->op == FN_HIST_PUSH;
    OptkOp op = plain_op(OPTK_OP_HISTORY, in->index, S->host_in[i],
                         push ? S->host_in2[i] : S->mat_buf[i], in->out);
    op.fn = push ? OPTK_HIST_PUSH : OPTK_HIST_DIRECTION;
    add_op(S, op);
  } else if (in->op == FN_LINESEARCH) {
    emit_linesearch(S, i, ctx);
  } else if (in->op == FN_IF) {
    Pending pend = {0};
    int slot = scalar_here(S, in->args[0], ctx, &pend);
    slot_merged_scalars(S, i, ctx, &pend);
    emit_scalar_stage(S, &pend, ctx);
    VEC_FREE(&pend);
    VEC_PUSH(open, add_op(S, ir_op_jump_if_zero(-1, slot)));
  } else if (in->op == FN_ENDIF && open->len) {
    int at = open->data[--open->len];
    ir_program_stage(S->prog, S->init, at)->op.a = S->init ? S->prog->ninit_stages
                                                           : S->prog->nstages;
  }
}

static void emit_phase(Sched *S, int j, Roots *r, Jumps *open) {
  phase_roots(S, j, r);
  int first[4], count[4];
  assign_reds(S, j, first, count);
  if (r->len) emit_sweep(S, j, r);
  for (int g = 0; g < 4; g++)
    if (count[g])
      add_op(S, ir_op_combine(first[g], count[g], (OptkScope)(g / 2), (OptkReduceKind)(g % 2)));
  for (int i = 0; i < S->f->len; i++)
    if (S->lvl[i] == j && S->f->data[i].op != IR_REDUCE) emit_event(S, i, open);
}

/* Scalar states: all set by one SCALAR stage at the end of the plan, so
 * every earlier stage reads their values at step entry. */
static void emit_sstate_sets(Sched *S) {
  Pending none = {0};
  IntVec sets = {0};
  for (int i = 0; i < S->f->len; i++)
    if (S->f->data[i].op == IR_SSTATE_SET) VEC_PUSH(&sets, i);
  emit_scalar_stage_sets(S, &none, 0, &sets);
  VEC_FREE(&sets);
}

/* ---- driver ---------------------------------------------------------------------------- */

static void sched_init(Sched *S, IrProgram *prog, const IrFunc *f, DiagSink *diags, bool init) {
  memset(S, 0, sizeof *S);
  size_t n = (size_t)f->len + 1;
  S->prog = prog;
  S->f = f;
  S->diags = diags;
  S->init = init;
  S->ep = xcalloc(n, sizeof(int));
  S->lvl = xcalloc(n, sizeof(int));
  S->ctx = xcalloc(n, sizeof(int));
  S->ctx_parent = xcalloc(n + 1, sizeof(int));
  S->ls_level = xcalloc(n, sizeof(int));
  S->ls_inst = xcalloc(n, sizeof(int));
  S->host_in = xcalloc(n, sizeof(int));
  S->host_out = xcalloc(n, sizeof(int));
  S->host_in2 = xmalloc(n * sizeof(int));
  S->mat_add = xmalloc(n * sizeof(int));
  memset(S->mat_add, -1, n * sizeof(int));
  S->mat_buf = xmalloc(n * sizeof(int));
  memset(S->host_in2, -1, n * sizeof(int));
  memset(S->mat_buf, -1, n * sizeof(int));
  S->red_id = xcalloc(n, sizeof(int));
  S->slot_of = xmalloc(n * sizeof(int));
  S->slot_ctx = xcalloc(n, sizeof(int));
  S->ok = xcalloc(n, 1);
  memset(S->slot_of, -1, n * sizeof(int));
  S->nbufs0 = prog->nbufs;
  S->compute = OPTK_F32;
  for (int b = 0; b < prog->nbufs; b++)
    if (prog->bufs[b].dtype == OPTK_F64 && !prog->bufs[b].count_hyper) /* not a history */
      S->compute = OPTK_F64;
  for (int k = 0; k < 2; k++) {
    S->fn[k] = 0;
    for (int i = 0; i < prog->nstages; i++) S->fn[k] += prog->stages[i].op.kind == k;
    for (int i = 0; i < prog->ninit_stages; i++) S->fn[k] += prog->init_stages[i].op.kind == k;
  }
}

static void sched_free(Sched *S) {
  free(S->ep), free(S->lvl), free(S->ctx), free(S->ctx_parent), free(S->ls_level), free(S->ls_inst);
  free(S->host_in), free(S->host_out), free(S->red_id), free(S->slot_of);
  free(S->host_in2), free(S->mat_add), free(S->mat_buf);
  free(S->slot_ctx), free(S->ok), free(S->phase_ctx);
  VEC_FREE(&S->stores);
  VEC_FREE(&S->writes);
}

/* The last phase must be outside every block, for the final stores. */
static void fix_phase_count(Sched *S) {
  for (int i = 0; i < S->f->len; i++)
    if (S->f->data[i].op == IR_STORE) S->nphases = max2(S->nphases, S->ep[S->f->data[i].args[0]] + 1);
  if (S->nphases == 0) S->nphases = 1;
  compute_phase_ctx(S);
  if (S->phase_ctx[S->nphases - 1] != 0) {
    S->nphases++;
    free(S->phase_ctx);
    compute_phase_ctx(S);
  }
}

static int schedule(IrProgram *prog, const IrFunc *f, DiagSink *diags, bool init) {
  Sched S;
  sched_init(&S, prog, f, diags, init);
  compute_levels(&S);
  fix_phase_count(&S);
  S.nls = 0;
  collect_stores(&S);
  plan_host_io(&S);
  place_all(&S);
  Roots r = {0};
  Jumps open = {0};
  if (!S.errors)
    for (int j = 0; j < S.nphases; j++) emit_phase(&S, j, &r, &open);
  if (!S.errors) emit_sstate_sets(&S);
  VEC_FREE(&r);
  VEC_FREE(&open);
  int errors = S.errors;
  sched_free(&S);
  return errors;
}

/* Tensor states only: a matrix state of other dims (Adafactor's rows x 1
 * and 1 x cols factors, Shampoo's rows x rows) is not per element; `optc
 * info` lists those by their dims (docs/ir.md, "Costs"). */
static int state_bytes(const IrProgram *prog) {
  int n = 0;
  for (int b = 0; b < prog->nbufs; b++)
    if (prog->bufs[b].role == OPTK_BUF_STATE && param_shaped(&prog->bufs[b]) &&
        !prog->bufs[b].count_hyper) /* a history's m copies: optc info */
      n += buffer_size(prog->bufs[b].dtype);
  return n;
}

/* ---- entry scalars ------------------------------------------------------------------ */

/* Whether SCALAR stage st computes only from what every stage of the
 * step sees alike (constants, hypers, t, sizes, scalar states while no
 * HISTORY op has changed one, slots in `avail`) and only sets slots. */
static bool entry_stage(const IrStage *st, const unsigned char *avail, bool sstates) {
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    switch (in->op) {
    case IR_LOSS: case IR_RED: case IR_SSTATE_SET: case IR_LOAD: case IR_STORE:
    case IR_REDUCE: case IR_RNG: case IR_ROW_INDEX: case IR_COL_INDEX:
      return false;
    case IR_SSTATE:
      if (!sstates) return false;
      break;
    case IR_SLOT:
      if (!avail[in->index]) return false;
      break;
    default: break;
    }
  }
  return true;
}

/* SCALAR stages of the step plan that compute only from entry values
 * (entry_stage: a GEMM's alpha and beta, `every` tests, inv_root's k and
 * eps) move into the plan's first stage when that is a SCALAR stage: the
 * same double arithmetic, done earlier, into slots nothing else writes
 * (each slot is set by one stage), and one function less to compile per
 * stage moved (a SCALAR function costs 0.3-0.5 ms of LLVM's time even
 * optnone).  Jump targets and SCALAR function numbers close up. */
static void hoist_entry_scalars(IrProgram *prog) {
  if (prog->nstages == 0 || prog->stages[0].op.kind != OPTK_OP_SCALAR) return;
  unsigned char *avail = xcalloc((size_t)prog->nslot + 1, 1);
  int *slotval = xcalloc((size_t)prog->nslot + 1, sizeof(int)); /* the value set, in stage 0 */
  int *setters = xcalloc((size_t)prog->nslot + 1, sizeof(int));
  for (int i = 0; i < prog->nstages; i++) {
    const IrStage *st = &prog->stages[i];
    for (int k = 0; st->op.kind == OPTK_OP_SCALAR && k < st->ninsts; k++)
      if (st->insts[k].op == IR_SLOT_SET) setters[st->insts[k].index]++;
  }
  IrStage *first = &prog->stages[0];
  for (int k = 0; k < first->ninsts; k++)
    if (first->insts[k].op == IR_SLOT_SET) {
      avail[first->insts[k].index] = 1;
      slotval[first->insts[k].index] = first->insts[k].args[0];
    }
  bool sstates = true;
  int out = 1, removed = 0;
  int *to = xcalloc((size_t)prog->nstages + 1, sizeof(int)); /* old index -> new */
  for (int i = 1; i < prog->nstages; i++) {
    IrStage st = prog->stages[i];
    to[i] = out;
    bool unique = true;
    for (int k = 0; st.op.kind == OPTK_OP_SCALAR && k < st.ninsts; k++)
      if (st.insts[k].op == IR_SLOT_SET) unique = unique && setters[st.insts[k].index] == 1;
    if (st.op.kind == OPTK_OP_HISTORY) sstates = false;
    if (st.op.kind == OPTK_OP_SCALAR && unique && entry_stage(&st, avail, sstates)) {
      int *map = xcalloc((size_t)st.ninsts + 1, sizeof(int));
      for (int k = 0; k < st.ninsts; k++) {
        IrInst in = st.insts[k];
        if (in.op == IR_SLOT) { /* the value stage 0 sets it to */
          map[k] = slotval[in.index];
          continue;
        }
        for (int a = 0; a < ir_op_nargs(in.op); a++) in.args[a] = map[in.args[a]];
        map[k] = ir_stage_add_inst(prog, &prog->stages[0], in);
        if (in.op == IR_SLOT_SET) avail[in.index] = 1, slotval[in.index] = in.args[0];
      }
      free(map);
      removed++;
      continue;
    }
    if (st.op.kind == OPTK_OP_SCALAR) st.op.fn = (uint16_t)(st.op.fn - removed);
    prog->stages[out++] = st;
  }
  to[prog->nstages] = out;
  for (int j = 0; j < out; j++) { /* a jump to a stage that moved lands on the next one */
    OptkOp *op = &prog->stages[j].op;
    if (op->kind == OPTK_OP_JUMP || op->kind == OPTK_OP_JUMP_IF_ZERO) op->a = to[op->a];
  }
  free(to);
  prog->nstages = out;
  free(avail);
  free(slotval);
  free(setters);
}

int sched_build(IrProgram *prog, const IrFunc *body, const IrFunc *init, DiagSink *diags) {
  prog->state_bytes_per_element = state_bytes(prog);
  int errors = schedule(prog, body, diags, false);
  if (!errors) hoist_entry_scalars(prog); /* before the init plan numbers its functions */
  if (!errors) errors += schedule(prog, init, diags, true);
  if (!errors) sched_reuse_scratch(prog);
  return errors;
}

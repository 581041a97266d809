/* codegen_split.c: spreads a program's functions over modules that are
 * compiled in parallel (jit.c; codegen.h "Parallel code generation").
 *
 * LLVM's code generator spends a fixed cost on every function and loop
 * it optimises (docs/performance.md, "JIT compile time"), and the
 * functions of a program are independent: SCALAR and SWEEP functions call
 * nothing but their own internal helpers, and only the descriptor refers
 * to them.  So a program whose step has several optimised sweeps is split
 * into parts, each built, optimised and compiled to an object on a thread
 * of its own, and the objects are linked in the JIT.  Each function's
 * machine code is the same whichever part compiles it (the IR pipeline
 * runs function passes only).
 *
 * The plan balances an estimate of each function's compile time (longest
 * processing time first: the costliest function goes to the least loaded
 * part).  The weights were fitted to `make bench`'s JIT clock: an
 * optimised sweep costs a fixed amount plus its instructions, far more
 * for the f32 polynomials of exp/log/pow/tanh; a function compiled
 * optnone (scalar stages, init sweeps, everything at -O0) costs a tenth
 * as much.  Part 0 also holds the descriptor and is never empty.
 */
#include <string.h>

#include "codegen.h"

/* ---- twins ------------------------------------------------------------------- */

/* Values are interned by structure in one table shared by every sweep, so
 * that equal ids mean equal computations: (op, index, aux, imm, argument
 * ids), with the arguments of commutative operations in order of id. */
typedef struct TwinKey {
  int op, index, aux;
  double imm;
  int a[3];
} TwinKey;

typedef struct TwinTab {
  TwinKey *keys;
  int n, cap;
} TwinTab;

static bool twin_key_eq(const TwinKey *x, const TwinKey *y) {
  return x->op == y->op && x->index == y->index && x->aux == y->aux &&
         memcmp(&x->imm, &y->imm, sizeof x->imm) == 0 && x->a[0] == y->a[0] &&
         x->a[1] == y->a[1] && x->a[2] == y->a[2];
}

static int twin_intern(TwinTab *t, const TwinKey *k) {
  for (int i = 0; i < t->n; i++)
    if (twin_key_eq(&t->keys[i], k)) return i;
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->keys = xrealloc(t->keys, (size_t)t->cap * sizeof *t->keys);
  }
  t->keys[t->n] = *k;
  return t->n++;
}

static void twin_order(int *x, int *y) {
  if (*x > *y) {
    int tmp = *x;
    *x = *y, *y = tmp;
  }
}

/* A sweep's signature: its compute type and domain, then each effect
 * (STORE, REDUCE) in order as the interned key of the effect itself. */
static int *twin_signature(TwinTab *t, const IrStage *st, int *len) {
  int *ids = xcalloc((size_t)st->ninsts + 1, sizeof *ids);
  int *sig = xcalloc((size_t)st->ninsts + 3, sizeof *sig);
  int n = 0;
  sig[n++] = (int)st->compute;
  sig[n++] = st->op.a;
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    TwinKey key = {.op = in->op, .index = in->index, .aux = in->aux, .imm = in->imm,
                   .a = {-1, -1, -1}};
    if (in->op != IR_CONST) key.imm = 0; /* only constants carry a value */
    for (int j = 0; j < ir_op_nargs(in->op); j++) key.a[j] = ids[in->args[j]];
    switch (in->op) {
    case IR_ADD: case IR_MUL: case IR_EQ: case IR_NE: case IR_AND: case IR_OR: case IR_FMA:
      twin_order(&key.a[0], &key.a[1]); /* FMA: a * b + c */
      break;
    default: break;
    }
    ids[k] = twin_intern(t, &key);
    if (in->op == IR_STORE || in->op == IR_REDUCE) sig[n++] = ids[k];
  }
  free(ids);
  *len = n;
  return sig;
}

int *cg_sweep_twins(const IrProgram *prog, int nsweep) {
  int *twin = xcalloc((size_t)nsweep + 1, sizeof *twin);
  int **sigs = xcalloc((size_t)nsweep + 1, sizeof *sigs);
  int *lens = xcalloc((size_t)nsweep + 1, sizeof *lens);
  for (int f = 0; f < nsweep; f++) twin[f] = f;
  TwinTab t = {0};
  for (int i = 0; i < prog->nstages; i++) {
    const IrStage *st = &prog->stages[i];
    int f = st->op.fn;
    if (st->op.kind != OPTK_OP_SWEEP || f < 0 || f >= nsweep) continue;
    sigs[f] = twin_signature(&t, st, &lens[f]);
    for (int g = 0; g < f && twin[f] == f; g++)
      if (sigs[g] && twin[g] == g && lens[g] == lens[f] &&
          memcmp(sigs[g], sigs[f], (size_t)lens[f] * sizeof *sigs[f]) == 0)
        twin[f] = g;
  }
  for (int f = 0; f < nsweep; f++) free(sigs[f]);
  free(sigs);
  free(lens);
  free(t.keys);
  return twin;
}

/* ---- parts ------------------------------------------------------------------- */

/* Relative compile cost of one instruction of an optimised sweep. */
static int split_inst_cost(const IrInst *in, OptkDType compute) {
  bool f32 = compute == OPTK_F32;
  switch (in->op) {
  case IR_POW: return f32 ? 120 : 30;
  case IR_EXP: case IR_LOG: case IR_TANH: case IR_LOG1P: case IR_SIGMOID:
    return f32 ? 60 : 20;
  case IR_RNG: case IR_REDUCE: return 10;
  default: return 2;
  }
}

static int split_stage_cost(const IrStage *st, bool optimised) {
  if (!optimised) return 4 + st->ninsts / 2;
  int c = 40 + st->ninsts / 2; /* the loops, plus the optnone scalar tail */
  for (int k = 0; k < st->ninsts; k++) c += split_inst_cost(&st->insts[k], st->compute);
  return c;
}

typedef struct SplitFn {
  bool sweep;
  int fn, cost;
} SplitFn;

static int split_fn_cmp(const void *a, const void *b) {
  const SplitFn *x = a, *y = b;
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  if (x->sweep != y->sweep) return x->sweep ? -1 : 1;
  return x->fn - y->fn; /* a total order: the plan is deterministic */
}

static void split_count(const IrStage *stages, int n, CgSplit *s) {
  for (int i = 0; i < n; i++) {
    const IrStage *st = &stages[i];
    int *count = st->op.kind == OPTK_OP_SWEEP ? &s->nsweep
                 : st->op.kind == OPTK_OP_SCALAR ? &s->nscalar : NULL;
    if (count && st->op.fn + 1 > *count) *count = st->op.fn + 1;
  }
}

/* The functions a module must emit, with their costs (twins emit none). */
static int split_collect(const IrStage *stages, int n, bool init, int opt_level, SplitFn *out,
                         int nout, const CgSplit *s) {
  for (int i = 0; i < n; i++) {
    const IrStage *st = &stages[i];
    bool sweep = st->op.kind == OPTK_OP_SWEEP;
    if (!sweep && st->op.kind != OPTK_OP_SCALAR) continue;
    int fn = st->op.fn;
    if (fn < 0 || (sweep && s->sweep_twin[fn] != fn)) continue;
    out[nout++] = (SplitFn){sweep, fn, split_stage_cost(st, sweep && !init && opt_level > 0)};
  }
  return nout;
}

void cg_split_plan(const IrProgram *prog, int max_parts, int opt_level, CgSplit *s) {
  *s = (CgSplit){.nparts = 1};
  split_count(prog->stages, prog->nstages, s);
  split_count(prog->init_stages, prog->ninit_stages, s);
  s->sweep_twin = cg_sweep_twins(prog, s->nsweep);
  int nfns = prog->nstages + prog->ninit_stages;
  SplitFn *fns = xcalloc((size_t)nfns + 1, sizeof *fns);
  nfns = split_collect(prog->stages, prog->nstages, false, opt_level, fns, 0, s);
  nfns = split_collect(prog->init_stages, prog->ninit_stages, true, opt_level, fns, nfns, s);
  s->scalar_part = xcalloc((size_t)s->nscalar + 1, 1);
  s->sweep_part = xcalloc((size_t)s->nsweep + 1, 1);
  int total = 0;
  for (int i = 0; i < nfns; i++) total += fns[i].cost;
  /* A part must have work worth a thread: about one small optimised sweep. */
  int parts = max_parts < 1 ? 1 : max_parts > CG_MAX_PARTS ? CG_MAX_PARTS : max_parts;
  while (parts > 1 && total / parts < CG_SPLIT_MIN_COST) parts--;
  if (parts > 1) {
    qsort(fns, (size_t)nfns, sizeof *fns, split_fn_cmp);
    int load[CG_MAX_PARTS] = {5}; /* part 0: the descriptor */
    for (int i = 0; i < nfns; i++) {
      int best = 0;
      for (int p = 1; p < parts; p++)
        if (load[p] < load[best]) best = p;
      load[best] += fns[i].cost;
      (fns[i].sweep ? s->sweep_part : s->scalar_part)[fns[i].fn] = (unsigned char)best;
    }
    /* Renumber so that the parts in use are 0..n-1 (part 0 stays 0). */
    int map[CG_MAX_PARTS], used = 1;
    map[0] = 0;
    for (int p = 1; p < parts; p++) map[p] = load[p] > 0 ? used++ : -1;
    for (int i = 0; i < s->nscalar; i++) s->scalar_part[i] = (unsigned char)map[s->scalar_part[i]];
    for (int i = 0; i < s->nsweep; i++) s->sweep_part[i] = (unsigned char)map[s->sweep_part[i]];
    s->nparts = used;
  }
  free(fns);
}

void cg_split_free(CgSplit *s) {
  free(s->scalar_part);
  free(s->sweep_part);
  free(s->sweep_twin);
  *s = (CgSplit){.nparts = 1};
}

bool cg_split_defines(const CgSplit *s, int part, bool sweep, int fn) {
  if (sweep && s && fn < s->nsweep && s->sweep_twin[fn] != fn) return false;
  if (!s || s->nparts <= 1) return true;
  if (sweep) return fn < s->nsweep && s->sweep_part[fn] == part;
  return fn < s->nscalar && s->scalar_part[fn] == part;
}

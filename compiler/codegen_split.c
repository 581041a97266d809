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
 * part; weights at split_stage_cost): an optimised sweep costs a fixed
 * amount (about 1.5 ms here) plus its instructions, much more with lane
 * rows and columns (row and column broadcasts, row_index), f64
 * exp/log/pow/tanh (a libm call per lane) more, their f32 forms little (a call of the
 * engine's math library, codegen_math.h); a function compiled optnone
 * (scalar stages, init sweeps, small domains, everything at -O0) costs a
 * quarter as much.  Part 0 also holds the descriptor and is never empty.
 */
#include <string.h>

#include "codegen_internal.h"

/* ---- twins ------------------------------------------------------------------- */

/* Values are interned by structure in one table shared by every sweep, so
 * that equal ids mean equal computations: (op, index, aux, imm, place,
 * argument ids), with the arguments of commutative operations in order of
 * id.  Two tables: one keyed by the buffers, slots and reductions
 * themselves (twins), one by their order of first use in the sweep and,
 * for buffers, dtype and place against the domain (renamed twins). */
typedef struct TwinKey {
  int op, index, aux, place;
  double imm;
  int a[3];
} TwinKey;

typedef struct TwinTab {
  TwinKey *keys;
  int n, cap;
} TwinTab;

static bool twin_key_eq(const TwinKey *x, const TwinKey *y) {
  return x->op == y->op && x->index == y->index && x->aux == y->aux && x->place == y->place &&
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

/* A sweep's signature (its compute type, then each effect, STORE or
 * REDUCE, in order as the interned key of the effect), and for the
 * renamed form the buffers, slots and reductions in order of first use. */
typedef struct TwinSig {
  int *sig, len;
  int *bufs, nbufs; /* renamed form only */
  int *slots, nslots;
  int first_red;    /* the first reduction id, or -1 */
} TwinSig;

/* The position of x in list[0..*n), appended when new. */
static int twin_local(int *list, int *n, int x) {
  for (int i = 0; i < *n; i++)
    if (list[i] == x) return i;
  list[*n] = x;
  return (*n)++;
}

static void twin_signature(TwinTab *t, const IrProgram *prog, const IrStage *st, bool renamed,
                           TwinSig *out) {
  int *ids = xcalloc((size_t)st->ninsts + 1, sizeof *ids);
  *out = (TwinSig){.sig = xcalloc((size_t)st->ninsts + 3, sizeof *out->sig), .first_red = -1};
  if (renamed) {
    out->bufs = xcalloc((size_t)st->ninsts + 1, sizeof *out->bufs);
    out->slots = xcalloc((size_t)st->ninsts + 1, sizeof *out->slots);
  }
  out->sig[out->len++] = (int)st->compute;
  if (!renamed) out->sig[out->len++] = st->op.a; /* the domain */
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
    case IR_LOAD: case IR_STORE:
      if (renamed) {
        key.index = twin_local(out->bufs, &out->nbufs, in->index);
        key.place = 1 + (int)prog->bufs[in->index].dtype * 8 + (int)cg_buffer_pos(prog, st->op.a, in->index);
      }
      break;
    case IR_SLOT:
      if (renamed) key.index = twin_local(out->slots, &out->nslots, in->index);
      break;
    case IR_REDUCE:
      if (out->first_red < 0) out->first_red = in->index;
      if (renamed) key.index = in->index - out->first_red;
      break;
    default: break;
    }
    ids[k] = twin_intern(t, &key);
    if (in->op == IR_STORE || in->op == IR_REDUCE) out->sig[out->len++] = ids[k];
  }
  free(ids);
}

static void twin_sig_free(TwinSig *s) {
  free(s->sig), free(s->bufs), free(s->slots);
}

static bool twin_sig_eq(const TwinSig *x, const TwinSig *y) {
  return x->sig && y->sig && x->len == y->len &&
         memcmp(x->sig, y->sig, (size_t)x->len * sizeof *x->sig) == 0;
}

/* map[i] = i, then map[from[k]] = to[k]; NULL when that is the identity. */
static int *twin_map(int n, const int *from, const int *to, int count) {
  bool same = true;
  for (int k = 0; k < count; k++) same = same && from[k] == to[k];
  if (same) return NULL;
  int *map = xcalloc((size_t)n + 1, sizeof *map);
  for (int i = 0; i < n; i++) map[i] = i;
  for (int k = 0; k < count; k++) map[from[k]] = to[k];
  return map;
}

void cg_sweep_twins(const IrProgram *prog, int nsweep, CgTwins *tw) {
  size_t n = (size_t)nsweep + 1;
  *tw = (CgTwins){.nsweep = nsweep, .of = xcalloc(n, sizeof *tw->of),
                  .buf_map = xcalloc(n, sizeof *tw->buf_map),
                  .slot_map = xcalloc(n, sizeof *tw->slot_map),
                  .red_shift = xcalloc(n, sizeof *tw->red_shift)};
  TwinSig *exact = xcalloc(n, sizeof *exact), *ren = xcalloc(n, sizeof *ren);
  for (int f = 0; f < nsweep; f++) tw->of[f] = f;
  TwinTab te = {0}, tr = {0};
  for (int i = 0; i < prog->nstages; i++) {
    const IrStage *st = &prog->stages[i];
    int f = st->op.fn;
    if (st->op.kind != OPTK_OP_SWEEP || f < 0 || f >= nsweep || exact[f].sig) continue;
    twin_signature(&te, prog, st, false, &exact[f]);
    twin_signature(&tr, prog, st, true, &ren[f]);
    int g = 0; /* a twin on the same buffers costs nothing: look for one first */
    while (g < f && !(tw->of[g] == g && twin_sig_eq(&exact[g], &exact[f]))) g++;
    if (g < f) {
      tw->of[f] = g;
      continue;
    }
    for (g = 0; g < f && !(tw->of[g] == g && twin_sig_eq(&ren[g], &ren[f])); g++) {}
    if (g == f) continue;
    tw->of[f] = g;
    tw->buf_map[f] = twin_map(prog->nbufs, ren[g].bufs, ren[f].bufs, ren[f].nbufs);
    tw->slot_map[f] = twin_map(prog->nslot, ren[g].slots, ren[f].slots, ren[f].nslots);
    tw->red_shift[f] = ren[f].first_red < 0 ? 0 : ren[f].first_red - ren[g].first_red;
  }
  for (int f = 0; f < nsweep; f++) twin_sig_free(&exact[f]), twin_sig_free(&ren[f]);
  free(exact);
  free(ren);
  free(te.keys);
  free(tr.keys);
}

bool cg_twin_renamed(const CgTwins *t, int f) {
  return f >= 0 && f < t->nsweep && t->of[f] != f &&
         (t->buf_map[f] || t->slot_map[f] || t->red_shift[f]);
}

void cg_twins_free(CgTwins *t) {
  for (int f = 0; f < t->nsweep; f++) free(t->buf_map[f]), free(t->slot_map[f]);
  free(t->of);
  free(t->buf_map);
  free(t->slot_map);
  free(t->red_shift);
  *t = (CgTwins){0};
}

bool cg_sweep_small(const IrProgram *prog, const IrStage *st) {
  int dom = st->op.a;
  if (st->op.kind != OPTK_OP_SWEEP || dom < 2 || dom >= prog->nbufs) return false;
  OptkDim d0 = prog->bufs[dom].dim0, d1 = prog->bufs[dom].dim1;
  bool side = (d0 == OPTK_DIM_ROWS || d0 == OPTK_DIM_COLS) && d1 == OPTK_DIM_ONE;
  return side || (d0 == OPTK_DIM_ONE && (d1 == OPTK_DIM_ROWS || d1 == OPTK_DIM_COLS));
}

/* ---- parts ------------------------------------------------------------------- */

/* Relative compile cost of one instruction of an optimised sweep. */
static int split_inst_cost(const IrInst *in, OptkDType compute) {
  bool f32 = compute == OPTK_F32;
  switch (in->op) {
  case IR_POW: return f32 ? 5 : 30; /* f32: a call of the math library */
  case IR_EXP: case IR_LOG: case IR_TANH: case IR_LOG1P: case IR_SIGMOID:
    return f32 ? 5 : 20;
  case IR_RNG: case IR_REDUCE: return 10;
  default: return 2;
  }
}

/* A unit is about 0.04 ms of LLVM's time here (2026-11-23, fitted by
 * compiling one function per module, warm): an optimised sweep's loops
 * and tail 40, the lanes' rows and columns (ROW_INDEX, COL_INDEX, a
 * row or column broadcast: sw_lanes, wide and narrow paths) 40 more and
 * 8 per broadcast load (fitted as 30 and 5 for one path; the narrow
 * path added about 0.5 ms per such sweep, seventh session), an optnone
 * function 10 and a quarter unit per instruction. */
static int split_stage_cost(const IrProgram *prog, const IrStage *st, bool optimised) {
  if (!optimised) return 10 + st->ninsts / 4;
  int c = 40 + st->ninsts / 2;
  bool rowcol = false;
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    c += split_inst_cost(in, st->compute);
    CgPos pos = in->op == IR_LOAD ? cg_buffer_pos(prog, st->op.a, in->index) : POS_FULL;
    if (pos == POS_ROW || pos == POS_COL) c += 8;
    rowcol = rowcol || pos == POS_ROW || pos == POS_COL || in->op == IR_ROW_INDEX ||
             in->op == IR_COL_INDEX;
  }
  return c + (rowcol ? 40 : 0);
}

typedef struct SplitFn {
  bool sweep, optimised;
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

/* The functions the plan places, with their costs: not twins (on the
 * same buffers they emit nothing, renamed ones a small optnone function
 * that goes with the code it calls: cg_split_plan). */
static int split_collect(const IrProgram *prog, const IrStage *stages, int n, bool init,
                         int opt_level, SplitFn *out, int nout, const CgSplit *s) {
  for (int i = 0; i < n; i++) {
    const IrStage *st = &stages[i];
    bool sweep = st->op.kind == OPTK_OP_SWEEP;
    if (!sweep && st->op.kind != OPTK_OP_SCALAR) continue;
    int fn = st->op.fn;
    if (fn < 0 || (sweep && !init && s->twins.of[fn] != fn)) continue;
    bool optimised = sweep && !init && opt_level > 0 && !cg_sweep_small(prog, st);
    out[nout++] = (SplitFn){sweep, optimised, fn, split_stage_cost(prog, st, optimised)};
  }
  return nout;
}

void cg_split_plan(const IrProgram *prog, int max_parts, int opt_level, CgSplit *s) {
  *s = (CgSplit){.nparts = 1};
  bool layered = opt_level > 0;
  split_count(prog->stages, prog->nstages, s);
  split_count(prog->init_stages, prog->ninit_stages, s);
  cg_sweep_twins(prog, s->nsweep, &s->twins);
  int nfns = prog->nstages + prog->ninit_stages;
  SplitFn *fns = xcalloc((size_t)nfns + 1, sizeof *fns);
  nfns = split_collect(prog, prog->stages, prog->nstages, false, opt_level, fns, 0, s);
  nfns = split_collect(prog, prog->init_stages, prog->ninit_stages, true, opt_level, fns, nfns, s);
  s->scalar_part = xcalloc((size_t)s->nscalar + 1, 1);
  s->sweep_part = xcalloc((size_t)s->nsweep + 1, 1);
  int total = 0;
  for (int i = 0; i < nfns; i++) total += fns[i].cost;
  /* A part must have work worth a thread: about one small optimised sweep. */
  int parts = max_parts < 1 ? 1 : max_parts > CG_MAX_PARTS ? CG_MAX_PARTS : max_parts;
  while (parts > 1 && total / parts < CG_SPLIT_MIN_COST) parts--;
  if (parts > 1) {
    /* Longest first to the least loaded part; layered, the optnone
     * functions then go together to the least loaded part (one plain
     * module: a module's fixed cost, paid once). */
    qsort(fns, (size_t)nfns, sizeof *fns, split_fn_cmp);
    int load[CG_MAX_PARTS] = {5}, plain_cost = 0; /* part 0: the descriptor */
    for (int i = 0; i < nfns; i++) {
      if (layered && !fns[i].optimised) {
        plain_cost += fns[i].cost;
        continue;
      }
      int best = 0;
      for (int p = 1; p < parts; p++)
        if (load[p] < load[best]) best = p;
      load[best] += fns[i].cost;
      (fns[i].sweep ? s->sweep_part : s->scalar_part)[fns[i].fn] = (unsigned char)best;
    }
    for (int p = 1; p < parts; p++)
      if (load[p] < load[s->plain_part]) s->plain_part = p;
    load[s->plain_part] += plain_cost;
    for (int i = 0; i < nfns; i++)
      if (layered && !fns[i].optimised)
        (fns[i].sweep ? s->sweep_part : s->scalar_part)[fns[i].fn] = (unsigned char)s->plain_part;
    /* Renumber so that the parts in use are 0..n-1 (part 0 stays 0). */
    int map[CG_MAX_PARTS], used = 1;
    map[0] = 0;
    for (int p = 1; p < parts; p++) map[p] = load[p] > 0 ? used++ : -1;
    for (int i = 0; i < s->nscalar; i++) s->scalar_part[i] = (unsigned char)map[s->scalar_part[i]];
    for (int i = 0; i < s->nsweep; i++) s->sweep_part[i] = (unsigned char)map[s->sweep_part[i]];
    s->plain_part = map[s->plain_part];
    s->nparts = used;
  }
  /* A renamed twin's function calls its original's: same part, so that
   * the call never crosses objects (layered, it is in the plain module,
   * and calls there cross objects anyway). */
  for (int f = 0; f < s->nsweep; f++)
    if (cg_twin_renamed(&s->twins, f))
      s->sweep_part[f] = (unsigned char)(layered ? s->plain_part : s->sweep_part[s->twins.of[f]]);
  free(fns);
}

void cg_split_free(CgSplit *s) {
  free(s->scalar_part);
  free(s->sweep_part);
  cg_twins_free(&s->twins);
  *s = (CgSplit){.nparts = 1};
}

bool cg_split_defines(const CgSplit *s, int part, bool sweep, int fn) {
  if (sweep && s && fn < s->nsweep && s->twins.of[fn] != fn && !cg_twin_renamed(&s->twins, fn))
    return false;
  if (!s || s->nparts <= 1) return true;
  if (sweep) return fn < s->nsweep && s->sweep_part[fn] == part;
  return fn < s->nscalar && s->scalar_part[fn] == part;
}

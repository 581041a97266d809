/* ir_verify.c: the verifier of the scheduled IrProgram (ir.h).
 *
 * Checks, in this order: the tables (buffers p and g first, roles, dtypes,
 * dims, hyper ranges, scalar states), then each plan (the step plan, then
 * the init plan, each on its own): plan operands, jump targets (forward
 * only, so no plan can loop), COMBINE ranges and domains, sweep domains
 * (loads by the position rule of optk.h, stores only into buffers shaped
 * like the domain), MATOP shapes, and every
 * instruction: opcode, SSA order, argument count, the stage kinds it may
 * appear in, and index ranges.  Slots and combined reductions must be
 * written by an earlier op of the same plan before anything reads them.
 * SCALAR and SWEEP function numbers (op.fn) must be 0..k-1 over both plans
 * together.  The first problem found is reported, as
 *   "op 3 (sweep 1): %4 = store: cannot store into g (read-only)".
 */
#include <stdio.h>
#include <string.h>

#include "ir.h"

/* Symbolic matrix shape of a buffer: tensors shaped like p are rows x cols. */
typedef struct Shape { int r, c; } Shape;

typedef struct Verify {
  const IrProgram *prog;
  Str msg;
  bool failed;
  bool init;     /* checking init_stages */
  int opi;       /* op being checked, -1 for the tables */
  int inst;      /* instruction being checked, -1 for the op itself */
  uint8_t *slot_set;   /* [nslot] written by an earlier SCALAR stage */
  int8_t *red_kind;    /* [nred] OptkReduceKind reduced by a sweep, or -1 */
  uint8_t *red_done;   /* [nred] combined */
  uint8_t *red_here;   /* [nred] reduced in the current sweep */
  int *red_dom;        /* [nred] shape_key of the reducing sweep's domain */
  Shape dom;           /* domain of the sweep being checked */
  int dom_buf;         /* its buffer, -1 for the parameter */
  uint8_t *fn_seen[2]; /* [count] scalar / sweep function numbers used */
  int fn_count[2];
} Verify;

static const char *const KIND_NAMES[] = {"scalar", "sweep", "combine", "jump",
                                         "jump_if_zero", "hvp", "hessian",
                                         "linesearch", "matop", "gnb", "history"};

static const IrStage *cur_stage(const Verify *v) {
  return v->init ? &v->prog->init_stages[v->opi] : &v->prog->stages[v->opi];
}

static void where(Verify *v) {
  if (v->opi < 0) return;
  const IrStage *st = cur_stage(v);
  str_printf(&v->msg, "%sop %d (%s", v->init ? "init " : "", v->opi,
             st->op.kind <= OPTK_OP_HISTORY ? KIND_NAMES[st->op.kind] : "?");
  if (st->op.kind <= OPTK_OP_SWEEP) str_printf(&v->msg, " %d", st->op.fn);
  str_puts(&v->msg, "): ");
  if (v->inst >= 0 && st->insts)
    str_printf(&v->msg, "%%%d = %s: ", v->inst, ir_op_name(st->insts[v->inst].op));
}

static bool fail(Verify *v, const char *fmt, ...) OPTC_PRINTF(2, 3);
static bool fail(Verify *v, const char *fmt, ...) {
  if (v->failed) return false;
  v->failed = true;
  where(v);
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&v->msg, fmt, ap);
  va_end(ap);
  return false;
}

static bool in_range(int x, int n) { return x >= 0 && x < n; }

/* ---- tables ------------------------------------------------------------- */

static bool dim_ok(int d) { return d >= OPTK_DIM_ONE && d <= OPTK_DIM_N; }
static bool dtype_ok(int t) { return t >= OPTK_F32 && t <= OPTK_BF16; }

static bool check_buffer(Verify *v, int i) {
  const IrBuffer *b = &v->prog->bufs[i];
  if (!b->name) return fail(v, "buffer %d has no name", i);
  OptkBufRole want = i == 0 ? OPTK_BUF_PARAM : OPTK_BUF_GRAD;
  if (i < 2 && b->role != want)
    return fail(v, "buffer %d (%s) must be %s", i, b->name, i == 0 ? "p" : "g");
  if (i >= 2 && b->role != OPTK_BUF_STATE && b->role != OPTK_BUF_SCRATCH)
    return fail(v, "buffer %d (%s): role must be state or scratch", i, b->name);
  if (!dtype_ok(b->dtype)) return fail(v, "buffer %s: bad dtype %d", b->name, b->dtype);
  if (!dim_ok(b->dim0) || !dim_ok(b->dim1))
    return fail(v, "buffer %s: bad dims %d, %d", b->name, b->dim0, b->dim1);
  return true;
}

static bool check_hyper(Verify *v, const IrHyper *h) {
  if (!h->name) return fail(v, "a hyper has no name");
  bool lo = h->flags & OPTK_HYPER_HAS_LO, hi = h->flags & OPTK_HYPER_HAS_HI;
  if (lo && hi && !(h->lo <= h->hi))
    return fail(v, "hyper %s: empty range", h->name);
  bool below = lo && ((h->flags & OPTK_HYPER_LO_OPEN) ? !(h->def > h->lo)
                                                      : !(h->def >= h->lo));
  bool above = hi && ((h->flags & OPTK_HYPER_HI_OPEN) ? !(h->def < h->hi)
                                                      : !(h->def <= h->hi));
  if (below || above) return fail(v, "hyper %s: default outside its range", h->name);
  return true;
}

static bool check_tables(Verify *v) {
  const IrProgram *p = v->prog;
  if (p->nbufs < 2 || !p->bufs) return fail(v, "the program must have buffers p and g");
  if (p->nhypers < 0 || p->nsstates < 0 || p->nred < 0 || p->nslot < 0 ||
      p->nstages < 0 || p->ninit_stages < 0)
    return fail(v, "negative table size");
  if ((p->nhypers && !p->hypers) || (p->nsstates && !p->sstates) ||
      (p->nstages && !p->stages) || (p->ninit_stages && !p->init_stages))
    return fail(v, "missing table");
  for (int i = 0; i < p->nbufs; i++)
    if (!check_buffer(v, i)) return false;
  for (int i = 0; i < p->nhypers; i++)
    if (!check_hyper(v, &p->hypers[i])) return false;
  for (int i = 0; i < p->nsstates; i++) {
    if (!p->sstates[i].name) return fail(v, "scalar state %d has no name", i);
    if (!dtype_ok(p->sstates[i].dtype))
      return fail(v, "scalar state %s: bad dtype", p->sstates[i].name);
  }
  return true;
}

/* ---- instructions ------------------------------------------------------- */

typedef enum Where { ANY, SCALAR_ONLY, SWEEP_ONLY } Where;

static Where op_where(IrOp op) {
  switch (op) {
  case IR_HYPER: case IR_STEP: case IR_LOSS: case IR_RED: case IR_SSTATE:
  case IR_SLOT_SET: case IR_SSTATE_SET:
    return SCALAR_ONLY;
  case IR_LOAD: case IR_RNG: case IR_ROW_INDEX: case IR_COL_INDEX: case IR_STORE:
  case IR_REDUCE:
    return SWEEP_ONLY;
  default:
    return ANY;
  }
}

/* Element-shaped: one value per element of p. */
static bool elem_shaped(const IrBuffer *b) {
  return (b->dim0 == OPTK_DIM_N && b->dim1 == OPTK_DIM_ONE) ||
         (b->dim0 == OPTK_DIM_ONE && b->dim1 == OPTK_DIM_N) ||
         (b->dim0 == OPTK_DIM_ROWS && b->dim1 == OPTK_DIM_COLS);
}

static Shape shape_of(const IrBuffer *b) {
  if (elem_shaped(b))
    return (Shape){OPTK_DIM_ROWS, OPTK_DIM_COLS};
  return (Shape){b->dim0, b->dim1};
}

static bool same(Shape x, Shape y) { return x.r == y.r && x.c == y.c; }

/* The shape of sweep domain `a`: the parameter (rows x cols) for -1, p, g
 * and buffers shaped like p, else the buffer's dims (optk.h). */
static Shape domain_shape(const IrProgram *p, int a) {
  if (a < 2 || a >= p->nbufs) return (Shape){OPTK_DIM_ROWS, OPTK_DIM_COLS};
  return shape_of(&p->bufs[a]);
}

static int shape_key(Shape s) { return s.r * 4 + s.c; }

/* Loadable in a sweep over `dom`: the domain's shape, or broadcast: a
 * column vector (dom.r, ONE), a row vector (ONE, dom.c) or one value. */
static bool loadable(const IrBuffer *b, Shape dom) {
  if (same(shape_of(b), dom)) return true;
  if (b->dim0 == OPTK_DIM_ONE && b->dim1 == OPTK_DIM_ONE) return true;
  return (b->dim1 == OPTK_DIM_ONE && (int)b->dim0 == dom.r) ||
         (b->dim0 == OPTK_DIM_ONE && (int)b->dim1 == dom.c);
}

static bool check_slot_read(Verify *v, int slot) {
  if (!in_range(slot, v->prog->nslot))
    return fail(v, "slot%d out of range (%d slots)", slot, v->prog->nslot);
  if (!v->slot_set[slot])
    return fail(v, "slot%d is read before any scalar stage writes it", slot);
  return true;
}

static bool check_buffer_index(Verify *v, const IrInst *in) {
  const IrProgram *p = v->prog;
  if (!in_range(in->index, p->nbufs))
    return fail(v, "buffer %d out of range (%d buffers)", in->index, p->nbufs);
  const IrBuffer *b = &p->bufs[in->index];
  if (b->count_hyper) return fail(v, "buffer %s is a history: only history ops touch it", b->name);
  if (in->op == IR_LOAD && !loadable(b, v->dom))
    return fail(v, "buffer %s cannot be loaded elementwise", b->name);
  if (in->op == IR_STORE && b->role == OPTK_BUF_GRAD)
    return fail(v, "cannot store into g (read-only)");
  if (in->op == IR_STORE && !same(shape_of(b), v->dom))
    return fail(v, "cannot store into %s: not shaped like %s", b->name,
                v->dom_buf < 0 ? "p" : p->bufs[v->dom_buf].name);
  return true;
}

static bool check_reduce(Verify *v, const IrInst *in) {
  if (!in_range(in->index, v->prog->nred))
    return fail(v, "red%d out of range (%d reductions)", in->index, v->prog->nred);
  if (in->aux != OPTK_RED_SUM && in->aux != OPTK_RED_MAX)
    return fail(v, "bad reduction kind %d", in->aux);
  if (v->red_here[in->index]) return fail(v, "red%d reduced twice", in->index);
  v->red_here[in->index] = 1;
  v->red_dom[in->index] = shape_key(v->dom);
  v->red_kind[in->index] = (int8_t)in->aux;
  v->red_done[in->index] = 0;
  return true;
}

static bool check_index(Verify *v, const IrInst *in) {
  const IrProgram *p = v->prog;
  switch (in->op) {
  case IR_HYPER:
    if (!in_range(in->index, p->nhypers))
      return fail(v, "hyper %d out of range (%d hypers)", in->index, p->nhypers);
    return true;
  case IR_RED:
    if (!in_range(in->index, p->nred))
      return fail(v, "red%d out of range (%d reductions)", in->index, p->nred);
    if (!v->red_done[in->index])
      return fail(v, "red%d is read before a combine produces it", in->index);
    return true;
  case IR_SLOT:
    return check_slot_read(v, in->index);
  case IR_SLOT_SET:
    if (!in_range(in->index, p->nslot))
      return fail(v, "slot%d out of range (%d slots)", in->index, p->nslot);
    return true;
  case IR_SSTATE: case IR_SSTATE_SET:
    if (!in_range(in->index, p->nsstates))
      return fail(v, "scalar state %d out of range (%d scalar states)", in->index,
                  p->nsstates);
    return true;
  case IR_LOAD: case IR_STORE:
    return check_buffer_index(v, in);
  case IR_REDUCE:
    return check_reduce(v, in);
  case IR_RNG:
    if (in->aux < IR_RNG_UNIFORM || in->aux > IR_RNG_RADEMACHER)
      return fail(v, "bad random kind %d", in->aux);
    if (in->index < 0) return fail(v, "negative call site %d", in->index);
    return true;
  default:
    return true;
  }
}

static bool check_inst(Verify *v, const IrStage *st, int i) {
  const IrInst *in = &st->insts[i];
  v->inst = i;
  if ((unsigned)in->op >= IR_OP_COUNT) return fail(v, "bad opcode %d", (int)in->op);
  int nargs = ir_op_nargs(in->op);
  for (int a = 0; a < nargs; a++)
    if (!in_range(in->args[a], i))
      return fail(v, "argument %d refers to %%%d, not an earlier instruction", a + 1,
                  in->args[a]);
  Where w = op_where(in->op);
  bool sweep = st->op.kind == OPTK_OP_SWEEP;
  if ((w == SCALAR_ONLY && sweep) || (w == SWEEP_ONLY && !sweep))
    return fail(v, "not allowed in a %s stage", sweep ? "sweep" : "scalar");
  return check_index(v, in);
}

static bool check_code(Verify *v, const IrStage *st) {
  if (st->ninsts < 0 || (st->ninsts > 0 && !st->insts))
    return fail(v, "bad instruction list");
  if (st->op.kind == OPTK_OP_SWEEP) {
    if (st->compute != OPTK_F32 && st->compute != OPTK_F64)
      return fail(v, "compute type must be f32 or f64");
    if (st->op.a != -1 && !in_range(st->op.a, v->prog->nbufs))
      return fail(v, "domain buffer %d out of range (%d buffers)", st->op.a, v->prog->nbufs);
    v->dom = domain_shape(v->prog, st->op.a);
    v->dom_buf = same(v->dom, domain_shape(v->prog, -1)) ? -1 : st->op.a;
    memset(v->red_here, 0, (size_t)v->prog->nred);
  }
  for (int i = 0; i < st->ninsts; i++)
    if (!check_inst(v, st, i)) return false;
  v->inst = -1;
  if (st->op.kind == OPTK_OP_SCALAR)
    for (int i = 0; i < st->ninsts; i++)
      if (st->insts[i].op == IR_SLOT_SET) v->slot_set[st->insts[i].index] = 1;
  return true;
}

/* ---- plan ops ----------------------------------------------------------- */

static bool check_fn(Verify *v, const OptkOp *op) {
  int k = op->kind;
  if (op->fn >= v->fn_count[k])
    return fail(v, "function number %d out of range (%d)", op->fn, v->fn_count[k]);
  if (v->fn_seen[k][op->fn]) return fail(v, "function number %d used twice", op->fn);
  v->fn_seen[k][op->fn] = 1;
  return true;
}

static bool check_combine(Verify *v, const OptkOp *op) {
  int nred = v->prog->nred;
  if (op->b < 1 || !in_range(op->a, nred) || op->a + op->b > nred)
    return fail(v, "combine red%d..%d out of range (%d reductions)", op->a,
                op->a + op->b - 1, nred);
  if (op->scope > OPTK_SCOPE_GROUP) return fail(v, "bad scope %d", op->scope);
  if (op->c != -1 && !in_range(op->c, v->prog->nbufs))
    return fail(v, "domain buffer %d out of range (%d buffers)", op->c, v->prog->nbufs);
  for (int r = op->a; r < op->a + op->b; r++) {
    if (v->red_kind[r] < 0) return fail(v, "red%d is combined before any sweep reduces it", r);
    if (v->red_kind[r] != op->flags)
      return fail(v, "red%d: combine kind differs from the sweep's", r);
    if (v->red_dom[r] != shape_key(domain_shape(v->prog, op->c)))
      return fail(v, "red%d: combine domain differs from the sweep's", r);
    v->red_done[r] = 1;
  }
  return true;
}

static bool check_jump(Verify *v, const OptkOp *op, int nops) {
  if (op->a <= v->opi || op->a > nops)
    return fail(v, "jump target %d must be after this op and at most %d", op->a, nops);
  if (op->kind == OPTK_OP_JUMP_IF_ZERO) return check_slot_read(v, op->b);
  return true;
}

static bool buffer_arg(Verify *v, int b, bool out, const char *what) {
  if (!in_range(b, v->prog->nbufs))
    return fail(v, "%s buffer %d out of range (%d buffers)", what, b, v->prog->nbufs);
  if (out && v->prog->bufs[b].role == OPTK_BUF_GRAD)
    return fail(v, "%s buffer cannot be g (read-only)", what);
  return true;
}

/* A history's buffers: S and Y shaped like p, RHO (1, 1), consecutive
 * states sized by the same whole-number hyper; two scalar states. */
static bool check_history(Verify *v, const OptkOp *op) {
  const IrProgram *p = v->prog;
  if (op->fn > OPTK_HIST_PUSH) return fail(v, "bad history function %d", op->fn);
  if (!in_range(op->a, p->nbufs) || op->a + 2 >= p->nbufs)
    return fail(v, "history buffers %d..%d out of range (%d buffers)", op->a, op->a + 2, p->nbufs);
  const IrBuffer *h = &p->bufs[op->a];
  for (int k = 0; k < 3; k++) {
    const IrBuffer *b = &h[k];
    bool shape = k < 2 ? elem_shaped(b) : b->dim0 == OPTK_DIM_ONE && b->dim1 == OPTK_DIM_ONE;
    if (b->role != OPTK_BUF_STATE || !b->count_hyper || b->count_hyper != h->count_hyper || !shape)
      return fail(v, "history buffer %d is not part of a history", op->a + k);
  }
  if (h->count_hyper > (uint32_t)p->nhypers ||
      !(p->hypers[h->count_hyper - 1].flags & OPTK_HYPER_INTEGER))
    return fail(v, "history size must be a whole-number hyper");
  if (!in_range(op->d, p->nsstates) || op->d + 1 >= p->nsstates)
    return fail(v, "history scalar states %d, %d out of range", op->d, op->d + 1);
  if (!buffer_arg(v, op->b, false, "operand") || !buffer_arg(v, op->c, op->fn == OPTK_HIST_DIRECTION, "operand"))
    return false;
  if (!elem_shaped(&p->bufs[op->b]) || !elem_shaped(&p->bufs[op->c]) || p->bufs[op->b].count_hyper ||
      p->bufs[op->c].count_hyper)
    return fail(v, "history operands must be shaped like p");
  return true;
}

static bool check_host(Verify *v, const OptkOp *op) {
  const IrBuffer *bufs = v->prog->bufs;
  switch (op->kind) {
  case OPTK_OP_HVP:
    if (!buffer_arg(v, op->a, false, "vector") || !buffer_arg(v, op->b, true, "output"))
      return false;
    if (!elem_shaped(&bufs[op->a]) || !elem_shaped(&bufs[op->b]))
      return fail(v, "hvp buffers must be shaped like p");
    return true;
  case OPTK_OP_HESSIAN:
    if (!buffer_arg(v, op->a, true, "output")) return false;
    if (bufs[op->a].dim0 != OPTK_DIM_N || bufs[op->a].dim1 != OPTK_DIM_N)
      return fail(v, "hessian buffer must be n x n");
    return true;
  case OPTK_OP_GNB:
    if (!buffer_arg(v, op->a, true, "output")) return false;
    return elem_shaped(&bufs[op->a]) ? true : fail(v, "gnb buffer must be shaped like p");
  default: /* OPTK_OP_LINESEARCH */
    if (!buffer_arg(v, op->a, false, "direction")) return false;
    if (!elem_shaped(&bufs[op->a])) return fail(v, "direction must be shaped like p");
    if (op->b != OPTK_LS_ARMIJO && op->b != OPTK_LS_WOLFE)
      return fail(v, "bad line search method %d", op->b);
    for (int s = op->c; s < op->c + 4; s++)
      if (!check_slot_read(v, s)) return false;
    if (op->d != -1 && !in_range(op->d, v->prog->nslot))
      return fail(v, "slot%d out of range (%d slots)", op->d, v->prog->nslot);
    if (op->d != -1) v->slot_set[op->d] = 1;
    return true;
  }
}

/* Symbolic dims agree; n and rows also do (a vector shaped like p is
 * rows x cols, rows = n for a 1-D parameter, as in BFGS's n x n H @ g);
 * the runtime checks the resolved sizes. */
static bool deq(int a, int b) {
  return a == b || (a == OPTK_DIM_N && b == OPTK_DIM_ROWS) || (a == OPTK_DIM_ROWS && b == OPTK_DIM_N);
}

static bool dsame(Shape x, Shape y) { return deq(x.r, y.r) && deq(x.c, y.c); }

static bool matop_shapes(Verify *v, const OptkOp *op, Shape a, Shape b, Shape c) {
  bool ok;
  switch (op->fn) {
  case OPTK_MAT_GEMM: {
    Shape x = (op->flags & OPTK_MATOP_TRANS_A) ? (Shape){a.c, a.r} : a;
    Shape y = (op->flags & OPTK_MATOP_TRANS_B) ? (Shape){b.c, b.r} : b;
    ok = deq(x.c, y.r) && deq(c.r, x.r) && deq(c.c, y.c);
    break;
  }
  case OPTK_MAT_INV_ROOT: case OPTK_MAT_EIGVECS:
    ok = deq(a.r, a.c) && dsame(a, c);
    break;
  case OPTK_MAT_SOLVE: ok = deq(a.r, a.c) && deq(b.r, a.r) && dsame(b, c); break;
  case OPTK_MAT_TRANSPOSE: ok = deq(c.r, a.c) && deq(c.c, a.r); break;
  case OPTK_MAT_ROWMEAN: ok = deq(c.r, a.r) && c.c == OPTK_DIM_ONE; break;
  case OPTK_MAT_COLMEAN: ok = c.r == OPTK_DIM_ONE && deq(c.c, a.c); break;
  case OPTK_MAT_IDENTITY: ok = deq(c.r, c.c); break;
  default: ok = dsame(a, c); break; /* OPTK_MAT_COPY */
  }
  return ok ? true : fail(v, "matop shapes do not agree");
}

static bool check_matop(Verify *v, const OptkOp *op) {
  if (op->fn > OPTK_MAT_COPY) return fail(v, "bad matop %d", op->fn);
  bool uses_a = op->fn != OPTK_MAT_IDENTITY;
  bool uses_b = op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE;
  if ((uses_a && !buffer_arg(v, op->a, false, "first")) ||
      (uses_b && !buffer_arg(v, op->b, false, "second")) ||
      !buffer_arg(v, op->c, true, "output"))
    return false;
  int nslots = op->fn == OPTK_MAT_INV_ROOT ? 2 : op->fn == OPTK_MAT_IDENTITY ? 1 : 0;
  bool accum = (op->flags & OPTK_MATOP_ACCUMULATE) != 0;
  if (accum && op->fn != OPTK_MAT_GEMM && op->fn != OPTK_MAT_ROWMEAN && op->fn != OPTK_MAT_COLMEAN)
    return fail(v, "only gemm, rowmean and colmean accumulate");
  if (op->fn == OPTK_MAT_GEMM) nslots = 1; /* alpha */
  if (accum) nslots = 2;                   /* alpha, beta */
  if (accum && op->d == -1) return fail(v, "an accumulating matop needs alpha and beta slots");
  if ((op->fn == OPTK_MAT_IDENTITY || op->fn == OPTK_MAT_GEMM) && op->d == -1) nslots = 0;
  for (int s = op->d; s < op->d + nslots; s++)
    if (!check_slot_read(v, s)) return false;
  const IrBuffer *bufs = v->prog->bufs;
  Shape none = {-1, -1};
  return matop_shapes(v, op, uses_a ? shape_of(&bufs[op->a]) : none,
                      uses_b ? shape_of(&bufs[op->b]) : none, shape_of(&bufs[op->c]));
}

static bool check_op(Verify *v, const IrStage *st, int nops) {
  const OptkOp *op = &st->op;
  if (op->kind > OPTK_OP_HISTORY) return fail(v, "bad op kind %d", op->kind);
  if (op->kind > OPTK_OP_SWEEP && st->ninsts != 0)
    return fail(v, "only scalar and sweep stages have instructions");
  switch (op->kind) {
  case OPTK_OP_SCALAR: case OPTK_OP_SWEEP:
    return check_fn(v, op) && check_code(v, st);
  case OPTK_OP_COMBINE: return check_combine(v, op);
  case OPTK_OP_JUMP: case OPTK_OP_JUMP_IF_ZERO: return check_jump(v, op, nops);
  case OPTK_OP_MATOP: return check_matop(v, op);
  case OPTK_OP_HISTORY: return check_history(v, op);
  default: return check_host(v, op);
  }
}

static bool check_plan(Verify *v, bool init) {
  const IrProgram *p = v->prog;
  const IrStage *stages = init ? p->init_stages : p->stages;
  int n = init ? p->ninit_stages : p->nstages;
  v->init = init;
  memset(v->slot_set, 0, (size_t)p->nslot);
  memset(v->red_kind, -1, (size_t)p->nred);
  memset(v->red_done, 0, (size_t)p->nred);
  for (v->opi = 0; v->opi < n; v->opi++) {
    v->inst = -1;
    if (!check_op(v, &stages[v->opi], n)) return false;
  }
  v->opi = -1;
  return true;
}

static void count_fns(Verify *v, const IrStage *stages, int n) {
  for (int i = 0; i < n; i++)
    if (stages[i].op.kind <= OPTK_OP_SWEEP) v->fn_count[stages[i].op.kind]++;
}

static bool check_fns_used(Verify *v) {
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < v->fn_count[k]; i++)
      if (!v->fn_seen[k][i])
        return fail(v, "%s function %d is never used", KIND_NAMES[k], i);
  return true;
}

int ir_verify_program(const IrProgram *prog, char **err) {
  Verify v = {.prog = prog, .opi = -1, .inst = -1};
  *err = NULL;
  bool ok = check_tables(&v);
  if (ok) {
    v.slot_set = xcalloc((size_t)prog->nslot + 1, 1);
    v.red_kind = xcalloc((size_t)prog->nred + 1, 1);
    v.red_done = xcalloc((size_t)prog->nred + 1, 1);
    v.red_here = xcalloc((size_t)prog->nred + 1, 1);
    v.red_dom = xcalloc((size_t)prog->nred + 1, sizeof(int));
    count_fns(&v, prog->stages, prog->nstages);
    count_fns(&v, prog->init_stages, prog->ninit_stages);
    for (int k = 0; k < 2; k++) v.fn_seen[k] = xcalloc((size_t)v.fn_count[k] + 1, 1);
    ok = check_plan(&v, false) && check_plan(&v, true) && check_fns_used(&v);
    free(v.slot_set);
    free(v.red_kind);
    free(v.red_done);
    free(v.red_here);
    free(v.red_dom);
    free(v.fn_seen[0]);
    free(v.fn_seen[1]);
  }
  if (ok) return 0;
  *err = str_take(&v.msg);
  return -1;
}

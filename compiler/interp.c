/* interp.c: the reference interpreter of the scheduled IrProgram (see
 * interp.h for the semantics it fixes).
 *
 * A sweep is evaluated one block of OPTK_BLOCK elements at a time and one
 * instruction at a time over the block (values[inst][element]), so
 * dispatch costs once per block, not per element.  A sweep runs over its
 * domain (the parameter or a matrix buffer: optk.h, "Sweep domains");
 * within it every load of a buffer with the domain's element count reads
 * element i and every store writes element i (broadcast loads read rows,
 * columns or element 0, which no store of the sweep may write), so this
 * order gives the same values as running the instructions element by
 * element.  A scalar stage is the same evaluator
 * over a block of one.  Matrix ops live in interp_mat.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "interp_internal.h"

/* The iteration space of a sweep: n = rows * cols elements. */
typedef struct Domain {
  int64_t n, rows, cols;
} Domain;

typedef struct Tensor {
  float *p;
  const float *g;
  int64_t rows, cols, n, nblocks;
  double **buf;    /* [nbufs]; NULL for p and g */
  int64_t (*dims)[2]; /* [nbufs] resolved dim0, dim1 */
  double *sstate, *slot, *red, *partial;
  bool ready;      /* init plan has run */
} Tensor;

struct Interp {
  const IrProgram *prog;
  InterpOptions opts;
  double *hyper;
  Tensor *t;
  int nt, cap;
  int64_t step;
  double f;
  double *vals;    /* sweep values: max ninsts * OPTK_BLOCK */
  double *entry;   /* scalar states at scalar-stage entry */
};

static int set_err(char **err, const char *fmt, ...) OPTC_PRINTF(2, 3);
static int set_err(char **err, const char *fmt, ...) {
  Str s = {0};
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&s, fmt, ap);
  va_end(ap);
  *err = str_take(&s);
  return -1;
}

static double round_to(OptkDType dt, double v) {
  switch (dt) {
  case OPTK_F64: return v;
  case OPTK_BF16: return optk_bf16_to_f32(optk_f32_to_bf16((float)v));
  default: return (double)(float)v;
  }
}

static int max_insts(const IrStage *st, int n, int best) {
  for (int i = 0; i < n; i++)
    if (st[i].ninsts > best) best = st[i].ninsts;
  return best;
}

Interp *interp_create(const IrProgram *prog, const InterpOptions *opts, char **err) {
  if (ir_verify_program(prog, err) != 0) return NULL;
  Interp *in = xcalloc(1, sizeof *in);
  in->prog = prog;
  if (opts) in->opts = *opts;
  in->hyper = xcalloc((size_t)prog->nhypers + 1, sizeof(double));
  for (int i = 0; i < prog->nhypers; i++) in->hyper[i] = prog->hypers[i].def;
  int m = max_insts(prog->init_stages, prog->ninit_stages,
                    max_insts(prog->stages, prog->nstages, 1));
  in->vals = xmalloc(sizeof(double) * (size_t)m * OPTK_BLOCK);
  in->entry = xcalloc((size_t)prog->nsstates + 1, sizeof(double));
  return in;
}

static void tensor_free(const IrProgram *prog, Tensor *t) {
  for (int b = 0; b < prog->nbufs; b++) free(t->buf[b]);
  free(t->buf);
  free(t->dims);
  free(t->sstate);
  free(t->slot);
  free(t->red);
  free(t->partial);
}

void interp_free(Interp *in) {
  if (!in) return;
  for (int k = 0; k < in->nt; k++) tensor_free(in->prog, &in->t[k]);
  free(in->t);
  free(in->hyper);
  free(in->vals);
  free(in->entry);
  free(in);
}

/* ---- tensors ------------------------------------------------------------ */

static bool param_domain(const IrProgram *prog, int a) {
  if (a < 2 || a >= prog->nbufs) return true;
  return ir_dims_param_shaped(prog->bufs[a].dim0, prog->bufs[a].dim1);
}

/* Sweep domain `a` (optk.h, "Sweep domains") resolved for tensor t. */
static Domain domain_of(const IrProgram *prog, const Tensor *t, int a) {
  if (param_domain(prog, a)) return (Domain){t->n, t->rows, t->cols};
  return (Domain){t->dims[a][0] * t->dims[a][1], t->dims[a][0], t->dims[a][1]};
}

static int64_t blocks_of(Domain d) { return (d.n + OPTK_BLOCK - 1) / OPTK_BLOCK; }

/* Partials are sized for the largest sweep domain of both plans. */
static int64_t max_blocks(const IrProgram *prog, const Tensor *t) {
  int64_t m = blocks_of(domain_of(prog, t, -1));
  for (int plan = 0; plan < 2; plan++) {
    const IrStage *st = plan ? prog->init_stages : prog->stages;
    int n = plan ? prog->ninit_stages : prog->nstages;
    for (int i = 0; i < n; i++)
      if (st[i].op.kind == OPTK_OP_SWEEP && blocks_of(domain_of(prog, t, st[i].op.a)) > m)
        m = blocks_of(domain_of(prog, t, st[i].op.a));
  }
  return m;
}

static int64_t dim_size(const Tensor *t, int d) {
  switch (d) {
  case OPTK_DIM_ONE: return 1;
  case OPTK_DIM_ROWS: return t->rows;
  case OPTK_DIM_COLS: return t->cols;
  default: return t->n;
  }
}

static int alloc_buffers(const IrProgram *prog, Tensor *t, char **err) {
  t->buf = xcalloc((size_t)prog->nbufs, sizeof(double *));
  t->dims = xcalloc((size_t)prog->nbufs, sizeof *t->dims);
  for (int b = 0; b < prog->nbufs; b++) {
    int64_t r = dim_size(t, prog->bufs[b].dim0), c = dim_size(t, prog->bufs[b].dim1);
    t->dims[b][0] = r;
    t->dims[b][1] = c;
    if (b < 2 || prog->bufs[b].count_hyper) continue; /* histories: at the first step */
    if (c != 0 && r > INTERP_MAX_ELEMENTS / c)
      return set_err(err, "buffer %s would have %lld x %lld elements, over the "
                     "interpreter's limit", prog->bufs[b].name, (long long)r, (long long)c);
    t->buf[b] = xcalloc((size_t)(r * c) + 1, sizeof(double));
  }
  return 0;
}

int interp_add_tensor(Interp *in, float *p, const float *g, int64_t rows, int64_t cols,
                      char **err) {
  if (in->step > 0) return set_err(err, "tensors must be added before the first step");
  if (rows < 0 || cols < 0 || (cols != 0 && rows > INTERP_MAX_ELEMENTS / cols))
    return set_err(err, "bad tensor shape %lld x %lld", (long long)rows, (long long)cols);
  const IrProgram *prog = in->prog;
  Tensor t = {.p = p, .g = g, .rows = rows, .cols = cols, .n = rows * cols};
  t.sstate = xcalloc((size_t)prog->nsstates + 1, sizeof(double));
  t.slot = xcalloc((size_t)prog->nslot + 1, sizeof(double));
  t.red = xcalloc((size_t)prog->nred + 1, sizeof(double));
  if (alloc_buffers(prog, &t, err) != 0) {
    tensor_free(prog, &t);
    return -1;
  }
  t.nblocks = max_blocks(prog, &t);
  t.partial = xcalloc((size_t)(prog->nred * t.nblocks) + 1, sizeof(double));
  if (in->nt == in->cap) {
    in->cap = in->cap ? 2 * in->cap : 4;
    in->t = xrealloc(in->t, sizeof(Tensor) * (size_t)in->cap);
  }
  in->t[in->nt] = t;
  return in->nt++;
}

void interp_set_grad(Interp *in, int k, const float *g) {
  if (k >= 0 && k < in->nt) in->t[k].g = g;
}

static bool hyper_ok(const IrHyper *h, double v) {
  if (isnan(v)) return false;
  if (h->flags & OPTK_HYPER_HAS_LO)
    if ((h->flags & OPTK_HYPER_LO_OPEN) ? !(v > h->lo) : !(v >= h->lo)) return false;
  if (h->flags & OPTK_HYPER_HAS_HI)
    if ((h->flags & OPTK_HYPER_HI_OPEN) ? !(v < h->hi) : !(v <= h->hi)) return false;
  return true;
}

int interp_set_hyper(Interp *in, const char *name, double value, char **err) {
  for (int i = 0; i < in->prog->nhypers; i++) {
    const IrHyper *h = &in->prog->hypers[i];
    if (strcmp(h->name, name) != 0) continue;
    if (!hyper_ok(h, value)) {
      Str s = {0};
      str_printf(&s, "hyper %s: ", name);
      str_put_double(&s, value);
      str_puts(&s, " is outside its range");
      *err = str_take(&s);
      return -1;
    }
    if ((h->flags & OPTK_HYPER_INTEGER) && value != floor(value))
      return set_err(err, "hyper %s must be a whole number", name);
    if ((h->flags & OPTK_HYPER_SIZES_STATE) && in->step > 0 && value != in->hyper[i])
      return set_err(err, "hyper %s sizes the state, which already exists", name);
    in->hyper[i] = value;
    return 0;
  }
  return set_err(err, "optimizer %s has no hyper '%s'", in->prog->name, name);
}

int64_t interp_steps(const Interp *in) { return in->step; }

const double *interp_buffer(const Interp *in, int k, int buf, int64_t *count) {
  if (k < 0 || k >= in->nt || buf < 2 || buf >= in->prog->nbufs) return NULL;
  const Tensor *t = &in->t[k];
  if (count) *count = t->dims[buf][0] * t->dims[buf][1];
  return t->buf[buf];
}

double interp_sstate(const Interp *in, int k, int s) {
  if (k < 0 || k >= in->nt || s < 0 || s >= in->prog->nsstates) return NAN;
  return in->t[k].sstate[s];
}

const double *interp_slots(const Interp *in, int k) {
  return k >= 0 && k < in->nt ? in->t[k].slot : NULL;
}

const double *interp_reds(const Interp *in, int k) {
  return k >= 0 && k < in->nt ? in->t[k].red : NULL;
}

/* ---- arithmetic over a block --------------------------------------------- */

static double sign_of(double x) { return isnan(x) ? x : (x > 0) - (x < 0); }
static double min_of(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static double max_of(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }

static double powi(double x, int e) {
  double r = 1, base = e < 0 ? 1 / x : x;
  for (unsigned u = e < 0 ? 0u - (unsigned)e : (unsigned)e; u; u >>= 1) {
    if (u & 1) r *= base;
    base *= base;
  }
  return r;
}

#define EACH(expr)                                  \
  do {                                              \
    for (int64_t j = 0; j < cnt; j++) o[j] = (expr); \
  } while (0)

/* o[j] = op(a[j], b[j], c[j]) for the arithmetic ops of IR_OPS. */
static void eval_arith(const IrInst *in, double *o, const double *a, const double *b,
                       const double *c, int64_t cnt) {
  switch (in->op) {
  case IR_NEG: EACH(-a[j]); break;
  case IR_ADD: EACH(a[j] + b[j]); break;
  case IR_SUB: EACH(a[j] - b[j]); break;
  case IR_MUL: EACH(a[j] * b[j]); break;
  case IR_DIV: EACH(a[j] / b[j]); break;
  case IR_MOD: EACH(fmod(a[j], b[j])); break;
  case IR_FMA: EACH(fma(a[j], b[j], c[j])); break;
  case IR_POW: EACH(pow(a[j], b[j])); break;
  case IR_POWI: EACH(powi(a[j], in->index)); break;
  case IR_SQRT: EACH(sqrt(a[j])); break;
  case IR_RSQRT: EACH(1 / sqrt(a[j])); break;
  case IR_EXP: EACH(exp(a[j])); break;
  case IR_LOG: EACH(log(a[j])); break;
  case IR_LOG1P: EACH(log1p(a[j])); break;
  case IR_TANH: EACH(tanh(a[j])); break;
  case IR_SIGMOID: EACH(1 / (1 + exp(-a[j]))); break;
  case IR_ABS: EACH(fabs(a[j])); break;
  case IR_SIGN: EACH(sign_of(a[j])); break;
  case IR_MIN: EACH(min_of(a[j], b[j])); break;
  case IR_MAX: EACH(max_of(a[j], b[j])); break;
  case IR_LT: EACH(a[j] < b[j]); break;
  case IR_LE: EACH(a[j] <= b[j]); break;
  case IR_GT: EACH(a[j] > b[j]); break;
  case IR_GE: EACH(a[j] >= b[j]); break;
  case IR_EQ: EACH(a[j] == b[j]); break;
  case IR_NE: EACH(a[j] != b[j]); break;
  case IR_AND: EACH(a[j] != 0 && b[j] != 0); break;
  case IR_OR: EACH(a[j] != 0 || b[j] != 0); break;
  case IR_NOT: EACH(a[j] == 0); break;
  case IR_SELECT: EACH(a[j] != 0 ? b[j] : c[j]); break;
  default: /* effects: their value is their argument's */
    EACH(a[j]);
    break;
  }
}

static void fill(double *o, int64_t cnt, double v) { EACH(v); }

/* ---- scalar stages -------------------------------------------------------- */

static double scalar_leaf(const Interp *in, const Tensor *t, const IrInst *x) {
  switch (x->op) {
  case IR_CONST: return x->imm;
  case IR_HYPER: return in->hyper[x->index];
  case IR_STEP: return (double)in->step;
  case IR_LOSS: return in->f;
  case IR_NUMEL: return (double)t->n;
  case IR_ROWS: return (double)t->rows;
  case IR_COLS: return (double)t->cols;
  case IR_RED: return t->red[x->index];
  case IR_SLOT: return t->slot[x->index];
  default: return in->entry[x->index]; /* IR_SSTATE */
  }
}

static void run_scalar(Interp *in, const IrStage *st, Tensor *t) {
  const IrProgram *prog = in->prog;
  double *v = in->vals;
  memcpy(in->entry, t->sstate, sizeof(double) * (size_t)prog->nsstates);
  for (int i = 0; i < st->ninsts; i++) {
    const IrInst *x = &st->insts[i];
    if (ir_op_nargs(x->op) == 0) {
      v[i] = scalar_leaf(in, t, x);
      continue;
    }
    eval_arith(x, &v[i], &v[x->args[0]], &v[x->args[1] < 0 ? 0 : x->args[1]],
               &v[x->args[2] < 0 ? 0 : x->args[2]], 1);
    if (x->op == IR_SLOT_SET) t->slot[x->index] = v[i];
    if (x->op == IR_SSTATE_SET)
      t->sstate[x->index] = round_to((OptkDType)prog->sstates[x->index].dtype, v[i]);
  }
}

/* ---- sweeps --------------------------------------------------------------- */

typedef enum Pos { POS_ELEM, POS_ROW, POS_COL, POS_ONE } Pos;

/* Where element i of domain `dom` finds its value in buffer b, by the
 * buffer's resolved dims (optk.h): the single value, the same element,
 * its row (a column vector) or its column (a row vector). */
static Pos position(const IrProgram *prog, const Tensor *t, int b, Domain dom) {
  const IrBuffer *buf = &prog->bufs[b];
  if (buf->dim0 == OPTK_DIM_ONE && buf->dim1 == OPTK_DIM_ONE) return POS_ONE;
  if (t->dims[b][0] * t->dims[b][1] == dom.n) return POS_ELEM;
  if (buf->dim1 == OPTK_DIM_ONE && dom.cols > 1) return POS_ROW;
  return POS_COL;
}

static void load_block(const IrProgram *prog, const Tensor *t, int b, Domain dom,
                       int64_t begin, int64_t cnt, double *o) {
  Pos pos = position(prog, t, b, dom);
  const float *f = b == 0 ? t->p : b == 1 ? t->g : NULL;
  const double *d = t->buf[b];
  if (pos == POS_ELEM) { /* the common case */
    if (f) EACH((double)f[begin + j]);
    else EACH(d[begin + j]);
    return;
  }
  for (int64_t j = 0; j < cnt; j++) {
    int64_t i = begin + j, at = pos == POS_ROW ? i / dom.cols : pos == POS_COL ? i % dom.cols : 0;
    o[j] = f ? f[at] : d[at];
  }
}

static void store_block(const IrProgram *prog, Tensor *t, int b, int64_t begin,
                        int64_t cnt, const double *v) {
  if (b == 0) {
    for (int64_t j = 0; j < cnt; j++) t->p[begin + j] = (float)v[j];
    return;
  }
  OptkDType dt = (OptkDType)prog->bufs[b].dtype;
  for (int64_t j = 0; j < cnt; j++) t->buf[b][begin + j] = round_to(dt, v[j]);
}

static void rng_block(const Interp *in, const Tensor *t, const IrInst *x, int64_t begin,
                      int64_t cnt, double *o) {
  uint64_t key = optk_rng_key(in->opts.seed, (uint64_t)in->step,
                              (uint64_t)(t - in->t), (uint64_t)x->index);
  for (int64_t j = 0; j < cnt; j++) {
    uint64_t r = optk_rng_u64(key, (uint64_t)(begin + j));
    if (x->aux == IR_RNG_UNIFORM) {
      o[j] = optk_uniform(r);
    } else if (x->aux == IR_RNG_RADEMACHER) {
      o[j] = optk_rademacher(r);
    } else {
      double u1, u2;
      optk_normal_uniforms(r, &u1, &u2);
      o[j] = sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2);
    }
  }
}

static double block_max(const double *v, int64_t cnt) {
  double m = -INFINITY;
  for (int64_t j = 0; j < cnt; j++) m = max_of(m, v[j]);
  return m;
}

/* NUMEL, ROWS, COLS in a sweep are its domain's, as in OptkSweepCtx. */
static void sweep_leaf(const Interp *in, const Tensor *t, Domain dom, const IrInst *x,
                       int64_t begin, int64_t cnt, double *o) {
  switch (x->op) {
  case IR_CONST: fill(o, cnt, x->imm); break;
  case IR_NUMEL: fill(o, cnt, (double)dom.n); break;
  case IR_ROWS: fill(o, cnt, (double)dom.rows); break;
  case IR_COLS: fill(o, cnt, (double)dom.cols); break;
  case IR_SLOT: fill(o, cnt, t->slot[x->index]); break;
  case IR_LOAD: load_block(in->prog, t, x->index, dom, begin, cnt, o); break;
  case IR_RNG: rng_block(in, t, x, begin, cnt, o); break;
  case IR_ROW_INDEX: EACH((double)((begin + j) / dom.cols)); break;
  default: EACH((double)((begin + j) % dom.cols)); break; /* IR_COL_INDEX */
  }
}

static void sweep_block(Interp *in, const IrStage *st, Tensor *t, Domain dom, int64_t blk) {
  int64_t begin = blk * OPTK_BLOCK;
  int64_t cnt = dom.n - begin < OPTK_BLOCK ? dom.n - begin : OPTK_BLOCK;
  for (int i = 0; i < st->ninsts; i++) {
    const IrInst *x = &st->insts[i];
    double *o = in->vals + (size_t)i * OPTK_BLOCK;
    if (ir_op_nargs(x->op) == 0) {
      sweep_leaf(in, t, dom, x, begin, cnt, o);
      continue;
    }
    const double *a[3];
    for (int k = 0; k < 3; k++)
      a[k] = in->vals + (size_t)(x->args[k] < 0 ? 0 : x->args[k]) * OPTK_BLOCK;
    eval_arith(x, o, a[0], a[1], a[2], cnt);
    if (x->op == IR_STORE) store_block(in->prog, t, x->index, begin, cnt, o);
    if (x->op == IR_REDUCE)
      t->partial[blk * in->prog->nred + x->index] =
          x->aux == OPTK_RED_MAX ? block_max(o, cnt) : optk_block_sum(o, cnt);
  }
}

static void run_sweep(Interp *in, const IrStage *st, Tensor *t) {
  Domain dom = domain_of(in->prog, t, st->op.a);
  for (int64_t blk = 0; blk < blocks_of(dom); blk++) sweep_block(in, st, t, dom, blk);
}

/* ---- barriers ------------------------------------------------------------- */

static void run_combine(const Interp *in, const OptkOp *op, Tensor **ts, int nt) {
  int nred = in->prog->nred;
  bool group = op->scope == OPTK_SCOPE_GROUP;
  for (int gi = 0; gi < (group ? 1 : nt); gi++) {
    int lo = group ? 0 : gi, hi = group ? nt : gi + 1;
    for (int r = op->a; r < op->a + op->b; r++) {
      double acc = op->flags == OPTK_RED_MAX ? -INFINITY : 0.0;
      for (int k = lo; k < hi; k++)
        for (int64_t blk = 0, nb = blocks_of(domain_of(in->prog, ts[k], op->c)); blk < nb; blk++) {
          double x = ts[k]->partial[blk * nred + r];
          acc = op->flags == OPTK_RED_MAX ? max_of(acc, x) : acc + x;
        }
      for (int k = lo; k < hi; k++) ts[k]->red[r] = acc;
    }
  }
}

/* A buffer as a matrix (copy); tensors shaped like p are rows x cols. */
static InterpMat mat_get(const IrProgram *prog, const Tensor *t, int b) {
  const IrBuffer *buf = &prog->bufs[b];
  InterpMat m = {NULL, t->dims[b][0], t->dims[b][1]};
  if ((buf->dim0 == OPTK_DIM_N && buf->dim1 == OPTK_DIM_ONE) ||
      (buf->dim0 == OPTK_DIM_ONE && buf->dim1 == OPTK_DIM_N)) {
    m.r = t->rows;
    m.c = t->cols;
  }
  m.v = xmalloc(sizeof(double) * (size_t)(m.r * m.c + 1));
  if (b >= 2) memcpy(m.v, t->buf[b], sizeof(double) * (size_t)(m.r * m.c));
  else
    for (int64_t i = 0; i < m.r * m.c; i++) m.v[i] = b == 0 ? t->p[i] : t->g[i];
  return m;
}

static bool dims_nn(const IrProgram *prog, int b) {
  return prog->bufs[b].dim0 == OPTK_DIM_N && prog->bufs[b].dim1 == OPTK_DIM_N;
}

/* With an n x n operand, tensor-shaped buffers are n x 1 columns (as in
 * the runtime's linalg.c), so 2-D parameters work as vectors of n. */
static void as_column(const IrProgram *prog, int b, const Tensor *t, InterpMat *m) {
  const IrBuffer *buf = &prog->bufs[b];
  if ((buf->dim0 == OPTK_DIM_N && buf->dim1 == OPTK_DIM_ONE) ||
      (buf->dim0 == OPTK_DIM_ONE && buf->dim1 == OPTK_DIM_N))
    m->r = t->n, m->c = 1;
}

static int run_matop(Interp *in, const OptkOp *op, Tensor *t, char **err) {
  const IrProgram *prog = in->prog;
  bool uses_a = op->fn != OPTK_MAT_IDENTITY;
  bool uses_b = op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE;
  InterpMat a = {0}, b = {0}, c = mat_get(prog, t, op->c);
  if (uses_a) a = mat_get(prog, t, op->a);
  if (uses_b) b = mat_get(prog, t, op->b);
  if (dims_nn(prog, op->c) || (uses_a && dims_nn(prog, op->a)) || (uses_b && dims_nn(prog, op->b))) {
    as_column(prog, op->c, t, &c);
    if (uses_a) as_column(prog, op->a, t, &a);
    if (uses_b) as_column(prog, op->b, t, &b);
  }
  int rc = interp_mat_run(op, &a, &b, &c, t->slot, err);
  if (rc == 0) store_block(prog, t, op->c, 0, c.r * c.c, c.v);
  free(a.v);
  free(b.v);
  free(c.v);
  return rc;
}

static int run_hvp(Interp *in, const OptkOp *op, Tensor **ts, int nt, char **err) {
  if (!in->opts.host.hvp) return set_err(err, "the plan needs hvp but the host gave none");
  InterpMat *v = xcalloc((size_t)nt + 1, sizeof *v), *o = xcalloc((size_t)nt + 1, sizeof *o);
  const double **vp = xcalloc((size_t)nt + 1, sizeof *vp);
  double **op_ = xcalloc((size_t)nt + 1, sizeof *op_);
  for (int k = 0; k < nt; k++) {
    v[k] = mat_get(in->prog, ts[k], op->a);
    o[k] = mat_get(in->prog, ts[k], op->b);
    vp[k] = v[k].v;
    op_[k] = o[k].v;
  }
  *err = NULL;
  int rc = in->opts.host.hvp(in->opts.host.user, nt, vp, op_, err);
  if (rc != 0 && !*err) set_err(err, "the host's hvp failed");
  for (int k = 0; k < nt; k++) {
    if (rc == 0) store_block(in->prog, ts[k], op->b, 0, ts[k]->n, o[k].v);
    free(v[k].v);
    free(o[k].v);
  }
  free(v);
  free(o);
  free(vp);
  free(op_);
  return rc;
}

static int run_gnb(Interp *in, const OptkOp *op, Tensor **ts, int nt, char **err) {
  if (!in->opts.host.gnb) return set_err(err, "the plan needs gnb but the host gave none");
  double **out = xcalloc((size_t)nt + 1, sizeof *out);
  for (int k = 0; k < nt; k++) out[k] = xcalloc((size_t)ts[k]->n + 1, sizeof(double));
  *err = NULL;
  int rc = in->opts.host.gnb(in->opts.host.user, nt, out, err);
  if (rc != 0 && !*err) set_err(err, "the host's gnb failed");
  for (int k = 0; k < nt; k++) {
    if (rc == 0) store_block(in->prog, ts[k], op->a, 0, ts[k]->n, out[k]);
    free(out[k]);
  }
  free(out);
  return rc;
}

static int run_hessian(Interp *in, const OptkOp *op, Tensor **ts, int nt, char **err) {
  if (!in->opts.host.hessian)
    return set_err(err, "the plan needs hessian but the host gave none");
  if (nt != 1) return set_err(err, "hessian needs exactly one tensor in the group");
  int64_t n = ts[0]->n;
  double *h = xcalloc((size_t)(n * n) + 1, sizeof(double));
  *err = NULL;
  int rc = in->opts.host.hessian(in->opts.host.user, n, h, err);
  if (rc != 0 && !*err) set_err(err, "the host's hessian failed");
  if (rc == 0) store_block(in->prog, ts[0], op->a, 0, n * n, h);
  free(h);
  return rc;
}

/* ---- plans ---------------------------------------------------------------- */

static int run_history(Interp *in, const OptkOp *op, Tensor **ts, int nt);

static int run_op(Interp *in, const IrStage *st, Tensor **ts, int nt, char **err) {
  switch (st->op.kind) {
  case OPTK_OP_SCALAR:
    for (int k = 0; k < nt; k++) run_scalar(in, st, ts[k]);
    return 0;
  case OPTK_OP_SWEEP:
    for (int k = 0; k < nt; k++) run_sweep(in, st, ts[k]);
    return 0;
  case OPTK_OP_COMBINE: run_combine(in, &st->op, ts, nt); return 0;
  case OPTK_OP_HVP: return run_hvp(in, &st->op, ts, nt, err);
  case OPTK_OP_HESSIAN: return run_hessian(in, &st->op, ts, nt, err);
  case OPTK_OP_GNB: return run_gnb(in, &st->op, ts, nt, err);
  case OPTK_OP_HISTORY: return run_history(in, &st->op, ts, nt);
  case OPTK_OP_LINESEARCH: return set_err(err, "the interpreter does not run line searches");
  default: /* OPTK_OP_MATOP */
    for (int k = 0; k < nt; k++)
      if (run_matop(in, &st->op, ts[k], err) != 0) return -1;
    return 0;
  }
}

/* Jumps only go forward (the verifier checks), so every plan ends. */
static int run_plan(Interp *in, const IrStage *stages, int n, Tensor **ts, int nt,
                    char **err) {
  int pc = 0;
  while (pc < n && nt > 0) {
    const OptkOp *op = &stages[pc].op;
    if (op->kind == OPTK_OP_JUMP || (op->kind == OPTK_OP_JUMP_IF_ZERO &&
                                     ts[0]->slot[op->b] == 0)) {
      pc = op->a;
      continue;
    }
    if (op->kind != OPTK_OP_JUMP_IF_ZERO && run_op(in, &stages[pc], ts, nt, err) != 0)
      return -1;
    pc++;
  }
  return 0;
}

/* History buffers hold m copies (m: their count hyper's value now). */
static int alloc_histories(const Interp *in, Tensor *t, char **err) {
  const IrProgram *prog = in->prog;
  for (int b = 2; b < prog->nbufs; b++) {
    if (!prog->bufs[b].count_hyper || t->buf[b]) continue;
    double m = in->hyper[prog->bufs[b].count_hyper - 1];
    int64_t per = t->dims[b][0] * t->dims[b][1];
    if (!(m >= 1) || m > (double)INTERP_MAX_ELEMENTS / (double)(per ? per : 1))
      return set_err(err, "history buffer %s would exceed the interpreter's limit",
                     prog->bufs[b].name);
    t->dims[b][1] *= (int64_t)m;
    t->buf[b] = xcalloc((size_t)(per * (int64_t)m) + 1, sizeof(double));
  }
  return 0;
}

/* OPTK_OP_HISTORY over the group (interp_hist.c). */
static int run_history(Interp *in, const OptkOp *op, Tensor **ts, int nt) {
  const IrProgram *prog = in->prog;
  int64_t *n = xcalloc((size_t)nt + 1, sizeof *n);
  double **ptr = xcalloc((size_t)(6 * nt) + 1, sizeof *ptr);
  InterpMat *v = xcalloc((size_t)(2 * nt) + 1, sizeof *v);
  for (int k = 0; k < nt; k++) {
    n[k] = ts[k]->n;
    ptr[k] = ts[k]->buf[op->a];
    ptr[nt + k] = ts[k]->buf[op->a + 1];
    ptr[2 * nt + k] = ts[k]->buf[op->a + 2];
    ptr[3 * nt + k] = ts[k]->sstate;
    v[k] = mat_get(prog, ts[k], op->b);
    v[nt + k] = mat_get(prog, ts[k], op->c);
    ptr[4 * nt + k] = v[k].v;
    ptr[5 * nt + k] = v[nt + k].v;
  }
  InterpHist h = {nt, n, ptr, ptr + nt, ptr + 2 * nt, ptr + 3 * nt, op->d,
                  ts[0]->dims[op->a + 2][1], (OptkDType)prog->bufs[op->a].dtype};
  if (op->fn == OPTK_HIST_PUSH) {
    interp_hist_push(&h, ptr + 4 * nt, ptr + 5 * nt);
  } else {
    interp_hist_direction(&h, ptr + 4 * nt);
    for (int k = 0; k < nt; k++) store_block(prog, ts[k], op->c, 0, n[k], v[k].v);
  }
  for (int k = 0; k < 2 * nt; k++) free(v[k].v);
  free(v);
  free(ptr);
  free(n);
  return 0;
}

static int init_tensor(Interp *in, Tensor *t, char **err) {
  const IrProgram *prog = in->prog;
  if (alloc_histories(in, t, err) != 0) return -1;
  for (int s = 0; s < prog->nsstates; s++)
    t->sstate[s] = round_to((OptkDType)prog->sstates[s].dtype, prog->sstates[s].init);
  t->ready = true;
  return run_plan(in, prog->init_stages, prog->ninit_stages, &t, 1, err);
}

int interp_step(Interp *in, double f, char **err) {
  in->step++;
  in->f = f;
  for (int k = 0; k < in->nt; k++)
    if (!in->t[k].ready && init_tensor(in, &in->t[k], err) != 0) return -1;
  Tensor **ts = xcalloc((size_t)in->nt + 1, sizeof *ts);
  for (int k = 0; k < in->nt; k++) ts[k] = &in->t[k];
  int rc = run_plan(in, in->prog->stages, in->prog->nstages, ts, in->nt, err);
  free(ts);
  return rc;
}

/* ---- whole runs ----------------------------------------------------------- */

static int run_steps(Interp *in, const InterpRun *run, float **own_g, char **err) {
  for (int s = 0; s < run->steps; s++) {
    double f = NAN;
    if (run->grad_fn) {
      *err = NULL;
      if (run->grad_fn(run->grad_user, s, run->ntensors, run->p, own_g, &f, err) != 0)
        return *err ? -1 : set_err(err, "the gradient function failed at step %d", s);
    } else {
      for (int k = 0; k < run->ntensors; k++)
        interp_set_grad(in, k, run->grads[(size_t)s * (size_t)run->ntensors + (size_t)k]);
      if (run->losses) f = run->losses[s];
    }
    if (interp_step(in, f, err) != 0) return -1;
  }
  return 0;
}

int interp_run(const IrProgram *prog, const InterpRun *run, char **err) {
  if (!run->grad_fn && !run->grads && run->steps > 0)
    return set_err(err, "interp_run needs gradients or a gradient function");
  Interp *in = interp_create(prog, &run->opts, err);
  if (!in) return -1;
  float **own_g = xcalloc((size_t)run->ntensors + 1, sizeof *own_g);
  int rc = 0;
  for (int i = 0; i < run->nhypers && rc == 0; i++)
    rc = interp_set_hyper(in, run->hyper_names[i], run->hyper_values[i], err);
  for (int k = 0; k < run->ntensors && rc == 0; k++) {
    own_g[k] = xcalloc((size_t)(run->rows[k] * run->cols[k]) + 1, sizeof(float));
    const float *g = run->grad_fn || run->steps == 0 ? own_g[k] : run->grads[k];
    if (interp_add_tensor(in, run->p[k], g, run->rows[k], run->cols[k], err) < 0) rc = -1;
  }
  if (rc == 0) rc = run_steps(in, run, own_g, err);
  for (int k = 0; k < run->ntensors; k++) free(own_g[k]);
  free(own_g);
  interp_free(in);
  return rc;
}

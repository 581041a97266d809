/* sched_scratch.c: scratch-buffer reuse over a scheduled program.
 *
 * The scheduler gives every value it keeps in memory across a barrier its
 * own scratch buffer.  This pass, run on the finished program, computes
 * each scratch buffer's live range in each plan: the op indices of its
 * first and last access (a sweep's loads and stores and its domain, a
 * COMBINE's domain, host and matrix op operands).  Ranges are widened
 * over jump regions until nothing changes: a buffer accessed both inside
 * a region that can be skipped (the ops between a forward jump and its
 * target) and outside it is live over the whole region; one accessed in a
 * repeated region (a backward jump's range) is live over all of it.
 *
 * Scratch buffers of equal dtype and dims then share one physical buffer
 * when their ranges are disjoint in the step plan and in the init plan:
 * greedy interval colouring in order of first use, lowest physical buffer
 * first, so the result is deterministic.  One touch is allowed: in a
 * sweep over the parameter, a buffer shaped like p whose last access is a
 * load there may share with one shaped like p whose first access is a
 * store there, since a sweep reads every element it stores at the same
 * element before storing it (elementwise in place, as states are
 * updated).  A broadcast load, a matrix-domain sweep, a host or matrix op
 * or a repeated region never qualifies, so host and matrix ops never get
 * an input aliased to their output.  A scratch buffer read before any
 * write in plan order, a history buffer (count_hyper) and one whose range
 * cannot be computed keep a buffer of their own.
 *
 * Unused scratch buffers are dropped; the rest are renumbered scratch0,
 * scratch1, ... in order of first use.  Costs (bytes_per_element) count
 * loads and stores per op and do not change; scratch_buffers does.
 */
#include <stdio.h>
#include <string.h>

#include "ir_build.h"
#include "sched_scratch.h"

enum { ACC_READ = 1, ACC_WRITE = 2, ACC_PIN = 4 /* first of 3 consecutive buffers */ };

typedef void (*BufFn)(void *user, int op, int32_t *buf, int acc);

static void op_bufs(OptkOp *o, int op, BufFn fn, void *user) {
  switch ((OptkOpKind)o->kind) {
  case OPTK_OP_COMBINE:
    if (o->c >= 0) fn(user, op, &o->c, ACC_READ);
    break;
  case OPTK_OP_HVP:
    fn(user, op, &o->a, ACC_READ);
    fn(user, op, &o->b, ACC_WRITE);
    break;
  case OPTK_OP_HESSIAN:
  case OPTK_OP_GNB:
    fn(user, op, &o->a, ACC_WRITE);
    break;
  case OPTK_OP_LINESEARCH:
    fn(user, op, &o->a, ACC_READ);
    break;
  case OPTK_OP_MATOP:
    if (o->a >= 0) fn(user, op, &o->a, ACC_READ);
    if (o->b >= 0) fn(user, op, &o->b, ACC_READ);
    fn(user, op, &o->c, (o->flags & OPTK_MATOP_ACCUMULATE) ? ACC_READ | ACC_WRITE : ACC_WRITE);
    break;
  case OPTK_OP_HISTORY:
    fn(user, op, &o->a, ACC_PIN);
    if (o->b >= 0) fn(user, op, &o->b, ACC_READ);
    if (o->c >= 0) fn(user, op, &o->c, ACC_READ | ACC_WRITE);
    break;
  default:
    break;
  }
}

/* Calls fn for every buffer operand of plan op `op`.  False for an op
 * kind this pass does not know. */
static bool walk_op(IrStage *st, int op, BufFn fn, void *user) {
  switch ((OptkOpKind)st->op.kind) {
  case OPTK_OP_SCALAR:
  case OPTK_OP_JUMP:
  case OPTK_OP_JUMP_IF_ZERO:
    return true;
  case OPTK_OP_SWEEP:
    if (st->op.a >= 0) fn(user, op, &st->op.a, ACC_READ);
    for (int i = 0; i < st->ninsts; i++) {
      IrInst *in = &st->insts[i];
      if (in->op == IR_LOAD) fn(user, op, &in->index, ACC_READ);
      if (in->op == IR_STORE) fn(user, op, &in->index, ACC_WRITE);
    }
    return true;
  case OPTK_OP_COMBINE:
  case OPTK_OP_HVP:
  case OPTK_OP_HESSIAN:
  case OPTK_OP_GNB:
  case OPTK_OP_LINESEARCH:
  case OPTK_OP_MATOP:
  case OPTK_OP_HISTORY:
    op_bufs(&st->op, op, fn, user);
    return true;
  }
  return false;
}

/* ---- live ranges ---------------------------------------------------------- */

typedef struct Range {
  int lo, hi;          /* op indices, -1 when unused */
  int raw_lo, raw_hi;  /* before widening */
  int acc_lo, acc_hi;  /* ACC_* at lo and at hi */
  bool looped;         /* inside a repeated region */
} Range;

typedef struct Plan {
  IrStage *stages;
  int n;
  Range *r; /* per scratch buffer */
} Plan;

typedef struct Collect {
  Plan *pl;
  int first, nbufs;
  bool bad;
} Collect;

static void note(void *user, int op, int32_t *buf, int acc) {
  Collect *c = user;
  if (acc & ACC_PIN) {
    c->bad |= *buf + 2 >= c->first;
    return;
  }
  if (*buf < c->first || *buf >= c->nbufs) return;
  Range *r = &c->pl->r[*buf - c->first];
  if (r->lo < 0) r->lo = op, r->acc_lo = 0;
  if (r->hi != op) r->hi = op, r->acc_hi = 0;
  if (op == r->lo) r->acc_lo |= acc;
  r->acc_hi |= acc;
}

/* Widens r over region [r0, r1]; true when it grew. */
static bool widen(Range *r, int r0, int r1, bool loop) {
  if (r->lo < 0 || r->lo > r1 || r->hi < r0) return false;
  r->looped |= loop;
  if (!loop && r->lo >= r0 && r->hi <= r1) return false;
  bool grew = r0 < r->lo || r1 > r->hi;
  if (r0 < r->lo) r->lo = r0;
  if (r1 > r->hi) r->hi = r1;
  return grew;
}

static void widen_all(Plan *pl, int ns) {
  for (bool grew = true; grew;) {
    grew = false;
    for (int j = 0; j < pl->n; j++) {
      const OptkOp *o = &pl->stages[j].op;
      if (o->kind != OPTK_OP_JUMP && o->kind != OPTK_OP_JUMP_IF_ZERO) continue;
      int t = o->a;
      bool loop = t <= j;
      int r0 = loop ? (t < 0 ? 0 : t) : j + 1, r1 = loop ? j : (t > pl->n ? pl->n : t) - 1;
      if (r0 > r1) continue;
      for (int s = 0; s < ns; s++) grew |= widen(&pl->r[s], r0, r1, loop);
    }
  }
}

/* Fills pl->r; false when the plan holds an unknown op or pins scratch. */
static bool collect(Plan *pl, int first, int nbufs) {
  int ns = nbufs - first;
  Collect c = {pl, first, nbufs, false};
  for (int s = 0; s < ns; s++) pl->r[s] = (Range){-1, -1, -1, -1, 0, 0, false};
  for (int j = 0; j < pl->n; j++)
    if (!walk_op(&pl->stages[j], j, note, &c)) return false;
  for (int s = 0; s < ns; s++) pl->r[s].raw_lo = pl->r[s].lo, pl->r[s].raw_hi = pl->r[s].hi;
  widen_all(pl, ns);
  return !c.bad;
}

/* ---- conflicts ---------------------------------------------------------------- */

static bool param_shaped(const IrBuffer *b) { return ir_dims_param_shaped(b->dim0, b->dim1); }

static bool param_sweep(const Plan *pl, int k) {
  return pl->stages[k].op.kind == OPTK_OP_SWEEP && pl->stages[k].op.a < 0;
}

/* Whether `old` is last loaded by the sweep that first stores `nw`,
 * elementwise (see the top of the file). */
static bool in_place(const Plan *pl, const IrBuffer *bufs, int first, int old, int nw) {
  const Range *a = &pl->r[old], *b = &pl->r[nw];
  int k = a->hi;
  return k == b->lo && a->hi == a->raw_hi && b->lo == b->raw_lo && !a->looped && !b->looped &&
         a->acc_hi == ACC_READ && b->acc_lo == ACC_WRITE && param_sweep(pl, k) &&
         param_shaped(&bufs[first + old]) && param_shaped(&bufs[first + nw]);
}

static bool overlap(const Plan *pl, const IrBuffer *bufs, int first, int x, int y) {
  const Range *a = &pl->r[x], *b = &pl->r[y];
  if (a->lo < 0 || b->lo < 0 || a->hi < b->lo || b->hi < a->lo) return false;
  return !in_place(pl, bufs, first, x, y) && !in_place(pl, bufs, first, y, x);
}

/* A buffer that never shares: read before written, or a history. */
static bool pinned(const Plan *pl, int nplans, const IrBuffer *b, int s) {
  for (int k = 0; k < nplans; k++)
    if (pl[k].r[s].lo >= 0 && !(pl[k].r[s].acc_lo & ACC_WRITE)) return true;
  return b->count_hyper != 0 || b->role != OPTK_BUF_SCRATCH;
}

static bool same_kind(const IrBuffer *a, const IrBuffer *b) {
  return a->dtype == b->dtype && a->dim0 == b->dim0 && a->dim1 == b->dim1;
}

/* ---- colouring ------------------------------------------------------------------ */

typedef struct Colour {
  const Plan *pl;
  int nplans, first, ns;
  const IrBuffer *bufs;
  int *group; /* per scratch buffer: physical buffer, -1 dropped */
  int ngroups;
} Colour;

static int first_use(const Colour *c, int s) {
  for (int k = 0; k < c->nplans; k++)
    if (c->pl[k].r[s].lo >= 0) return k * (1 << 20) + c->pl[k].r[s].lo;
  return -1;
}

/* Scratch buffers in order of first use (ties: index); unused ones last. */
static void use_order(const Colour *c, int *order) {
  for (int s = 0; s < c->ns; s++) {
    int key = first_use(c, s), at = s;
    while (at > 0) {
      int prev = first_use(c, order[at - 1]);
      if (key < 0 || (prev >= 0 && prev <= key)) break;
      order[at] = order[at - 1];
      at--;
    }
    order[at] = s;
  }
}

static bool conflicts(const Colour *c, int x, int y) {
  for (int k = 0; k < c->nplans; k++)
    if (overlap(&c->pl[k], c->bufs, c->first, x, y)) return true;
  return false;
}

static void assign(Colour *c, int s, const int *order, int done, bool *bad, int *rep) {
  const IrBuffer *b = &c->bufs[c->first + s];
  memset(bad, 0, sizeof(bool) * (size_t)c->ns);
  if (pinned(c->pl, c->nplans, b, s)) {
    rep[c->ngroups] = -1;
    c->group[s] = c->ngroups++;
    return;
  }
  for (int i = 0; i < done; i++) {
    int t = order[i];
    if (c->group[t] >= 0 && conflicts(c, s, t)) bad[c->group[t]] = true;
  }
  int g = 0;
  while (g < c->ngroups &&
         (bad[g] || rep[g] < 0 || !same_kind(b, &c->bufs[c->first + rep[g]])))
    g++;
  if (g == c->ngroups) rep[c->ngroups++] = s;
  c->group[s] = g;
}

static void colour(Colour *c) {
  int *order = xmalloc(sizeof(int) * (size_t)c->ns);
  int *rep = xmalloc(sizeof(int) * (size_t)c->ns);
  bool *bad = xmalloc(sizeof(bool) * (size_t)c->ns);
  use_order(c, order);
  for (int i = 0; i < c->ns; i++) {
    int s = order[i];
    c->group[s] = -1;
    if (first_use(c, s) >= 0) assign(c, s, order, i, bad, rep);
  }
  free(order);
  free(rep);
  free(bad);
}

/* ---- rewriting --------------------------------------------------------------------- */

typedef struct Remap {
  int first, nbufs;
  const int *group;
} Remap;

static void remap(void *user, int op, int32_t *buf, int acc) {
  const Remap *m = user;
  (void)op;
  if (!(acc & ACC_PIN) && *buf >= m->first && *buf < m->nbufs)
    *buf = m->first + m->group[*buf - m->first];
}

/* The new buffer table: physical buffer g is its first member, renamed. */
static void rebuild_table(IrProgram *prog, const Colour *c) {
  IrBuffer *fresh = xmalloc(sizeof(IrBuffer) * (size_t)(c->ngroups + 1));
  bool *set = xcalloc((size_t)c->ngroups + 1, sizeof(bool));
  for (int s = 0; s < c->ns; s++) {
    int g = c->group[s];
    if (g < 0 || set[g]) continue;
    set[g] = true;
    fresh[g] = prog->bufs[c->first + s];
    char name[32];
    snprintf(name, sizeof name, "scratch%d", g);
    fresh[g].name = arena_strdup(&prog->arena, name);
  }
  memcpy(prog->bufs + c->first, fresh, sizeof(IrBuffer) * (size_t)c->ngroups);
  prog->nbufs = c->first + c->ngroups;
  free(fresh);
  free(set);
}

static void rewrite(IrProgram *prog, const Colour *c) {
  Remap m = {c->first, prog->nbufs, c->group};
  for (int j = 0; j < prog->nstages; j++) walk_op(&prog->stages[j], j, remap, &m);
  for (int j = 0; j < prog->ninit_stages; j++) walk_op(&prog->init_stages[j], j, remap, &m);
  rebuild_table(prog, c);
}

static int first_scratch(const IrProgram *prog) {
  int first = prog->nbufs;
  while (first > 2 && prog->bufs[first - 1].role == OPTK_BUF_SCRATCH) first--;
  return first;
}

int sched_reuse_scratch(IrProgram *prog) {
  int first = first_scratch(prog), ns = prog->nbufs - first;
  if (ns <= 0) return 0;
  Plan pl[2] = {{prog->stages, prog->nstages, xmalloc(sizeof(Range) * (size_t)ns)},
                {prog->init_stages, prog->ninit_stages, xmalloc(sizeof(Range) * (size_t)ns)}};
  Colour c = {pl, 2, first, ns, prog->bufs, xmalloc(sizeof(int) * (size_t)ns), 0};
  int removed = 0;
  if (collect(&pl[0], first, prog->nbufs) && collect(&pl[1], first, prog->nbufs)) {
    colour(&c);
    removed = ns - c.ngroups;
    rewrite(prog, &c);
    prog->scratch_buffers = c.ngroups;
  }
  free(pl[0].r);
  free(pl[1].r);
  free(c.group);
  return removed;
}

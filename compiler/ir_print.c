/* ir_print.c: the text form of the scheduled IrProgram
 * (docs/ir_scheduled.md describes it line by line).
 *
 * The form is line-oriented and stable: a header of `key: value` and
 * table lines, then `init:` and `plan:` with one line per plan op and one
 * indented line per instruction.  Values are `%N` (instruction N of the
 * stage); buffers, hypers and scalar states appear by name, slots as
 * `slotN` and reductions as `redN`.  Numbers print with ir_print_number.
 * Out-of-range indices print as `?N`, so the printer is safe on programs
 * the verifier rejects.
 */
#include <math.h>

#include "ir_build.h"

static const char *const DIM_NAMES[] = {"1", "rows", "cols", "n"};
static const char *const DTYPE_NAMES[] = {"f32", "f64", "bf16"};
static const char *const ROLE_NAMES[] = {"param", "grad", "state", "scratch"};
static const char *const RNG_NAMES[] = {"uniform", "normal", "rademacher"};
static const char *const MATOP_NAMES[] = {"gemm", "inv_root", "solve", "eigvecs",
                                          "transpose", "rowmean", "colmean",
                                          "identity", "copy"};

#define NAME_OF(table, i) \
  ((unsigned)(i) < sizeof table / sizeof table[0] ? table[i] : "?")

/* Integers as integers ("10", not "1e+01"); anything else as the shortest
 * text that reads back exactly. */
void ir_print_number(Str *out, double v) {
  if (v == floor(v) && fabs(v) < 1e15) str_printf(out, "%.0f", v);
  else str_put_double(out, v);
}

static void put_named(Str *out, const char *name, int i, int n) {
  if (i >= 0 && i < n && name) str_puts(out, name);
  else str_printf(out, "?%d", i);
}

static void put_buf(Str *out, const IrProgram *p, int i) {
  put_named(out, i >= 0 && i < p->nbufs ? p->bufs[i].name : NULL, i, p->nbufs);
}

static void put_needs(Str *out, uint32_t needs) {
  static const char *const names[] = {"loss", "hvp", "hessian", "linesearch", "2d", "gnb"};
  bool any = false;
  str_puts(out, "needs: ");
  for (int i = 0; i < 6; i++) {
    if (!(needs & (1u << i))) continue;
    str_puts(out, any ? ", " : "");
    str_puts(out, names[i]);
    any = true;
  }
  str_puts(out, any ? "\n" : "none\n");
}

static void put_range(Str *out, const IrHyper *h) {
  bool lo = h->flags & OPTK_HYPER_HAS_LO, hi = h->flags & OPTK_HYPER_HAS_HI;
  if (!lo && !hi) return;
  str_puts(out, " in ");
  str_putc(out, !lo || (h->flags & OPTK_HYPER_LO_OPEN) ? '(' : '[');
  ir_print_number(out, lo ? h->lo : -1.0 / 0.0);
  str_puts(out, ", ");
  ir_print_number(out, hi ? h->hi : 1.0 / 0.0);
  str_putc(out, !hi || (h->flags & OPTK_HYPER_HI_OPEN) ? ')' : ']');
}

static void put_header(Str *out, const IrProgram *p) {
  str_printf(out, "optimizer %s\n", p->name ? p->name : "?");
  if (p->source_sha256[0]) str_printf(out, "source_sha256: %s\n", p->source_sha256);
  put_needs(out, p->needs);
  for (int i = 0; i < p->nhypers; i++) {
    str_printf(out, "hyper %s = ", p->hypers[i].name ? p->hypers[i].name : "?");
    ir_print_number(out, p->hypers[i].def);
    put_range(out, &p->hypers[i]);
    if (p->hypers[i].flags & OPTK_HYPER_SIZES_STATE) str_puts(out, " (whole, sizes state)");
    str_putc(out, '\n');
  }
  for (int i = 0; i < p->nbufs; i++) {
    const IrBuffer *b = &p->bufs[i];
    str_printf(out, "buffer %s: %s %s [%s, %s]", b->name ? b->name : "?",
               NAME_OF(ROLE_NAMES, b->role), NAME_OF(DTYPE_NAMES, b->dtype),
               NAME_OF(DIM_NAMES, b->dim0), NAME_OF(DIM_NAMES, b->dim1));
    if (b->count_hyper) { /* a history: that many copies */
      str_puts(out, " x ");
      put_named(out, (int)b->count_hyper - 1 < p->nhypers ? p->hypers[b->count_hyper - 1].name : NULL,
                 (int)b->count_hyper - 1, p->nhypers);
    }
    str_putc(out, '\n');
  }
  for (int i = 0; i < p->nsstates; i++) {
    const IrScalarState *s = &p->sstates[i];
    str_printf(out, "sstate %s: %s = ", s->name ? s->name : "?",
               NAME_OF(DTYPE_NAMES, s->dtype));
    ir_print_number(out, s->init);
    str_putc(out, '\n');
  }
  str_printf(out, "reductions: %d\nslots: %d\n", p->nred, p->nslot);
  str_printf(out, "costs: sweeps %d, bytes_per_element %d, state_bytes_per_element %d, "
                  "scratch_buffers %d\n",
             p->sweeps, p->bytes_per_element, p->state_bytes_per_element,
             p->scratch_buffers);
}

/* The operand part of a leaf or effect, after its opcode name. */
static void put_index(Str *out, const IrProgram *p, const IrInst *in) {
  switch (in->op) {
  case IR_CONST: str_putc(out, ' '); ir_print_number(out, in->imm); break;
  case IR_HYPER:
    str_putc(out, ' ');
    put_named(out, in->index >= 0 && in->index < p->nhypers ? p->hypers[in->index].name
                                                            : NULL,
              in->index, p->nhypers);
    break;
  case IR_SSTATE: case IR_SSTATE_SET:
    str_putc(out, ' ');
    put_named(out, in->index >= 0 && in->index < p->nsstates ? p->sstates[in->index].name
                                                             : NULL,
              in->index, p->nsstates);
    break;
  case IR_LOAD: case IR_STORE: str_putc(out, ' '); put_buf(out, p, in->index); break;
  case IR_RED: str_printf(out, " red%d", in->index); break;
  case IR_REDUCE:
    str_printf(out, " red%d %s", in->index, in->aux == OPTK_RED_MAX ? "max" : "sum");
    break;
  case IR_SLOT: case IR_SLOT_SET: str_printf(out, " slot%d", in->index); break;
  case IR_RNG:
    str_printf(out, " %s site%d", NAME_OF(RNG_NAMES, in->aux), in->index);
    break;
  default: break;
  }
}

static bool is_effect(IrOp op) {
  return op == IR_STORE || op == IR_REDUCE || op == IR_SLOT_SET || op == IR_SSTATE_SET;
}

static void put_inst(Str *out, const IrProgram *p, const IrInst *in, int i) {
  str_puts(out, "    ");
  if (!is_effect(in->op)) str_printf(out, "%%%d = ", i);
  str_puts(out, ir_op_name(in->op));
  put_index(out, p, in);
  int nargs = ir_op_nargs(in->op);
  for (int a = 0; a < nargs; a++)
    str_printf(out, "%s%%%d", a == 0 && !is_effect(in->op) ? " " : ", ", in->args[a]);
  if (in->op == IR_POWI) str_printf(out, ", %d", in->index);
  str_putc(out, '\n');
}

static void put_matop(Str *out, const IrProgram *p, const OptkOp *op) {
  str_printf(out, "matop %s", NAME_OF(MATOP_NAMES, op->fn));
  if (op->fn != OPTK_MAT_IDENTITY) { str_puts(out, " a="); put_buf(out, p, op->a); }
  if (op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE) {
    str_puts(out, " b=");
    put_buf(out, p, op->b);
  }
  str_puts(out, " c=");
  put_buf(out, p, op->c);
  if (op->fn == OPTK_MAT_INV_ROOT) str_printf(out, " k=slot%d eps=slot%d", op->d, op->d + 1);
  if (op->fn == OPTK_MAT_IDENTITY && op->d >= 0) str_printf(out, " scale=slot%d", op->d);
  bool accum = (op->flags & OPTK_MATOP_ACCUMULATE) != 0;
  if ((op->fn == OPTK_MAT_GEMM || accum) && op->d >= 0) str_printf(out, " alpha=slot%d", op->d);
  if (accum) str_printf(out, " beta=slot%d", op->d + 1);
  if (op->flags & OPTK_MATOP_TRANS_A) str_puts(out, " trans_a");
  if (op->flags & OPTK_MATOP_TRANS_B) str_puts(out, " trans_b");
}

static void put_op(Str *out, const IrProgram *p, const IrStage *st) {
  const OptkOp *op = &st->op;
  switch (op->kind) {
  case OPTK_OP_SCALAR: str_printf(out, "scalar %d:", op->fn); break;
  case OPTK_OP_SWEEP:
    str_printf(out, "sweep %d (%s", op->fn, NAME_OF(DTYPE_NAMES, st->compute));
    if (op->a >= 0) { str_puts(out, " over "); put_buf(out, p, op->a); } /* a matrix domain */
    str_puts(out, "):");
    break;
  case OPTK_OP_COMBINE:
    str_printf(out, "combine red%d..%d %s scope=%s", op->a, op->a + op->b - 1,
               op->flags == OPTK_RED_MAX ? "max" : "sum",
               op->scope == OPTK_SCOPE_GROUP ? "group" : "tensor");
    if (op->c >= 0) { str_puts(out, " over "); put_buf(out, p, op->c); }
    break;
  case OPTK_OP_JUMP: str_printf(out, "jump -> %d", op->a); break;
  case OPTK_OP_JUMP_IF_ZERO: str_printf(out, "jump_if_zero slot%d -> %d", op->b, op->a); break;
  case OPTK_OP_HVP:
    str_puts(out, "hvp v=");
    put_buf(out, p, op->a);
    str_puts(out, " out=");
    put_buf(out, p, op->b);
    break;
  case OPTK_OP_HESSIAN: str_puts(out, "hessian out="); put_buf(out, p, op->a); break;
  case OPTK_OP_GNB: str_puts(out, "gnb out="); put_buf(out, p, op->a); break;
  case OPTK_OP_LINESEARCH:
    str_puts(out, "linesearch d=");
    put_buf(out, p, op->a);
    str_printf(out, " %s params=slot%d..%d", op->b == OPTK_LS_WOLFE ? "wolfe" : "armijo",
               op->c, op->c + 3);
    if (op->d >= 0) str_printf(out, " step=slot%d", op->d);
    break;
  case OPTK_OP_MATOP: put_matop(out, p, op); break;
  case OPTK_OP_HISTORY:
    str_puts(out, op->fn == OPTK_HIST_PUSH ? "history_push h=" : "lbfgs_direction h=");
    put_buf(out, p, op->a);
    str_puts(out, op->fn == OPTK_HIST_PUSH ? " s=" : " v=");
    put_buf(out, p, op->b);
    str_puts(out, op->fn == OPTK_HIST_PUSH ? " y=" : " out=");
    put_buf(out, p, op->c);
    str_puts(out, " len=");
    put_named(out, op->d >= 0 && op->d < p->nsstates ? p->sstates[op->d].name : NULL, op->d,
              p->nsstates);
    break;
  default: str_printf(out, "op? kind=%d", op->kind); break;
  }
  str_putc(out, '\n');
}

static void put_plan(Str *out, const IrProgram *p, const char *title,
                     const IrStage *stages, int n) {
  str_printf(out, "%s:\n", title);
  for (int s = 0; s < n; s++) {
    str_printf(out, "  %d: ", s);
    put_op(out, p, &stages[s]);
    if (stages[s].op.kind > OPTK_OP_SWEEP || !stages[s].insts) continue;
    for (int i = 0; i < stages[s].ninsts; i++)
      put_inst(out, p, &stages[s].insts[i], i);
  }
}

void ir_print_program(Str *out, const IrProgram *prog) {
  put_header(out, prog);
  if (prog->ninit_stages > 0)
    put_plan(out, prog, "init", prog->init_stages, prog->ninit_stages);
  put_plan(out, prog, "plan", prog->stages, prog->nstages);
}

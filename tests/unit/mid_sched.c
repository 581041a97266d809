/* mid_sched.c: the sweep scheduler, from source text through the whole
 * pipeline (verified after every pass): the figures of issue 3 (Adam and
 * AdamW 1 sweep and 28 bytes, Lion 1 and 20, LAMB 2 sweeps without scratch,
 * global-norm clipping one more sweep), shared sweeps for independent
 * reductions, delayed stores, recomputation against scratch buffers,
 * `every` jumps around hvp, linesearch, scalar states and init plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mid_build_util.h"

#define HYPERS                                                             \
  "hyper lr = 1e-3\nhyper beta1 = 0.9 in [0, 1)\nhyper beta2 = 0.999 in [0, 1)\n" \
  "hyper eps = 1e-8\nhyper wd = 1e-2\nhyper max_norm = 1\n"
#define CLIP_LINE "  gc = g * min(1, max_norm / (group.norm(g) + 1e-6))\n"
#define CLIP_DEF "def clipped(x, c) = x * min(1, c / (group.norm(x) + 1e-6))\n"

#define ADAM_BODY(G, WD)                                    \
  "  m = beta1 * m + (1 - beta1) * " G "\n"                 \
  "  v = beta2 * v + (1 - beta2) * " G "^2\n"               \
  "  mhat = m / (1 - beta1^t)\n"                            \
  "  vhat = v / (1 - beta2^t)\n"                            \
  "  p = p - lr * (mhat / (sqrt(vhat) + eps)" WD ")\n"
#define LION_BODY(G)                                        \
  "  u = sign(beta1 * m + (1 - beta1) * " G ")\n"           \
  "  p = p - lr * (u + wd * p)\n"                           \
  "  m = beta2 * m + (1 - beta2) * " G "\n"
#define LAMB_BODY(G)                                        \
  "  m = beta1 * m + (1 - beta1) * " G "\n"                 \
  "  v = beta2 * v + (1 - beta2) * " G "^2\n"               \
  "  u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + wd * p\n" \
  "  pn = norm(p)\n  un = norm(u)\n"                        \
  "  p = p - lr * where(pn > 0 && un > 0, pn / un, 1) * u\n"

#define RULE(NAME, STATES, BODY) "optimizer " NAME "\n" HYPERS STATES "update {\n" BODY "}\n"
#define MV "state m = 0\nstate v = 0\n"

static const char ADAM[] = RULE("adam", MV, ADAM_BODY("g", ""));
static const char ADAMW[] = RULE("adamw", MV, ADAM_BODY("g", " + wd * p"));
static const char LION[] = RULE("lion", "state m = 0\n", LION_BODY("g"));
static const char LAMB[] = RULE("lamb", MV, LAMB_BODY("g"));
static const char ADAM_CLIP[] = RULE("adam_clip", MV, CLIP_LINE ADAM_BODY("gc", ""));
static const char ADAMW_CLIP_DEF[] =
    "optimizer adamw_clip\n" HYPERS MV CLIP_DEF
    "update {\n  gc = clipped(g, max_norm)\n" ADAM_BODY("gc", " + wd * p") "}\n";
static const char LION_CLIP[] = RULE("lion_clip", "state m = 0\n", CLIP_LINE LION_BODY("gc"));
static const char LAMB_CLIP[] = RULE("lamb_clip", MV, CLIP_LINE LAMB_BODY("gc"));

typedef struct Figures {
  int sweeps, bytes, scratch;
} Figures;

static Figures figures_of(const char *src) {
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  int errors = mb_program(&b, &prog, src);
  if (errors) fprintf(stderr, "%s", b.errs.data ? b.errs.data : "");
  assert_int_equal(errors, 0);
  Figures f = {prog.sweeps, prog.bytes_per_element, prog.scratch_buffers};
  ir_program_free(&prog);
  mb_free(&b);
  return f;
}

static void test_required_figures(void **state) {
  (void)state;
  Figures adam = figures_of(ADAM), adamw = figures_of(ADAMW), lion = figures_of(LION);
  Figures lamb = figures_of(LAMB);
  assert_int_equal(adam.sweeps, 1);
  assert_int_equal(adam.bytes, 28);
  assert_int_equal(adamw.sweeps, 1);
  assert_int_equal(adamw.bytes, 28);
  assert_int_equal(lion.sweeps, 1);
  assert_int_equal(lion.bytes, 20);
  assert_int_equal(lamb.sweeps, 2);
  assert_int_equal(lamb.scratch, 0);
  assert_int_equal(adam.scratch + adamw.scratch + lion.scratch, 0);
}

static void test_clipping_adds_one_sweep(void **state) {
  (void)state;
  assert_int_equal(figures_of(ADAM_CLIP).sweeps, figures_of(ADAM).sweeps + 1);
  assert_int_equal(figures_of(ADAMW_CLIP_DEF).sweeps, figures_of(ADAMW).sweeps + 1);
  assert_int_equal(figures_of(LION_CLIP).sweeps, figures_of(LION).sweeps + 1);
  assert_int_equal(figures_of(LAMB_CLIP).sweeps, figures_of(LAMB).sweeps + 1);
  /* the clipping sweep only reads g: 4 more bytes per element */
  assert_int_equal(figures_of(ADAM_CLIP).bytes, 28 + 4);
  assert_int_equal(figures_of(ADAM_CLIP).scratch, 0);
}

static void test_adam_plan(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, ADAM), 0);
  assert_int_equal(p.nstages, 2);
  assert_int_equal(p.stages[0].op.kind, OPTK_OP_SCALAR);
  assert_int_equal(p.stages[1].op.kind, OPTK_OP_SWEEP);
  const IrStage *sw = &p.stages[1];
  for (int buf = 0; buf < 4; buf++) assert_int_equal(mb_stage_count(sw, IR_LOAD, buf), 1);
  assert_int_equal(mb_stage_count(sw, IR_STORE, -1), 3);
  assert_int_equal(mb_stage_count(sw, IR_STORE, mb_buf(&p, "g")), 0);
  /* bias corrections are per-step scalars: no pow or step in the sweep */
  assert_int_equal(mb_stage_count(sw, IR_POW, -1), 0);
  assert_int_equal(mb_stage_count(&p.stages[0], IR_POW, -1), 2);
  /* g^2 became g * g, the divisions by 1 - beta^t products */
  assert_int_equal(mb_stage_count(sw, IR_DIV, -1), 1);
  assert_int_equal(p.state_bytes_per_element, 8);
  assert_int_equal(p.nbufs, 4);
  assert_string_equal(p.bufs[2].name, "m");
  assert_int_equal(p.bufs[3].role, OPTK_BUF_STATE);
  assert_int_equal(p.nhypers, 6);
  assert_true(p.hypers[1].flags & OPTK_HYPER_HI_OPEN);
  /* init: none, m and v start zeroed */
  assert_int_equal(p.ninit_stages, 0);
  ir_program_free(&p);
  mb_free(&b);
}

/* LAMB: sweep 0 updates the moments and both norms' partials; sweep 1
 * recomputes the update from the stored moments and p, without g. */
static void test_lamb_plan(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, LAMB), 0);
  const IrStage *s0 = mb_sweep(&p, 0), *s1 = mb_sweep(&p, 1);
  int m = mb_buf(&p, "m"), v = mb_buf(&p, "v");
  assert_non_null(s1);
  assert_int_equal(mb_stage_count(s0, IR_REDUCE, -1), 2);
  assert_int_equal(mb_stage_count(s0, IR_STORE, m), 1);
  assert_int_equal(mb_stage_count(s0, IR_STORE, v), 1);
  assert_int_equal(mb_stage_count(s0, IR_STORE, 0), 0);
  assert_int_equal(mb_stage_count(s1, IR_LOAD, m), 1);
  assert_int_equal(mb_stage_count(s1, IR_LOAD, v), 1);
  assert_int_equal(mb_stage_count(s1, IR_LOAD, 1), 0); /* g not needed again */
  assert_int_equal(mb_stage_count(s1, IR_STORE, 0), 1);
  assert_int_equal(mb_ops(&p, OPTK_OP_COMBINE), 1);
  for (int i = 0; i < p.nstages; i++)
    if (p.stages[i].op.kind == OPTK_OP_COMBINE) {
      assert_int_equal(p.stages[i].op.b, 2);
      assert_int_equal(p.stages[i].op.scope, OPTK_SCOPE_TENSOR);
    }
  assert_int_equal(p.bytes_per_element, 24 + 16);
  ir_program_free(&p);
  mb_free(&b);
}

static void test_group_reduction_combine(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, ADAM_CLIP), 0);
  int group = 0;
  for (int i = 0; i < p.nstages; i++)
    if (p.stages[i].op.kind == OPTK_OP_COMBINE) {
      group += p.stages[i].op.scope == OPTK_SCOPE_GROUP;
      assert_int_equal(p.stages[i].op.flags, OPTK_RED_SUM);
    }
  assert_int_equal(group, 1);
  assert_int_equal(mb_stage_count(mb_sweep(&p, 0), IR_LOAD, -1), 1); /* g only */
  ir_program_free(&p);
  mb_free(&b);
}

/* `old` is m before its update; sweep 1 needs it, so m's store waits. */
static void test_store_delayed_while_old_value_needed(void **state) {
  (void)state;
  const char *delayed = "optimizer d\nstate m = 0\nupdate {\n  old = m\n"
                        "  m = 0.9 * m + g\n  s = norm(old)\n  p = p - s * (m + old)\n}\n";
  const char *early = "optimizer e\nstate m = 0\nupdate {\n"
                      "  m = 0.9 * m + g\n  s = norm(m)\n  p = p - s * m\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram p, q;
  assert_int_equal(mb_program(&b, &p, delayed), 0);
  assert_int_equal(mb_program(&b, &q, early), 0);
  int m = mb_buf(&p, "m");
  assert_int_equal(p.sweeps, 2);
  assert_int_equal(mb_stage_count(mb_sweep(&p, 0), IR_STORE, m), 0);
  assert_int_equal(mb_stage_count(mb_sweep(&p, 1), IR_STORE, m), 1);
  assert_int_equal(mb_stage_count(mb_sweep(&p, 1), IR_LOAD, 1), 1); /* recomputes from g */
  assert_int_equal(p.scratch_buffers, 0);
  /* without the old value, m is stored at once and loaded back */
  assert_int_equal(mb_stage_count(mb_sweep(&q, 0), IR_STORE, m), 1);
  assert_int_equal(mb_stage_count(mb_sweep(&q, 1), IR_LOAD, 1), 0);
  assert_int_equal(mb_stage_count(mb_sweep(&q, 1), IR_LOAD, m), 1);
  assert_int_equal(q.scratch_buffers, 0);
  ir_program_free(&p);
  ir_program_free(&q);
  mb_free(&b);
}

static const char SOPHIA[] =
    "optimizer sophia_like\n"
    "def ema(x, y, b) = b * x + (1 - b) * y\n"
    "hyper lr = 1e-4\nhyper k = 10 in [1, 1000]\n"
    "state m = 0\nstate h : bf16 = 0\nstate seen : scalar = 0\n"
    "update {\n"
    "  m = ema(m, g, 0.965)\n"
    "  every k {\n    z = rademacher()\n    h = ema(h, z * hvp(z), 0.99)\n  }\n"
    "  if t > 1 {\n    p -= lr * clip(m / max(0.04 * h, 1e-15), -1, 1)\n"
    "  } else {\n    p -= lr * sign(g)\n  }\n"
    "  seen += 1\n}\n";

/* every k: a SCALAR stage tests (t - 1) mod k, JUMP_IF_ZERO skips the
 * sweep writing z and the hvp; z is recomputed (counter-based RNG) in the
 * final sweep instead of being loaded back. */
static void test_every_hvp_plan(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, SOPHIA), 0);
  assert_true(p.needs & OPTK_NEED_HVP);
  int jz = -1, hvp = -1;
  for (int i = 0; i < p.nstages; i++) {
    if (p.stages[i].op.kind == OPTK_OP_JUMP_IF_ZERO) jz = i;
    if (p.stages[i].op.kind == OPTK_OP_HVP) hvp = i;
  }
  assert_true(jz > 0 && hvp > jz);
  assert_int_equal(p.stages[jz].op.a, hvp + 1);
  assert_int_equal(p.stages[jz - 1].op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(&p.stages[jz - 1], IR_MOD, -1), 1);
  assert_int_equal(p.stages[hvp - 1].op.kind, OPTK_OP_SWEEP);
  assert_int_equal(mb_stage_count(&p.stages[hvp - 1], IR_RNG, -1), 1);
  assert_int_equal(mb_stage_count(&p.stages[hvp - 1], IR_STORE, p.stages[hvp].op.a), 1);
  assert_int_equal(p.bufs[p.stages[hvp].op.b].role, OPTK_BUF_SCRATCH);
  assert_int_equal(p.scratch_buffers, 2);
  assert_int_equal(p.sweeps, 1); /* outside the every block */
  const IrStage *last_sweep = mb_sweep(&p, 1);
  assert_int_equal(mb_stage_count(last_sweep, IR_RNG, -1), 1);
  assert_int_equal(mb_stage_count(last_sweep, IR_LOAD, p.stages[hvp].op.a), 0);
  assert_int_equal(mb_stage_count(last_sweep, IR_SELECT, -1), 2);
  /* scalar states are set by the plan's last stage */
  const IrStage *end = &p.stages[p.nstages - 1];
  assert_int_equal(end->op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(end, IR_SSTATE_SET, 0), 1);
  assert_int_equal(p.nsstates, 1);
  assert_true(p.sstates[0].init == 0);
  /* h is bf16: 2 bytes read, 2 written */
  assert_int_equal(p.state_bytes_per_element, 6);
  ir_program_free(&p);
  mb_free(&b);
}

/* g before a linesearch is gone after it: copied to scratch in the sweep
 * that also writes the direction. */
static void test_linesearch_scratch(void **state) {
  (void)state;
  const char *src = "optimizer ls\nstate m = 0\nupdate {\n  gold = g\n"
                    "  s = linesearch(-g, wolfe, 0.5)\n  m = gold + g * s\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, src), 0);
  int ls = -1;
  for (int i = 0; i < p.nstages; i++)
    if (p.stages[i].op.kind == OPTK_OP_LINESEARCH) ls = i;
  assert_true(ls > 1);
  const OptkOp *op = &p.stages[ls].op;
  assert_int_equal(op->b, OPTK_LS_WOLFE);
  assert_int_equal(p.bufs[op->a].role, OPTK_BUF_SCRATCH);
  assert_true(op->d >= 0);
  assert_int_equal(p.stages[ls - 1].op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(&p.stages[ls - 1], IR_SLOT_SET, -1), 4);
  assert_int_equal(p.scratch_buffers, 2);
  const IrStage *s0 = mb_sweep(&p, 0), *s1 = mb_sweep(&p, 1);
  assert_int_equal(mb_stage_count(s0, IR_STORE, -1), 2);
  assert_int_equal(mb_stage_count(s1, IR_LOAD, 1), 1);     /* the new g */
  assert_int_equal(mb_stage_count(s1, IR_SLOT, op->d), 1); /* the accepted step */
  ir_program_free(&p);
  mb_free(&b);
}

/* f before a linesearch is kept in a slot filled before the call; after
 * it, `loss` reads the new f. */
static void test_loss_before_linesearch(void **state) {
  (void)state;
  const char *src = "optimizer lf\nupdate {\n  f0 = f\n  s = linesearch(-g, armijo)\n"
                    "  p = p - 0.001 * s * (f0 - f) * g\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, src), 0);
  int ls = -1;
  for (int i = 0; i < p.nstages; i++)
    if (p.stages[i].op.kind == OPTK_OP_LINESEARCH) ls = i;
  assert_true(ls > 0);
  const IrStage *before = &p.stages[ls - 1], *after = &p.stages[ls + 1];
  assert_int_equal(before->op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(before, IR_LOSS, -1), 1);
  assert_int_equal(mb_stage_count(before, IR_SLOT_SET, -1), 5); /* 4 parameters and f0 */
  assert_int_equal(after->op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(after, IR_LOSS, -1), 1);  /* the new f */
  assert_int_equal(mb_stage_count(after, IR_SLOT, -1), 2);  /* f0 and the step */
  ir_program_free(&p);
  mb_free(&b);
}

static void test_init_plan_and_scalar_state_inits(void **state) {
  (void)state;
  const char *src = "optimizer i\nhyper a = 3\nstate m = p\nstate w : f64 = 1e-6\n"
                    "state c : scalar = 2 * 3\nupdate {\n  m = m + g\n  w = w + g\n"
                    "  c = c + 1\n  p = p - a * (m + w)\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, src), 0);
  assert_int_equal(p.nsstates, 1);
  assert_true(p.sstates[0].init == 6);
  assert_int_equal(p.ninit_stages, 1);
  const IrStage *init = &p.init_stages[0];
  assert_int_equal(mb_stage_count(init, IR_LOAD, 0), 1);
  assert_int_equal(mb_stage_count(init, IR_STORE, -1), 2);
  /* an f64 state makes the sweeps compute in f64 */
  assert_int_equal(mb_sweep(&p, 0)->compute, OPTK_F64);
  assert_int_equal(p.bufs[mb_buf(&p, "w")].dtype, OPTK_F64);
  assert_int_equal(p.bytes_per_element, 4 + 4 + 4 + 8 + 4 + 4 + 8);
  ir_program_free(&p);
  mb_free(&b);
}

static void test_uniform_if_jumps_and_per_tensor_error(void **state) {
  (void)state;
  const char *ok = "optimizer u\nhyper lr = 1\nupdate {\n"
                   "  if t > 5 {\n    p = p - lr * g / group.norm(g)\n  }\n}\n";
  const char *bad = "optimizer b\nhyper lr = 1\nupdate {\n"
                    "  if norm(p) > 1 {\n    p = p - lr * g / group.norm(g)\n  }\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram p, q;
  assert_int_equal(mb_program(&b, &p, ok), 0);
  assert_int_equal(mb_ops(&p, OPTK_OP_JUMP_IF_ZERO), 1);
  assert_int_equal(p.sweeps, 1); /* the norm's sweep is inside the block */
  assert_int_equal(mb_program(&b, &q, bad), 1);
  assert_non_null(strstr(b.errs.data, "t.opt:4:6: error: this condition can differ between "
                                      "the tensors of a group"));
  ir_program_free(&p);
  ir_program_free(&q);
  mb_free(&b);
}

/* SCALAR stages computing from entry values alone move into the plan's
 * first stage: the GEMM's alpha and beta, `every`'s test, inv_root's k
 * and eps.  The stage reading norm(g)'s reduction stays, and the jump
 * over the block lands on the GEMM after it. */
static void test_entry_scalars_hoisted(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  assert_int_equal(mb_program(&b, &p, "optimizer s\nhyper lr = 1e-3\nhyper eps = 1e-6\n"
                                      "state L : matrix(rows, rows) f64 = 0\n"
                                      "state Li : matrix(rows, rows) = 0\nupdate {\n"
                                      "  L = L + g @ g.T\n  every 10 {\n"
                                      "    Li = inv_root(L + eps * I, 4)\n  }\n"
                                      "  p = p - lr * (Li @ g) / (norm(g) + 1)\n}\n"),
                   0);
  int scalars = 0, jz = -1;
  for (int i = 0; i < p.nstages; i++) {
    const IrStage *st = &p.stages[i];
    if (st->op.kind == OPTK_OP_JUMP_IF_ZERO) jz = i;
    if (st->op.kind != OPTK_OP_SCALAR) continue;
    assert_int_equal(st->op.fn, scalars++); /* numbered in order, no gaps */
    if (i > 0) assert_true(mb_stage_count(st, IR_RED, -1) > 0);
  }
  assert_int_equal(scalars, 2);
  assert_int_equal(p.stages[0].op.kind, OPTK_OP_SCALAR);
  assert_int_equal(mb_stage_count(&p.stages[0], IR_MOD, -1), 1);
  assert_int_equal(mb_stage_count(&p.stages[0], IR_SLOT_SET, -1), 6); /* 1 + 1 + 2 + 2 */
  assert_true(jz > 0);
  const OptkOp *after = &p.stages[p.stages[jz].op.a].op;
  assert_int_equal(after->kind, OPTK_OP_MATOP);
  assert_int_equal(after->fn, OPTK_MAT_GEMM);
  assert_int_equal(after->a, mb_buf(&p, "Li"));
  ir_program_free(&p);
  mb_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_required_figures),
      cmocka_unit_test(test_clipping_adds_one_sweep),
      cmocka_unit_test(test_adam_plan),
      cmocka_unit_test(test_lamb_plan),
      cmocka_unit_test(test_group_reduction_combine),
      cmocka_unit_test(test_store_delayed_while_old_value_needed),
      cmocka_unit_test(test_every_hvp_plan),
      cmocka_unit_test(test_linesearch_scratch),
      cmocka_unit_test(test_loss_before_linesearch),
      cmocka_unit_test(test_init_plan_and_scalar_state_inits),
      cmocka_unit_test(test_uniform_if_jumps_and_per_tensor_error),
      cmocka_unit_test(test_entry_scalars_hoisted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

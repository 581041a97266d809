/* back_jit_split.c: parallel JIT code generation (compiler/codegen_split.c,
 * compiler/jit.c).
 *
 * - The plan: every SCALAR and SWEEP function is defined by exactly one
 *   part, the parts in use are numbered densely, a program with one small
 *   sweep or one thread stays in one part, Adam's step sweep gets a part
 *   of its own, FAdam's two pow sweeps one each, the matrix rules split
 *   into as many parts as allowed, and the plan is deterministic.
 * - Layers: at -O1 and above every optnone function is in the plan's
 *   plain part (one module compiled at CodeGenOptLevel::None), at -O0 no
 *   layers.
 * - The code: stdlib rules compiled with 1, 2 and 8 code generation
 *   threads run STEPS steps through liboptrt on the same 2-D tensors and
 *   must leave bit-identical parameters (each function's machine code is
 *   the same whichever part compiles it), and the same as the rule's AOT
 *   library, one module compiled by one target machine at -O2.
 * - Twins: muon's unrolled Newton-Schulz sweeps are emitted once.
 * - Concurrency: several threads compile split rules at once (each
 *   compile starting part threads of its own) and free them in any order.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "back_progs.h"
#include "codegen.h"
#include "optc.h"
#include "optrt.h"
#include "stdlib_prog.h"

enum { STEPS = 3, NT = 2, WORKERS = 3, PER_WORKER = 4 };
static const int64_t ROWS[NT] = {37, 130}, COLS[NT] = {53, 9};

/* Checks the invariants of a plan; returns its number of parts. */
static int check_plan(const IrProgram *prog, int max_parts, int opt_level) {
  CgSplit s;
  cg_split_plan(prog, max_parts, opt_level, &s);
  assert_true(s.nparts >= 1 && s.nparts <= (max_parts < 1 ? 1 : max_parts));
  int per_part[CG_MAX_PARTS] = {0};
  for (int sweep = 0; sweep < 2; sweep++) {
    int n = sweep ? s.nsweep : s.nscalar;
    for (int fn = 0; fn < n; fn++) {
      int owners = 0;
      for (int p = 0; p < s.nparts; p++)
        if (cg_split_defines(&s, p, sweep, fn)) owners++, per_part[p]++;
      const int *of = s.twins.of;
      bool twin = sweep && of[fn] != fn; /* runs its original's code */
      /* a renamed twin has a function of its own, an exact one none */
      assert_int_equal(owners, twin && !cg_twin_renamed(&s.twins, fn) ? 0 : 1);
      if (twin) assert_true(of[fn] < fn && of[of[fn]] == of[fn]);
    }
  }
  for (int p = 1; p < s.nparts; p++) assert_true(per_part[p] > 0); /* dense */
  assert_true(s.plain_part >= 0 && s.plain_part < s.nparts);
  for (int i = 0; opt_level > 0 && i < prog->nstages + prog->ninit_stages; i++) {
    bool init = i >= prog->nstages;
    const IrStage *st = init ? &prog->init_stages[i - prog->nstages] : &prog->stages[i];
    int fn = st->op.fn;
    if (st->op.kind == OPTK_OP_SCALAR) assert_int_equal(s.scalar_part[fn], s.plain_part);
    bool renamed = !init && st->op.kind == OPTK_OP_SWEEP && cg_twin_renamed(&s.twins, fn);
    if (st->op.kind == OPTK_OP_SWEEP && (init || renamed || cg_sweep_small(prog, st)))
      assert_int_equal(s.sweep_part[fn], s.plain_part);
  }
  CgSplit again;
  cg_split_plan(prog, max_parts, opt_level, &again);
  assert_int_equal(again.nparts, s.nparts);
  if (s.nsweep) assert_memory_equal(again.sweep_part, s.sweep_part, (size_t)s.nsweep);
  if (s.nscalar) assert_memory_equal(again.scalar_part, s.scalar_part, (size_t)s.nscalar);
  cg_split_free(&again);
  int n = s.nparts;
  cg_split_free(&s);
  return n;
}

/* Twins on the same buffers in *exact, renamed twins in *renamed. */
static void count_twins(const IrProgram *prog, int *exact, int *renamed) {
  int nsweep = 0;
  for (int i = 0; i < prog->nstages; i++)
    if (prog->stages[i].op.kind == OPTK_OP_SWEEP && prog->stages[i].op.fn + 1 > nsweep)
      nsweep = prog->stages[i].op.fn + 1;
  CgTwins t;
  cg_sweep_twins(prog, nsweep, &t);
  *exact = *renamed = 0;
  for (int f = 0; f < nsweep; f++) {
    if (t.of[f] == f) continue;
    if (cg_twin_renamed(&t, f)) ++*renamed;
    else ++*exact;
  }
  cg_twins_free(&t);
}

/* Newton-CG's CG iterations unroll into sweeps that compute the same on
 * each iteration's own buffers, slots and reductions: 53 renamed twins.
 * Muon's Newton-Schulz iterations are GEMMs alone (`-4.775 A + 2.0315 A
 * A` and `3.4445 X + B X` add to copies: no sweeps left to repeat).
 * Shampoo's `L + eps I` and `R + eps I` are renamed twins; SOAP's factor
 * updates are GEMMs, Adafactor's rowmean and colmean adding into R and C;
 * nothing else in these rules repeats. */
static void test_twins(void **state) {
  const char *rules[] = {"newton_cg", "muon", "adam", "lamb", "shampoo", "soap", "adafactor"};
  const int twins[] = {0, 0, 0, 0, 0, 0, 0}, renamed[] = {53, 0, 0, 0, 1, 0, 0};
  for (int r = 0; r < 7; r++) {
    IrProgram prog;
    test_stdlib_program(&prog, rules[r]);
    int e, n;
    count_twins(&prog, &e, &n);
    if (e != twins[r] || n != renamed[r])
      fail_msg("%s: %d twins and %d renamed, expected %d and %d", rules[r], e, n, twins[r],
               renamed[r]);
    ir_program_free(&prog);
  }
}

/* Sweeps over a vector domain (Adafactor's mean(R) over R, rows x 1, and
 * its factors rsqrt(R / mean(R)) and rsqrt(C), pass bcast) are compiled
 * like init sweeps; rows x rows domains (Shampoo's L + eps I) and the
 * parameter's are not. */
static void test_small_domains(void **state) {
  (void)state;
  const char *rules[] = {"adafactor", "shampoo", "adam"};
  const int want[] = {3, 0, 0};
  for (int r = 0; r < 3; r++) {
    IrProgram prog;
    test_stdlib_program(&prog, rules[r]);
    int n = 0;
    for (int i = 0; i < prog.nstages; i++) n += cg_sweep_small(&prog, &prog.stages[i]);
    if (n != want[r]) fail_msg("%s: %d small sweeps, expected %d", rules[r], n, want[r]);
    ir_program_free(&prog);
  }
}

static void test_plan(void **state) {
  IrProgram prog;
  back_prog_axpy(&prog); /* one small sweep: not worth a thread */
  assert_int_equal(check_plan(&prog, 2, 2), 1);
  assert_int_equal(check_plan(&prog, 8, 2), 1);
  ir_program_free(&prog);

  test_stdlib_program(&prog, "adam"); /* the step's sweep alone, the rest beside it */
  assert_int_equal(check_plan(&prog, 1, 2), 1);
  assert_int_equal(check_plan(&prog, 0, 2), 1);
  assert_int_equal(check_plan(&prog, 2, 2), 2);
  CgSplit s;
  cg_split_plan(&prog, 2, 2, &s);
  for (int i = 0; i < prog.nstages; i++) {
    const IrStage *st = &prog.stages[i];
    if (st->op.kind == OPTK_OP_SWEEP) assert_int_equal(s.sweep_part[st->op.fn], 1);
    if (st->op.kind == OPTK_OP_SCALAR) assert_int_equal(s.scalar_part[st->op.fn], 0);
  }
  cg_split_free(&s);
  ir_program_free(&prog);

  test_stdlib_program(&prog, "newton_cg");
  assert_int_equal(check_plan(&prog, 1, 2), 1);
  assert_int_equal(check_plan(&prog, 2, 2), 2);
  assert_int_equal(check_plan(&prog, 4, 2), 4);
  int most = check_plan(&prog, CG_MAX_PARTS, 2); /* work for all 8 parts */
  assert_int_equal(most, CG_MAX_PARTS);
  assert_int_equal(check_plan(&prog, 100, 2), most);
  assert_true(check_plan(&prog, 2, 0) <= 2); /* -O0: every function optnone */
  ir_program_free(&prog);

  test_stdlib_program(&prog, "fadam"); /* two pow sweeps: one each */
  assert_int_equal(check_plan(&prog, 2, 2), 2);
  cg_split_plan(&prog, 2, 2, &s);
  int heavy[2] = {0, 0};
  for (int i = 0; i < prog.nstages; i++) {
    const IrStage *st = &prog.stages[i];
    bool has_pow = false;
    for (int k = 0; k < st->ninsts; k++) has_pow |= st->insts[k].op == IR_POW;
    if (st->op.kind == OPTK_OP_SWEEP && has_pow) heavy[s.sweep_part[st->op.fn]]++;
  }
  assert_int_equal(heavy[0], 1);
  assert_int_equal(heavy[1], 1);
  cg_split_free(&s);
  ir_program_free(&prog);
}

/* Kernel k stepped on fresh copies of the same tensors; the parameters
 * after STEPS steps. */
static float *run_kernel(const char *rule, OptrtKernel *k) {
  int64_t total = 0;
  for (int t = 0; t < NT; t++) total += ROWS[t] * COLS[t];
  float *p = malloc((size_t)total * sizeof *p), *g = malloc((size_t)total * sizeof *g);
  assert_non_null(p);
  assert_non_null(g);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int64_t i = 0; i < total; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = (float)((double)(x >> 40) / (double)(1 << 24) - 0.5);
  }
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  Optrt *rt = optrt_create(k, &cfg, NULL);
  assert_non_null(rt);
  assert_int_equal(optrt_add_group(rt, NULL), 0);
  int64_t off = 0;
  for (int t = 0; t < NT; t++) {
    if (optrt_add_param(rt, 0, p + off, g + off, ROWS[t], COLS[t]) < 0)
      fail_msg("%s: add_param: %s", rule, optrt_last_error(rt));
    off += ROWS[t] * COLS[t];
  }
  for (int s = 0; s < STEPS; s++) {
    for (int64_t i = 0; i < total; i++)
      g[i] = 0.25f * p[i] + (float)((i * 7 + s * 3) % 11) / 16.0f - 0.3f;
    if (optrt_step(rt)) fail_msg("%s: step: %s", rule, optrt_last_error(rt));
  }
  optrt_destroy(rt);
  free(g);
  return p;
}

/* The rule JIT-compiled with `threads` code generation threads. */
static float *run_rule(const char *rule, const char *source, int threads) {
  OptcOptions o;
  optc_options_init(&o);
  o.jit_threads = threads;
  OptcJit *jit = optc_jit_compile(rule, source, strlen(source), &o);
  if (!jit) fail_msg("%s does not compile with %d threads", rule, threads);
  char *err = NULL;
  OptrtKernel *k = optrt_wrap_descriptor(optc_jit_descriptor(jit), &err);
  if (!k) fail_msg("%s: wrap: %s", rule, err ? err : "?");
  float *p = run_kernel(rule, k);
  optrt_kernel_close(k);
  optc_jit_free(jit);
  return p;
}

/* The rule at `path` as an AOT library. */
static float *run_library(const char *rule, const char *path) {
  char lib[64];
  snprintf(lib, sizeof lib, "/tmp/optc-split-%ld-%s.so", (long)getpid(), rule);
  OptcOptions o;
  optc_options_init(&o);
  if (optc_compile_library(path, lib, &o) != 0) fail_msg("%s: optc_compile_library failed", rule);
  char *err = NULL;
  OptrtKernel *k = optrt_open_library(lib, &err);
  if (!k) fail_msg("%s: %s", rule, err ? err : "?");
  float *p = run_kernel(rule, k);
  optrt_kernel_close(k);
  unlink(lib);
  return p;
}

static void test_same_code(void **state) {
  const char *rules[] = {"lamb", "fadam", "muon", "shampoo", "adafactor", "soap"};
  int64_t total = 0;
  for (int t = 0; t < NT; t++) total += ROWS[t] * COLS[t];
  for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
    char path[512];
    char *src = test_stdlib_source(rules[r], path, sizeof path);
    float *one = run_rule(rules[r], src, 1), *aot = run_library(rules[r], path);
    if (memcmp(one, aot, (size_t)total * sizeof *one) != 0)
      fail_msg("%s: the JIT's layers and the AOT library's one module differ", rules[r]);
    free(aot);
    const int threads[] = {2, 8};
    for (int i = 0; i < 2; i++) {
      float *split = run_rule(rules[r], src, threads[i]);
      if (memcmp(one, split, (size_t)total * sizeof *one) != 0)
        fail_msg("%s: %d code generation threads change the results", rules[r], threads[i]);
      free(split);
    }
    free(one);
    free(src);
  }
}

typedef struct Worker {
  const IrProgram *prog;
  int ok;
} Worker;

static void *worker_main(void *arg) {
  Worker *w = arg;
  JitModule *kept[PER_WORKER] = {NULL};
  w->ok = 1;
  for (int i = 0; i < PER_WORKER; i++) {
    CgTarget t = {.opt_level = 2, .threads = 2 + i % 3};
    char *err = NULL;
    if (jit_compile(w->prog, &t, &kept[i], &err) != 0 || !jit_descriptor(kept[i]) ||
        jit_descriptor(kept[i])->nsweep_fns == 0) {
      w->ok = 0;
      free(err);
    }
    if (i % 2 && kept[i]) jit_free(kept[i]), kept[i] = NULL;
  }
  for (int i = PER_WORKER - 1; i >= 0; i--) jit_free(kept[i]);
  return NULL;
}

static void test_concurrent(void **state) {
  IrProgram prog;
  test_stdlib_program(&prog, "muon");
  pthread_t th[WORKERS];
  Worker w[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i] = (Worker){.prog = &prog};
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < WORKERS; i++) assert_int_equal(w[i].ok, 1);
  ir_program_free(&prog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_twins),
      cmocka_unit_test(test_small_domains),
      cmocka_unit_test(test_plan),
      cmocka_unit_test(test_same_code),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

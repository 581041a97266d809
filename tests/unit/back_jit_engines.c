/* back_jit_engines.c: compiles share JIT engines (compiler/jit.c).
 *
 * Modules of one program live side by side in one engine (their symbols
 * are renamed per module), at different -O levels and target CPUs in
 * different engines, and compiles on several threads at once each take
 * an engine of their own; every module computes the axpy program's
 * exact values, and freeing one in any order leaves the others working.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "back.h"
#include "back_progs.h"

enum { N = 37, THREADS = 4, PER_THREAD = 8 };

static JitModule *compile_at(const IrProgram *p, const char *cpu, int opt) {
  CgTarget t = {.cpu = cpu, .opt_level = opt};
  JitModule *jm = NULL;
  char *err = NULL;
  if (jit_compile(p, &t, &jm, &err) != 0) {
    fprintf(stderr, "jit_compile: %s\n", err ? err : "?");
    free(err);
    return NULL;
  }
  return jm;
}

/* Runs the init sweep, the scalar stage at step t = 4 and the update sweep
 * on N elements; true when p, m and the slot hold axpy's exact values. */
static bool axpy_ok(const JitModule *jm) {
  const OptkDescriptor *d = jit_descriptor(jm);
  if (!d || d->nsweep_fns != 2 || d->nscalar_fns != 1) return false;
  float pv[N], g[N], m[N];
  for (int i = 0; i < N; i++) pv[i] = (float)i, g[i] = 1.0f + (float)i / 8, m[i] = 7;
  void *bufs[3] = {pv, g, m};
  double hyper[1] = {0.5}, slot[1] = {0};
  OptkSweepCtx sw = {.buf = bufs, .slot = slot, .n = N, .rows = N, .cols = 1};
  d->sweep_fns[1](&sw, 0, N); /* init: m = 0 */
  OptkScalarCtx sc = {.hyper = hyper, .slot = slot, .t = 4, .n = N, .rows = N, .cols = 1};
  d->scalar_fns[0](&sc); /* slot0 = 0.5 * sqrt(4) = 1 */
  d->sweep_fns[0](&sw, 0, N);
  if (slot[0] != 1.0) return false;
  for (int i = 0; i < N; i++) {
    float gi = 1.0f + (float)i / 8;
    if (m[i] != 0.1f * gi || pv[i] != (float)i - gi) return false;
  }
  return true;
}

/* Five live modules of one program in one engine, freed out of order. */
static void test_modules_side_by_side(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  JitModule *jm[5];
  for (int i = 0; i < 5; i++) {
    jm[i] = compile_at(&p, NULL, 2);
    assert_non_null(jm[i]);
  }
  for (int i = 0; i < 5; i++) {
    assert_true(axpy_ok(jm[i]));
    for (int j = 0; j < i; j++) assert_ptr_not_equal(jit_descriptor(jm[i]), jit_descriptor(jm[j]));
  }
  jit_free(jm[2]);
  jit_free(jm[0]);
  assert_true(axpy_ok(jm[1]) && axpy_ok(jm[3]) && axpy_ok(jm[4]));
  JitModule *again = compile_at(&p, NULL, 2);
  assert_non_null(again);
  assert_true(axpy_ok(again) && axpy_ok(jm[4]));
  jit_free(jm[4]), jit_free(jm[1]), jit_free(again), jit_free(jm[3]);
  ir_program_free(&p);
}

/* Engines of different keys (-O level, CPU) hold modules at the same time. */
static void test_levels_and_cpus(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  const char *cpus[] = {NULL, "x86-64", "haswell", NULL};
  const int levels[] = {0, 1, 2, 3};
  JitModule *jm[4];
  for (int i = 0; i < 4; i++) {
    jm[i] = compile_at(&p, cpus[i], levels[i]);
    assert_non_null(jm[i]);
  }
  for (int i = 0; i < 4; i++) assert_true(axpy_ok(jm[i]));
  for (int i = 3; i >= 0; i--) jit_free(jm[i]);
  ir_program_free(&p);
}

/* A CPU name LLVM does not know, or one that cannot run 64-bit code,
 * is an error (LLVM alone would print a warning and then abort the
 * process); the JIT and the AOT path share the check (cg_target_machine).
 * A known name still compiles afterwards. */
static void test_unknown_cpu(void **state) {
  (void)state;
  IrProgram p;
  back_prog_axpy(&p);
  const char *bad[] = {"nosuchcpu", "i386", "pentium4", ""};
  for (int i = 0; i < 4; i++) {
    CgTarget t = {.cpu = bad[i], .opt_level = 2};
    JitModule *jm = NULL;
    char *err = NULL;
    assert_int_equal(jit_compile(&p, &t, &jm, &err), -1);
    assert_null(jm);
    assert_non_null(err);
    if (!strstr(err, "unknown target CPU")) fail_msg("%s: %s", bad[i], err);
    free(err);
  }
  JitModule *jm = compile_at(&p, "znver4", 2);
  assert_non_null(jm);
  assert_true(axpy_ok(jm));
  jit_free(jm);
  ir_program_free(&p);
}

typedef struct Worker {
  const IrProgram *p;
  int ok;
} Worker;

/* Compiles and checks PER_THREAD modules, keeping half of them alive until
 * the end, so engines are busy and hold modules while others compile. */
static void *worker_main(void *arg) {
  Worker *w = arg;
  JitModule *kept[PER_THREAD] = {NULL};
  w->ok = 1;
  for (int i = 0; i < PER_THREAD; i++) {
    JitModule *jm = compile_at(w->p, NULL, i % 3 == 0 ? 0 : 2);
    if (!jm || !axpy_ok(jm)) w->ok = 0;
    if (i % 2) jit_free(jm);
    else kept[i] = jm;
  }
  for (int i = 0; i < PER_THREAD; i++) {
    if (kept[i] && !axpy_ok(kept[i])) w->ok = 0;
    jit_free(kept[i]);
  }
  return NULL;
}

static void test_threads(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  pthread_t th[THREADS];
  Worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (Worker){.p = &p};
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) assert_int_equal(w[i].ok, 1);
  ir_program_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modules_side_by_side),
      cmocka_unit_test(test_levels_and_cpus),
      cmocka_unit_test(test_unknown_cpu),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* back_jit_leak.c: thousands of JIT compile/free cycles in one process
 * leave memory flat.
 *
 * Resident memory is read from /proc/self/statm after a warm-up (LLVM's
 * one-time registries, the allocator's pools) and again after the long
 * run; it may grow by a small constant only.  Cycles alternate -O0 and
 * -O2 so that both pass pipelines are exercised; a second run compiles
 * LAMB in two parts on two threads.  Under AddressSanitizer
 * the quarantine of freed memory is off in this test so that it does not
 * read as growth (LeakSanitizer checks the rest at exit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "back_progs.h"
#include "back.h"
#include "stdlib_prog.h"

#ifdef OPTC_SANITIZE
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=0"; }
#endif

/* ASan's allocator keeps growing slowly (sublinearly: ~1 MB per 250
 * cycles, falling) where glibc's stays flat (measured); LeakSanitizer is
 * the exact check in that build. */
#ifdef OPTC_SANITIZE
#define SLACK_MB 24
#else
#define SLACK_MB 4 /* a leak of 2 KiB per cycle would exceed it */
#endif

enum {
  WARMUP = 100,  /* long enough for one-time allocations to settle */
  CYCLES = 2000, /* "thousands", at a few ms each */
  SPLIT_WARMUP = 50, SPLIT_CYCLES = 400 /* LAMB, about 6 ms each */
};

static double rss_mb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static void cycle(IrProgram *p, int opt_level) {
  CgTarget t = {.opt_level = opt_level};
  JitModule *jm = NULL;
  char *err = NULL;
  if (jit_compile(p, &t, &jm, &err) != 0) fail_msg("jit_compile: %s", err);
  const OptkDescriptor *d = jit_descriptor(jm);
  float pv[3] = {1, 2, 3}, g[3] = {1, 1, 1}, m[3] = {0, 0, 0};
  void *bufs[3] = {pv, g, m};
  double slot[1] = {0.5};
  OptkSweepCtx ctx = {.buf = bufs, .slot = slot, .n = 3, .rows = 3, .cols = 1};
  d->sweep_fns[0](&ctx, 0, 3);
  assert_true(pv[2] == 2.5f);
  jit_free(jm);
}

static void test_compile_free_cycles(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  for (int i = 0; i < WARMUP; i++) cycle(&p, 2 * (i & 1));
  double before = rss_mb();
  for (int i = 0; i < CYCLES; i++) cycle(&p, 2 * (i & 1));
  double after = rss_mb();
  if (after - before > SLACK_MB)
    fail_msg("RSS grew from %.1f MB to %.1f MB over %d cycles", before, after, CYCLES);
  ir_program_free(&p);
}

static void split_cycle(const IrProgram *p) {
  CgTarget t = {.opt_level = 2, .threads = 2};
  JitModule *jm = NULL;
  char *err = NULL;
  if (jit_compile(p, &t, &jm, &err) != 0) fail_msg("jit_compile: %s", err);
  assert_int_equal(jit_descriptor(jm)->nsweep_fns, 2);
  jit_free(jm);
}

/* Programs compiled in parts (one object per part, linked together) are
 * released whole: LAMB splits into two parts on two threads. */
static void test_split_cycles(void **state) {
  IrProgram p;
  test_stdlib_program(&p, "lamb");
  for (int i = 0; i < SPLIT_WARMUP; i++) split_cycle(&p);
  double before = rss_mb();
  for (int i = 0; i < SPLIT_CYCLES; i++) split_cycle(&p);
  double after = rss_mb();
  if (after - before > SLACK_MB)
    fail_msg("RSS grew from %.1f MB to %.1f MB over %d split compiles", before, after,
             SPLIT_CYCLES);
  ir_program_free(&p);
}

/* Failing compilations release everything too. */
static void test_error_cycles(void **state) {
  IrProgram p;
  ir_program_init(&p, "bad");
  ir_program_add_buffer(&p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  IrStage *s = ir_program_stage(&p, false, ir_program_add_stage(&p, false, ir_op_sweep(0)));
  ir_emit_leaf(&p, s, IR_LOAD, 7);
  CgTarget t = {.opt_level = 2};
  for (int i = 0; i < 200; i++) {
    JitModule *jm = NULL;
    char *err = NULL;
    assert_int_equal(jit_compile(&p, &t, &jm, &err), -1);
    assert_null(jm);
    free(err);
  }
  ir_program_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compile_free_cycles),
      cmocka_unit_test(test_split_cycles),
      cmocka_unit_test(test_error_cycles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* back_codegen.c: LLVM code generation on hand-built IrPrograms.
 *
 * Each test JITs a small program (jit.c) and calls the generated SCALAR and
 * SWEEP functions directly on awkward sizes with unaligned pointers,
 * comparing against closed-form C computed with the same operations (so
 * most comparisons are bit-exact), against optk.h's inline RNG and bf16
 * functions, and across chunkings, optimisation levels and vector widths.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "back_progs.h"
#include "back.h"

static const int64_t SIZES[] = {0, 1, 7, 15, 4097, 1000003};
enum { NSIZES = sizeof SIZES / sizeof SIZES[0] };

static JitModule *jit_at(IrProgram *p, const char *cpu, int opt) {
  CgTarget t = {.cpu = cpu, .opt_level = opt};
  JitModule *jm = NULL;
  char *err = NULL;
  int rc = jit_compile(p, &t, &jm, &err);
  if (rc != 0) fail_msg("jit_compile: %s", err);
  return jm;
}

static JitModule *jit(IrProgram *p) { return jit_at(p, NULL, 2); }

static char *jit_error_of(IrProgram *p) {
  CgTarget t = {.opt_level = 0};
  JitModule *jm = NULL;
  char *err = NULL;
  assert_int_equal(jit_compile(p, &t, &jm, &err), -1);
  assert_null(jm);
  assert_non_null(err);
  return err;
}

/* n floats starting one element past an aligned allocation. */
static float *unaligned_f32(int64_t n, float **block) {
  *block = malloc(sizeof(float) * (size_t)(n + 2));
  return *block + 1;
}

static double *unaligned_f64(int64_t n, double **block) {
  *block = malloc(sizeof(double) * (size_t)(n + 2));
  return *block + 1;
}

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}

static float rand_f32(uint64_t *s) { return (float)((double)lcg(s) / 9007199254740992.0 * 4 - 2); }

static void sweep_chunks(OptkSweepFn fn, const OptkSweepCtx *ctx, int64_t chunk) {
  for (int64_t b = 0; b < ctx->n; b += chunk) fn(ctx, b, b + chunk < ctx->n ? b + chunk : ctx->n);
  if (ctx->n == 0) fn(ctx, 0, 0);
}

static bool same_bits(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* ---- axpy: scalar + sweep, every size, chunkings, opt levels ------------- */

static void run_axpy(const OptkDescriptor *d, int64_t n, int64_t chunk) {
  double hyper[1] = {0.5}, slot[1] = {0};
  OptkScalarCtx sc = {.hyper = hyper, .t = 4, .n = (double)n, .slot = slot};
  d->scalar_fns[0](&sc);
  assert_true(slot[0] == 0.5 * sqrt(4.0));
  float *pb, *gb, *mb, *p = unaligned_f32(n, &pb), *g = unaligned_f32(n, &gb);
  float *m = unaligned_f32(n, &mb);
  uint64_t s = 42;
  for (int64_t i = 0; i < n; i++) p[i] = rand_f32(&s), g[i] = rand_f32(&s), m[i] = rand_f32(&s);
  float *p0 = malloc(sizeof(float) * (size_t)(n + 1)), *m0 = malloc(sizeof(float) * (size_t)(n + 1));
  memcpy(p0, p, sizeof(float) * (size_t)n);
  memcpy(m0, m, sizeof(float) * (size_t)n);
  void *bufs[3] = {p, g, m};
  OptkSweepCtx ctx = {.buf = bufs, .slot = slot, .n = n, .rows = n, .cols = 1};
  sweep_chunks(d->sweep_fns[0], &ctx, chunk);
  float sf = (float)slot[0];
  for (int64_t i = 0; i < n; i++) {
    float em = 0.9f * m0[i] + 0.1f * g[i], ep = p0[i] - sf * g[i];
    if (m[i] != em || p[i] != ep) fail_msg("n=%lld i=%lld: m %a vs %a, p %a vs %a", (long long)n,
                                           (long long)i, m[i], em, p[i], ep);
  }
  free(pb), free(gb), free(mb), free(p0), free(m0);
}

static void test_axpy_sizes(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  for (int opt = 0; opt <= 3; opt++) {
    JitModule *jm = jit_at(&p, NULL, opt);
    for (int k = 0; k < NSIZES; k++) {
      run_axpy(jit_descriptor(jm), SIZES[k], SIZES[k] + 1);
      if (SIZES[k] > 4096) run_axpy(jit_descriptor(jm), SIZES[k], 3 * OPTK_BLOCK);
    }
    jit_free(jm);
  }
  ir_program_free(&p);
}

/* ---- the descriptor --------------------------------------------------------- */

static void test_descriptor(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  memcpy(p.source_sha256, "ab12", 5);
  ir_program_add_sstate(&p, "seen", OPTK_BF16, 2.5);
  JitModule *jm = jit(&p);
  const OptkDescriptor *d = jit_descriptor(jm);
  assert_int_equal(d->magic, OPTK_MAGIC);
  assert_int_equal(d->abi_version, OPTK_ABI_VERSION);
  assert_int_equal(d->size, sizeof(OptkDescriptor));
  assert_string_equal(d->name, "axpy");
  assert_string_equal(d->source_sha256, "ab12");
  assert_int_equal(d->nhyper, 1);
  assert_string_equal(d->hypers[0].name, "lr");
  assert_true(d->hypers[0].def == 0.5 && d->hypers[0].hi == 1);
  assert_int_equal(d->hypers[0].flags, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  assert_int_equal(d->nbuf, 3);
  assert_string_equal(d->bufs[2].name, "m");
  assert_int_equal(d->bufs[2].role, OPTK_BUF_STATE);
  assert_int_equal(d->bufs[1].dim0, OPTK_DIM_N);
  assert_int_equal(d->nsstate, 1);
  assert_string_equal(d->sstates[0].name, "seen");
  assert_int_equal(d->sstates[0].dtype, OPTK_BF16);
  assert_true(d->sstate_init[0] == 2.5);
  assert_int_equal(d->nslot, 1);
  assert_int_equal(d->nops, 2);
  assert_memory_equal(&d->ops[0], &p.stages[0].op, sizeof(OptkOp));
  assert_memory_equal(&d->ops[1], &p.stages[1].op, sizeof(OptkOp));
  assert_int_equal(d->ninit_ops, 1);
  assert_memory_equal(&d->init_ops[0], &p.init_stages[0].op, sizeof(OptkOp));
  assert_int_equal(d->nscalar_fns, 1);
  assert_int_equal(d->nsweep_fns, 2);
  assert_int_equal(d->sweeps, 1);
  assert_int_equal(d->bytes_per_element, 20);
  assert_int_equal(d->state_bytes_per_element, 4);
  float m[5] = {1, 2, 3, 4, 5};
  void *bufs[3] = {NULL, NULL, m};
  OptkSweepCtx ctx = {.buf = bufs, .n = 5, .rows = 5, .cols = 1};
  d->sweep_fns[1](&ctx, 0, 5);
  for (int i = 0; i < 5; i++) assert_true(m[i] == 0);
  jit_free(jm);
  ir_program_free(&p);
}

/* ---- reductions ----------------------------------------------------------------- */

/* SWEEP 0 (f32): red0 += g*g, red2 = max |g|; SWEEP 1 (f64): red1 += p*g. */
static void prog_reduce(IrProgram *p) {
  ir_program_init(p, "reduce");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  p->nred = 3;
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  int g = ir_emit_leaf(p, w, IR_LOAD, 1);
  ir_emit_reduce(p, w, 0, OPTK_RED_SUM, ir_emit(p, w, IR_MUL, g, g, -1));
  ir_emit_reduce(p, w, 2, OPTK_RED_MAX, ir_emit(p, w, IR_ABS, g, -1, -1));
  IrStage *v = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(1)));
  v->compute = OPTK_F64;
  int pv = ir_emit_leaf(p, v, IR_LOAD, 0), g2 = ir_emit_leaf(p, v, IR_LOAD, 1);
  ir_emit_reduce(p, v, 1, OPTK_RED_SUM, ir_emit(p, v, IR_MUL, pv, g2, -1));
}

static void reduce_reference(const float *p, const float *g, int64_t n, double *part) {
  double *x = malloc(sizeof(double) * OPTK_BLOCK), *y = malloc(sizeof(double) * OPTK_BLOCK);
  for (int64_t b = 0; b * OPTK_BLOCK < n; b++) {
    int64_t lo = b * OPTK_BLOCK, cnt = n - lo < OPTK_BLOCK ? n - lo : OPTK_BLOCK;
    double mx = -INFINITY;
    for (int64_t i = 0; i < cnt; i++) {
      x[i] = (double)(g[lo + i] * g[lo + i]);
      y[i] = (double)p[lo + i] * (double)g[lo + i];
      mx = fmax(mx, fabs((double)g[lo + i]));
    }
    part[b * 3 + 0] = optk_block_sum(x, cnt);
    part[b * 3 + 1] = optk_block_sum(y, cnt);
    part[b * 3 + 2] = mx;
  }
  free(x);
  free(y);
}

static void run_reduce(const OptkDescriptor *d, int64_t n, const int64_t *chunks, int nchunks) {
  float *pb, *gb, *p = unaligned_f32(n, &pb), *g = unaligned_f32(n, &gb);
  uint64_t s = 7;
  for (int64_t i = 0; i < n; i++) p[i] = rand_f32(&s), g[i] = rand_f32(&s) * 1e3f;
  int64_t nb = (n + OPTK_BLOCK - 1) / OPTK_BLOCK;
  double *want = calloc((size_t)nb * 3 + 1, sizeof(double));
  double *got = calloc((size_t)nb * 3 + 1, sizeof(double));
  reduce_reference(p, g, n, want);
  void *bufs[2] = {p, g};
  OptkSweepCtx ctx = {.buf = bufs, .partial = got, .n = n, .rows = n, .cols = 1};
  for (int c = 0; c < nchunks; c++) {
    memset(got, 0, sizeof(double) * (size_t)nb * 3);
    sweep_chunks(d->sweep_fns[0], &ctx, chunks[c]);
    sweep_chunks(d->sweep_fns[1], &ctx, chunks[c]);
    for (int64_t i = 0; i < nb * 3; i++)
      if (!same_bits(got[i], want[i]))
        fail_msg("n=%lld chunk=%lld partial %lld: %a vs %a", (long long)n, (long long)chunks[c],
                 (long long)i, got[i], want[i]);
  }
  free(pb), free(gb), free(want), free(got);
}

static void test_reductions_chunkings(void **state) {
  IrProgram p;
  prog_reduce(&p);
  JitModule *jm = jit(&p);
  const int64_t chunks[] = {OPTK_BLOCK, 3 * OPTK_BLOCK, INT64_MAX / 2};
  for (int k = 0; k < NSIZES; k++) run_reduce(jit_descriptor(jm), SIZES[k], chunks, 3);
  jit_free(jm);
  ir_program_free(&p);
}

/* Same partials from SSE (8 f32 lanes, split), AVX2 and AVX-512 code. */
static void test_reductions_vector_widths(void **state) {
  IrProgram p;
  prog_reduce(&p);
  const char *cpus[] = {"x86-64", "haswell", NULL};
  const int64_t chunks[] = {2 * OPTK_BLOCK};
  for (int c = 0; c < 3; c++) {
    JitModule *jm = jit_at(&p, cpus[c], 2);
    run_reduce(jit_descriptor(jm), 100003, chunks, 1);
    jit_free(jm);
  }
  ir_program_free(&p);
}

/* Occurrences of `what` in the assembly of function `fn` (its label to
 * the next .Lfunc_end). */
static int count_in_function(const char *text, const char *fn, const char *what) {
  char label[64];
  snprintf(label, sizeof label, "\n%s:\n", fn);
  const char *at = strstr(text, label), *end = at ? strstr(at, ".Lfunc_end") : NULL;
  if (!at || !end) fail_msg("no function %s in the assembly", fn);
  int n = 0;
  for (const char *q = at; (q = strstr(q, what)) && q < end; q++) n++;
  return n;
}

/* Sweeps with reductions prefetch each array they stream 2 KiB ahead,
 * once per vector step (f32 or f64 compute alike: the distance is in
 * bytes of storage); sweeps without reductions do not prefetch. */
static void test_prefetch_in_reduction_sweeps(void **state) {
  IrProgram p, q;
  prog_reduce(&p);
  back_prog_axpy(&q);
  CgTarget t = {.cpu = "haswell", .opt_level = 2};
  char *red = NULL, *axpy = NULL, *err = NULL;
  if (aot_emit_text(&p, &t, AOT_ASSEMBLY, &red, &err) || aot_emit_text(&q, &t, AOT_ASSEMBLY, &axpy, &err))
    fail_msg("emit-asm: %s", err);
  assert_int_equal(count_in_function(red, "optk_sweep_0", "prefetcht0"), 1); /* g */
  /* p and g, f32 arrays read in f64: 512 elements ahead, which LLVM 19
   * folds into the address here (in sweep 0 it keeps base + 2048 in a
   * register instead) */
  assert_int_equal(count_in_function(red, "optk_sweep_1", "prefetcht0"), 2);
  assert_int_equal(count_in_function(red, "optk_sweep_1", "prefetcht0\t2048("), 2);
  assert_int_equal(count_in_function(red, "optk_sweep_0.tail", "prefetch"), 0);
  assert_null(strstr(axpy, "prefetch"));
  free(red);
  free(axpy);
  ir_program_free(&p);
  ir_program_free(&q);
}

/* ---- random numbers --------------------------------------------------------------- */

/* SWEEP 0 (f64): u = uniform (site 3) -> U; z = normal (site 7) -> Z;
 * SWEEP 1 (f32): r = rademacher (site 0) -> R; z = normal (site 7) -> Zf. */
static void prog_rng(IrProgram *p) {
  ir_program_init(p, "rng");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "U", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "Z", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "R", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "Zf", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  w->compute = OPTK_F64;
  ir_emit_set(p, w, IR_STORE, 2, ir_emit_rng(p, w, 3, IR_RNG_UNIFORM));
  ir_emit_set(p, w, IR_STORE, 3, ir_emit_rng(p, w, 7, IR_RNG_NORMAL));
  IrStage *v = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(1)));
  ir_emit_set(p, v, IR_STORE, 4, ir_emit_rng(p, v, 0, IR_RNG_RADEMACHER));
  ir_emit_set(p, v, IR_STORE, 5, ir_emit_rng(p, v, 7, IR_RNG_NORMAL));
}

static double ref_normal(uint64_t x) {
  double u1, u2;
  optk_normal_uniforms(x, &u1, &u2);
  return sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2);
}

static void test_rng_matches_optk(void **state) {
  IrProgram p;
  prog_rng(&p);
  JitModule *jm = jit(&p);
  const OptkDescriptor *d = jit_descriptor(jm);
  for (int k = 0; k < NSIZES; k++) {
    int64_t n = SIZES[k];
    double *ub, *zb, *u = unaligned_f64(n, &ub), *z = unaligned_f64(n, &zb);
    float *rb, *fb, *r = unaligned_f32(n, &rb), *zf = unaligned_f32(n, &fb);
    void *bufs[6] = {NULL, NULL, u, z, r, zf};
    OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1, .seed = 12345,
                        .step = 17, .tensor_id = 5};
    sweep_chunks(d->sweep_fns[0], &ctx, 3 * OPTK_BLOCK);
    sweep_chunks(d->sweep_fns[1], &ctx, n + 1);
    uint64_t k0 = optk_rng_key(12345, 17, 5, 0), k3 = optk_rng_key(12345, 17, 5, 3);
    uint64_t k7 = optk_rng_key(12345, 17, 5, 7);
    for (int64_t i = 0; i < n; i++) {
      assert_true(u[i] == optk_uniform(optk_rng_u64(k3, (uint64_t)i)));
      assert_true(same_bits(z[i], ref_normal(optk_rng_u64(k7, (uint64_t)i))));
      assert_true(r[i] == (float)optk_rademacher(optk_rng_u64(k0, (uint64_t)i)));
      assert_true(zf[i] == (float)ref_normal(optk_rng_u64(k7, (uint64_t)i)));
    }
    free(ub), free(zb), free(rb), free(fb);
  }
  jit_free(jm);
  ir_program_free(&p);
}

/* ---- bf16 ------------------------------------------------------------------------------ */

/* SWEEP 0 (f32) and SWEEP 1 (f64): H = X (bf16); Y = H. */
static void prog_bf16(IrProgram *p) {
  ir_program_init(p, "bf16");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "H", OPTK_BUF_STATE, OPTK_BF16, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "Y", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  for (int fn = 0; fn < 2; fn++) {
    IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(fn)));
    w->compute = fn ? OPTK_F64 : OPTK_F32;
    ir_emit_set(p, w, IR_STORE, 2, ir_emit_leaf(p, w, IR_LOAD, 0));
    ir_emit_set(p, w, IR_STORE, 3, ir_emit_leaf(p, w, IR_LOAD, 2));
  }
}

static void test_bf16_rounding(void **state) {
  IrProgram p;
  prog_bf16(&p);
  JitModule *jm = jit(&p);
  const OptkDescriptor *d = jit_descriptor(jm);
  const uint32_t special[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                              0x7f800001, 0xffa00000, 0x3f808000, 0x3f818000, 0x3f808001,
                              0x7f7fffff, 0x00000001, 0x807fffff, 0x3f7fffff, 0x4049000f};
  int64_t n = 100003;
  float *xb, *yb, *x = unaligned_f32(n, &xb), *y = unaligned_f32(n, &yb);
  uint16_t *hblk = malloc(sizeof(uint16_t) * (size_t)(n + 2)), *h = hblk + 1;
  uint64_t s = 99;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits = i < 15 ? special[i] : (uint32_t)lcg(&s);
    memcpy(&x[i], &bits, 4);
  }
  void *bufs[4] = {x, NULL, h, y};
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1};
  for (int fn = 0; fn < 2; fn++) {
    sweep_chunks(d->sweep_fns[fn], &ctx, OPTK_BLOCK);
    for (int64_t i = 0; i < n; i++) {
      uint16_t want = optk_f32_to_bf16(x[i]);
      if (h[i] != want) fail_msg("fn %d x=%a: bf16 %#x vs %#x", fn, x[i], h[i], want);
      float fy = optk_bf16_to_f32(want);
      assert_memory_equal(&y[i], &fy, 4);
    }
  }
  free(xb), free(yb), free(hblk);
  jit_free(jm);
  ir_program_free(&p);
}

/* ---- 2-D broadcasts ------------------------------------------------------------------------ */

/* p = p + R * 1000 + C + row * 1000 + col * 7 + S  (R: rows x 1, C: 1 x cols),
 * every sum exact in f32 for the shapes below. */
static void prog_broadcast(IrProgram *p, OptkDType compute) {
  ir_program_init(p, "bcast");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_COLS);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_COLS);
  ir_program_add_buffer(p, "R", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "C", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ONE, OPTK_DIM_COLS);
  ir_program_add_buffer(p, "S", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ONE, OPTK_DIM_ONE);
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  w->compute = compute;
  int x = ir_emit_leaf(p, w, IR_LOAD, 0);
  int r = ir_emit(p, w, IR_MUL, ir_emit_leaf(p, w, IR_LOAD, 2), ir_emit_const(p, w, 1000), -1);
  x = ir_emit(p, w, IR_ADD, x, r, -1);
  x = ir_emit(p, w, IR_ADD, x, ir_emit_leaf(p, w, IR_LOAD, 3), -1);
  int ri = ir_emit(p, w, IR_MUL, ir_emit_leaf(p, w, IR_ROW_INDEX, 0), ir_emit_const(p, w, 1e3), -1);
  int ci = ir_emit(p, w, IR_MUL, ir_emit_leaf(p, w, IR_COL_INDEX, 0), ir_emit_const(p, w, 7), -1);
  x = ir_emit(p, w, IR_ADD, ir_emit(p, w, IR_ADD, x, ri, -1), ci, -1);
  x = ir_emit(p, w, IR_ADD, x, ir_emit_leaf(p, w, IR_LOAD, 4), -1);
  ir_emit_set(p, w, IR_STORE, 0, x);
}

/* R and C as the runtime allocates them (docs/abi.md, "Buffers"), with
 * 64 bytes after the last element, here NaN: a lane that took a value
 * from there would show. */
static void *padded(int64_t n, size_t size) {
  unsigned char *b = malloc((size_t)n * size + 64);
  for (size_t k = 0; k < 64; k += 8) memcpy(b + (size_t)n * size + k, &(double){NAN}, 8);
  return b;
}

static void run_broadcast(const OptkDescriptor *d, int64_t rows, int64_t cols, int64_t chunk) {
  int64_t n = rows * cols;
  float *pb, *p = unaligned_f32(n, &pb), *R = padded(rows, sizeof(float));
  double *C = padded(cols, sizeof(double));
  float S = 0.5f;
  for (int64_t i = 0; i < n; i++) p[i] = (float)(i % 5);
  for (int64_t i = 0; i < rows; i++) R[i] = (float)(i % 11);
  for (int64_t j = 0; j < cols; j++) C[j] = (double)(j % 13) * 0.25;
  void *bufs[5] = {p, NULL, R, C, &S};
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = rows, .cols = cols};
  sweep_chunks(d->sweep_fns[0], &ctx, chunk);
  for (int64_t i = 0; i < n; i++) {
    int64_t r = i / cols, c = i % cols;
    double want = (double)(i % 5) + (double)R[r] * 1000 + C[c] + (double)r * 1e3 + (double)c * 7 + 0.5;
    if (p[i] != (float)want)
      fail_msg("%lldx%lld at %lld: %g vs %g", (long long)rows, (long long)cols, (long long)i, p[i], want);
  }
  free(pb), free(R), free(C);
}

/* Row and column broadcasts and lane rows and columns in f64 (8 lanes)
 * and f32 (8 or 16) code for SSE, AVX2 and the host: wide domains (a
 * vector spans at most two rows), narrow ones (cols below the lanes: a
 * vector spans up to 16 rows and starts at any column; codegen.c,
 * sw_lanes), and chunks that start mid-row. */
static void test_broadcast_2d(void **state) {
  const int64_t shapes[][2] = {{37, 13}, {1, 15}, {7, 1}, {1, 1},  {0, 5},  {101, 1003},
                               {37, 5},  {40, 1}, {9, 7}, {33, 3}, {5, 15}, {200, 9}};
  const char *cpus[] = {"x86-64", "haswell", NULL};
  const OptkDType computes[] = {OPTK_F64, OPTK_F32};
  for (int t = 0; t < 2; t++) {
    IrProgram p;
    prog_broadcast(&p, computes[t]);
    for (int c = 0; c < 3; c++) {
      JitModule *jm = jit_at(&p, cpus[c], 2);
      for (int k = 0; k < 12; k++) {
        run_broadcast(jit_descriptor(jm), shapes[k][0], shapes[k][1], OPTK_BLOCK);
        run_broadcast(jit_descriptor(jm), shapes[k][0], shapes[k][1], 29);
      }
      jit_free(jm);
    }
    ir_program_free(&p);
  }
}

/* ---- elementwise math --------------------------------------------------------------------- */

enum { MATH_OUT = 22 };

static double ref_powi(double x, int e) {
  double r = 1, base = e < 0 ? 1 / x : x;
  for (unsigned u = e < 0 ? 0u - (unsigned)e : (unsigned)e; u; u >>= 1) {
    if (u & 1) r *= base;
    base *= base;
  }
  return r;
}

static double ref_sign(double x) { return isnan(x) ? x : (x > 0) - (x < 0); }

static double ref_math(int k, double x, double y) {
  switch (k) {
  case 0: return exp(x);
  case 1: return log(x);
  case 2: return log1p(x);
  case 3: return tanh(x);
  case 4: return 1 / (1 + exp(-x));
  case 5: return ref_sign(x);
  case 6: return fabs(x);
  case 7: return sqrt(x);
  case 8: return 1 / sqrt(x);
  case 9: return ref_powi(x, -3);
  case 10: return ref_powi(x, 5);
  case 11: return pow(x, y);
  case 12: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
  case 13: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
  case 14: return x < y;
  case 15: return x != y;
  case 16: return x != 0 && y != 0;
  case 17: return x == 0;
  case 18: return x != 0 ? x : y;
  case 19: return fma(x, y, x);
  case 20: return fmod(x, y);
  default: return x >= y || x <= -y;
  }
}

static int emit_math(IrProgram *p, IrStage *w, int k, int x, int y) {
  static const IrOp unary[] = {IR_EXP, IR_LOG, IR_LOG1P, IR_TANH, IR_SIGMOID, IR_SIGN,
                               IR_ABS, IR_SQRT, IR_RSQRT};
  if (k < 9) return ir_emit(p, w, unary[k], x, -1, -1);
  if (k == 9 || k == 10) return ir_emit_powi(p, w, x, k == 9 ? -3 : 5);
  static const IrOp binary[] = {IR_POW, IR_MIN, IR_MAX, IR_LT, IR_NE, IR_AND};
  if (k <= 16) return ir_emit(p, w, binary[k - 11], x, y, -1);
  if (k == 17) return ir_emit(p, w, IR_NOT, x, -1, -1);
  if (k == 18) return ir_emit(p, w, IR_SELECT, x, x, y);
  if (k == 19) return ir_emit(p, w, IR_FMA, x, y, x);
  if (k == 20) return ir_emit(p, w, IR_MOD, x, y, -1);
  int ge = ir_emit(p, w, IR_GE, x, y, -1);
  return ir_emit(p, w, IR_OR, ge, ir_emit(p, w, IR_LE, x, ir_emit(p, w, IR_NEG, y, -1, -1), -1), -1);
}

static void prog_math(IrProgram *p, OptkDType dt) {
  back_prog_math_buffers(p, "math", dt, MATH_OUT);
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  w->compute = dt;
  int x = ir_emit_leaf(p, w, IR_LOAD, 2), y = ir_emit_leaf(p, w, IR_LOAD, 3);
  for (int k = 0; k < MATH_OUT; k++) ir_emit_set(p, w, IR_STORE, 4 + k, emit_math(p, w, k, x, y));
}

static double math_input(int64_t i, uint64_t *s) {
  static const double special[] = {0.0, -0.0, 1.0, -1.0, NAN, INFINITY, -INFINITY, 2.5, -7.0, 1e-300};
  if (i < 10) return special[i];
  return (double)lcg(s) / 9007199254740992.0 * 40 - 20;
}

static void test_math_f64(void **state) {
  IrProgram p;
  prog_math(&p, OPTK_F64);
  JitModule *jm = jit(&p);
  int64_t n = 4099;
  double *blocks[MATH_OUT + 2], *v[MATH_OUT + 2];
  void *bufs[MATH_OUT + 4] = {NULL, NULL};
  for (int k = 0; k < MATH_OUT + 2; k++) v[k] = unaligned_f64(n, &blocks[k]), bufs[k + 2] = v[k];
  uint64_t s = 5;
  for (int64_t i = 0; i < n; i++) v[0][i] = math_input(i, &s), v[1][i] = math_input((i * 7) % n, &s);
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1};
  sweep_chunks(jit_descriptor(jm)->sweep_fns[0], &ctx, OPTK_BLOCK);
  for (int k = 0; k < MATH_OUT; k++)
    for (int64_t i = 0; i < n; i++) {
      double want = ref_math(k, v[0][i], v[1][i]);
      if (!same_bits(v[k + 2][i], want) && !(k == 12 || k == 13 ? v[k + 2][i] == want : 0))
        fail_msg("op %d x=%a y=%a: %a vs %a", k, v[0][i], v[1][i], v[k + 2][i], want);
    }
  for (int k = 0; k < MATH_OUT + 2; k++) free(blocks[k]);
  jit_free(jm);
  ir_program_free(&p);
}

static int64_t ulps(float a, float b) {
  int32_t x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  if (x < 0) x = INT32_MIN - x;
  if (y < 0) y = INT32_MIN - y;
  return x > y ? (int64_t)x - y : (int64_t)y - x;
}

static bool f32_special_pow(float x, float y) { return !(x > 0) || isinf(x) || !isfinite(y); }

/* f32 exp, log, log1p, tanh, sigmoid and pow are double-precision
 * polynomials rounded once: the correctly rounded value (double libm,
 * rounded) with rare 1-ulp exceptions at near-ties; special pow lanes are
 * libm's powf. */
static void test_math_f32(void **state) {
  IrProgram p;
  prog_math(&p, OPTK_F32);
  JitModule *jm = jit(&p);
  int64_t n = 100003, inexact = 0;
  float *blocks[MATH_OUT + 2], *v[MATH_OUT + 2];
  void *bufs[MATH_OUT + 4] = {NULL, NULL};
  for (int k = 0; k < MATH_OUT + 2; k++) v[k] = unaligned_f32(n, &blocks[k]), bufs[k + 2] = v[k];
  uint64_t s = 6;
  for (int64_t i = 0; i < n; i++)
    v[0][i] = (float)math_input(i, &s), v[1][i] = (float)math_input((i * 3) % n, &s) / 4;
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1};
  sweep_chunks(jit_descriptor(jm)->sweep_fns[0], &ctx, OPTK_BLOCK);
  for (int64_t i = 0; i < n; i++) {
    float x = v[0][i], y = v[1][i], e = (float)exp(-(double)x);
    float want[] = {(float)exp(x), (float)log(x), (float)log1p(x), (float)tanh(x), 1.0f / (1.0f + e),
                    f32_special_pow(x, y) ? powf(x, y) : (float)pow(x, y)};
    float got[] = {v[2][i], v[3][i], v[4][i], v[5][i], v[6][i], v[13][i]};
    for (int k = 0; k < 6; k++) {
      if (same_bits(got[k], want[k])) continue;
      inexact++;
      if (ulps(got[k], want[k]) > 1)
        fail_msg("f32 op %d x=%a y=%a: %a vs %a", k, x, y, got[k], want[k]);
    }
    assert_true(same_bits(v[9][i], sqrtf(x)));
  }
  assert_true(inexact * 10000 < n); /* near-ties only */
  for (int k = 0; k < MATH_OUT + 2; k++) free(blocks[k]);
  jit_free(jm);
  ir_program_free(&p);
}

/* The polynomials on every exponent range and sign: huge, tiny, denormal,
 * overflowing, NaN and infinite arguments (random bit patterns), and a
 * dense sweep of [-115, 105]. */
static void test_transcendentals_f32_ranges(void **state) {
  IrProgram p;
  prog_math(&p, OPTK_F32);
  JitModule *jm = jit(&p);
  int64_t n = 200000, inexact = 0;
  float *blocks[MATH_OUT + 2], *v[MATH_OUT + 2];
  void *bufs[MATH_OUT + 4] = {NULL, NULL};
  for (int k = 0; k < MATH_OUT + 2; k++) v[k] = unaligned_f32(n, &blocks[k]), bufs[k + 2] = v[k];
  uint64_t s = 11;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)lcg(&s);
    memcpy(&v[0][i], &bits, 4);
    if (i % 2) v[0][i] = (float)((double)lcg(&s) / 9007199254740992.0 * 220 - 115);
    v[1][i] = (float)((double)lcg(&s) / 9007199254740992.0 * 8 - 4);
  }
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1};
  sweep_chunks(jit_descriptor(jm)->sweep_fns[0], &ctx, 5 * OPTK_BLOCK);
  for (int64_t i = 0; i < n; i++) {
    float x = v[0][i], y = v[1][i];
    float want[] = {(float)exp(x), (float)log(x), (float)log1p(x), (float)tanh(x),
                    f32_special_pow(x, y) ? powf(x, y) : (float)pow(x, y)};
    float got[] = {v[2][i], v[3][i], v[4][i], v[5][i], v[13][i]};
    for (int k = 0; k < 5; k++) {
      if (same_bits(got[k], want[k])) continue;
      inexact++;
      if (ulps(got[k], want[k]) > 1) fail_msg("f32 fn %d x=%a y=%a: %a vs %a", k, x, y, got[k], want[k]);
    }
  }
  assert_true(inexact * 10000 < n);
  for (int k = 0; k < MATH_OUT + 2; k++) free(blocks[k]);
  jit_free(jm);
  ir_program_free(&p);
}

/* ---- SCALAR stages ------------------------------------------------------------------------- */

static void prog_scalar(IrProgram *p) {
  ir_program_init(p, "scalar");
  ir_program_add_hyper(p, "a", 1, 0, 0, 0);
  ir_program_add_hyper(p, "b", 2, 0, 0, 0);
  ir_program_add_sstate(p, "s64", OPTK_F64, 0);
  ir_program_add_sstate(p, "s32", OPTK_F32, 0);
  ir_program_add_sstate(p, "s16", OPTK_BF16, 0);
  p->nred = 2;
  p->nslot = 4;
  IrStage *s = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_scalar(0)));
  int third = ir_emit_const(p, s, 1.0 / 3);
  for (int k = 0; k < 3; k++)
    ir_emit_set(p, s, IR_SSTATE_SET, k, ir_emit(p, s, IR_ADD, ir_emit_leaf(p, s, IR_SSTATE, k), third, -1));
  int old = ir_emit_leaf(p, s, IR_SSTATE, 0), t = ir_emit_leaf(p, s, IR_STEP, 0);
  int v0 = ir_emit(p, s, IR_FMA, old, ir_emit_leaf(p, s, IR_HYPER, 1), t);
  ir_emit_set(p, s, IR_SLOT_SET, 0, v0);
  int nr = ir_emit(p, s, IR_MUL, ir_emit_leaf(p, s, IR_NUMEL, 0), ir_emit_leaf(p, s, IR_ROWS, 0), -1);
  int v1 = ir_emit(p, s, IR_SUB, ir_emit(p, s, IR_ADD, ir_emit_leaf(p, s, IR_LOSS, 0), nr, -1),
                   ir_emit_leaf(p, s, IR_COLS, 0), -1);
  ir_emit_set(p, s, IR_SLOT_SET, 1, ir_emit(p, s, IR_ADD, v1, ir_emit_leaf(p, s, IR_RED, 1), -1));
  int again = ir_emit_leaf(p, s, IR_SLOT, 0);
  ir_emit_set(p, s, IR_SLOT_SET, 2, ir_emit(p, s, IR_ADD, again, again, -1));
  int tm1 = ir_emit(p, s, IR_SUB, t, ir_emit_const(p, s, 1), -1);
  ir_emit_set(p, s, IR_SLOT_SET, 3, ir_emit(p, s, IR_MOD, tm1, ir_emit_const(p, s, 3), -1));
}

static void test_scalar_stage(void **state) {
  IrProgram p;
  prog_scalar(&p);
  JitModule *jm = jit(&p);
  double hyper[2] = {1, 2.5}, red[2] = {0, 0.125}, ss[3] = {0.1, 0.1, 0.1}, slot[4] = {0};
  OptkScalarCtx c = {.hyper = hyper, .t = 8, .f = 3, .n = 12, .rows = 3, .cols = 4,
                     .red = red, .sstate = ss, .slot = slot};
  jit_descriptor(jm)->scalar_fns[0](&c);
  assert_true(ss[0] == 0.1 + 1.0 / 3);
  assert_true(ss[1] == (double)(float)(0.1 + 1.0 / 3));
  assert_true(ss[2] == (double)optk_bf16_to_f32(optk_f32_to_bf16((float)(0.1 + 1.0 / 3))));
  assert_true(slot[0] == fma(0.1, 2.5, 8)); /* the entry value of s64 */
  assert_true(slot[1] == 3 + 12.0 * 3 - 4 + 0.125);
  assert_true(slot[2] == 2 * slot[0]);
  assert_true(slot[3] == 1);
  jit_free(jm);
  ir_program_free(&p);
}

/* ---- bad programs are errors, not crashes ---------------------------------------------------- */

static void expect_error(IrProgram *p, const char *needle) {
  char *err = jit_error_of(p);
  if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
  free(err);
  ir_program_free(p);
}

static IrStage *bad_base(IrProgram *p, OptkOpKind kind) {
  ir_program_init(p, "bad");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "R", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_ONE);
  OptkOp op = kind == OPTK_OP_SWEEP ? ir_op_sweep(0) : ir_op_scalar(0);
  return ir_program_stage(p, false, ir_program_add_stage(p, false, op));
}

static void test_bad_programs(void **state) {
  IrProgram p;
  IrStage *s = bad_base(&p, OPTK_OP_SWEEP);
  ir_emit(&p, s, IR_ADD, 0, 1, -1);
  expect_error(&p, "not an earlier value");
  s = bad_base(&p, OPTK_OP_SWEEP);
  ir_emit_leaf(&p, s, IR_LOAD, 9);
  expect_error(&p, "LOAD index 9 out of range");
  s = bad_base(&p, OPTK_OP_SWEEP);
  ir_emit_leaf(&p, s, IR_HYPER, 0);
  expect_error(&p, "HYPER is not allowed in a SWEEP stage");
  s = bad_base(&p, OPTK_OP_SWEEP);
  ir_emit_set(&p, s, IR_STORE, 1, ir_emit_const(&p, s, 1));
  expect_error(&p, "not elementwise");
  s = bad_base(&p, OPTK_OP_SCALAR);
  ir_program_add_stage(&p, false, ir_op_scalar(0));
  expect_error(&p, "used twice");
  s = bad_base(&p, OPTK_OP_SCALAR);
  ir_program_add_stage(&p, false, ir_op_scalar(2));
  expect_error(&p, "SCALAR function 1 is missing");
  s = bad_base(&p, OPTK_OP_SCALAR);
  ir_stage_add_inst(&p, s, (IrInst){.op = (IrOp)999, .args = {-1, -1, -1}});
  expect_error(&p, "unknown opcode");
  s = bad_base(&p, OPTK_OP_SWEEP);
  int c = ir_emit_const(&p, s, 1);
  ir_emit_reduce(&p, s, 0, OPTK_RED_SUM, c);
  expect_error(&p, "REDUCE index 0 out of range");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_axpy_sizes),
      cmocka_unit_test(test_descriptor),
      cmocka_unit_test(test_reductions_chunkings),
      cmocka_unit_test(test_reductions_vector_widths),
      cmocka_unit_test(test_prefetch_in_reduction_sweeps),
      cmocka_unit_test(test_rng_matches_optk),
      cmocka_unit_test(test_bf16_rounding),
      cmocka_unit_test(test_broadcast_2d),
      cmocka_unit_test(test_math_f64),
      cmocka_unit_test(test_math_f32),
      cmocka_unit_test(test_transcendentals_f32_ranges),
      cmocka_unit_test(test_scalar_stage),
      cmocka_unit_test(test_bad_programs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

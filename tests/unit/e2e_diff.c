/* e2e_diff.c: JIT, AOT and the reference interpreter agree on the stdlib.
 *
 * For every stdlib .opt file that builds and needs nothing beyond the loss,
 * Hessian-vector products (a diagonal Hessian, see hess_diag) and gnb()
 * (fixed vectors, see gnb_value),
 * one parameter group of tensors with awkward sizes (1, 7, 15, 4099 and
 * 1000003 elements, all at unaligned addresses; liboptrt refuses empty
 * tensors, so size 0 is covered by back_codegen.c) takes STEPS steps with
 * the same deterministic pseudo-random gradients (and losses) in three
 * engines:
 *   - the interpreter (compiler/interp.h, double arithmetic),
 *   - the JIT descriptor (optc_jit_compile) driven by liboptrt,
 *   - the AOT library (optc_compile_library + optrt_open_library).
 * After every step the JIT and AOT parameters must be bit-identical (same
 * code generator, same CPU), and both must match the interpreter within
 * |a - b| <= REL * max(|a|, |b|) + ABS.  Then the JIT and AOT engines take
 * the interpreter's parameters and tensor states, so the bound applies to
 * one step's error: f32 sweeps against a double interpreter drift apart by
 * a few ulps per step (AdamW's decay `p * (1 - lr * wd)` alone rounds the
 * same way step after step), which over 50 free-running steps exceeds
 * 1e-6 without any bug.  A rare element may land on the other side of a
 * discontinuity (OUTLIER_RATE).  The big tensor runs fewer steps
 * (BIG_STEPS) to keep the interpreter's share of the test short; the
 * small ones run all STEPS.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"
#include "stdlib_prog.h"

#define STDLIB_DIR OPTC_SOURCE_DIR "/stdlib"

enum { STEPS = 50, BIG_STEPS = 4, MAX_T = 5, ENGINES = 3 };
/* One element-step in this many (plus one) may exceed the tolerance: where
 * a rule branches on a value that is zero up to rounding (lion's
 * sign(beta1 * m + (1 - beta1) * g) when the two terms cancel), f32 and
 * double arithmetic legitimately take different sides. */
enum { OUTLIER_RATE = 100000 };
/* prefix + mkdtemp's six-character template. */
static char *temp_template(const char *prefix) {
  Str s = {0};
  str_puts(&s, prefix);
  for (int i = 0; i < 6; i++) str_putc(&s, 'X');
  return str_take(&s);
}

static const double REL = 1e-6, ABS_TOL = 1e-7;
static const uint64_t SEED = 1234;

typedef struct Tensors {
  int nt;
  int64_t n[MAX_T];
  float *blk[ENGINES][2][MAX_T]; /* allocations (p, g) */
  float *p[ENGINES][MAX_T], *g[ENGINES][MAX_T];
} Tensors;

typedef struct Engines {
  IrProgram prog;
  Interp *in;
  OptcJit *jit;
  OptrtKernel *kernel[2];
  Optrt *rt[2];
  char *libdir, *lib;
  bool loss, objective;
} Engines;

static float hash_value(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = optk_rng_u64(optk_rng_key(a, b, c, 99), 0);
  return (float)((double)(x >> 40) / 8388608.0 - 1.0); /* [-1, 1) */
}

static double loss_of(int step) { return 2.0 + sin((double)step); }

static void tensors_init(Tensors *t, const int64_t *sizes, int nt) {
  memset(t, 0, sizeof *t);
  t->nt = nt;
  for (int k = 0; k < nt; k++) {
    t->n[k] = sizes[k];
    for (int e = 0; e < ENGINES; e++)
      for (int w = 0; w < 2; w++) {
        t->blk[e][w][k] = malloc(sizeof(float) * (size_t)(sizes[k] + 2));
        (w ? t->g : t->p)[e][k] = t->blk[e][w][k] + 1; /* unaligned for vectors */
      }
    for (int64_t i = 0; i < sizes[k]; i++)
      for (int e = 0; e < ENGINES; e++) t->p[e][k][i] = hash_value((uint64_t)k, (uint64_t)i, 7) * 2;
  }
}

static void tensors_free(Tensors *t) {
  for (int e = 0; e < ENGINES; e++)
    for (int w = 0; w < 2; w++)
      for (int k = 0; k < t->nt; k++) free(t->blk[e][w][k]);
}

static void fill_grads(Tensors *t, int step) {
  for (int k = 0; k < t->nt; k++)
    for (int64_t i = 0; i < t->n[k]; i++) {
      float v = hash_value((uint64_t)step, (uint64_t)k, (uint64_t)i);
      for (int e = 0; e < ENGINES; e++) t->g[e][k][i] = v;
    }
}

/* The objective seen by all engines: losses from loss_of(), the fixed
 * gradients of fill_grads(), and a diagonal Hessian hess_diag() (values
 * exact in f32, so f32 and double products agree on exact vectors). */
typedef struct Objective {
  int step;
  const Tensors *t;
} Objective;

static double hess_diag(int k, int64_t i) { return 0.5 + (double)((i + k) % 5) * 0.25; }

static int value_grad(void *user, double *loss, int want_grad) {
  *loss = loss_of(((Objective *)user)->step);
  return 0;
}

static int rt_hvp(void *user, const float *const *v, float *const *hv) {
  const Tensors *t = ((Objective *)user)->t;
  for (int k = 0; k < t->nt; k++)
    for (int64_t i = 0; hv[k] && i < t->n[k]; i++)
      hv[k][i] = v[k] ? (float)(hess_diag(k, i) * v[k][i]) : 0.0f;
  return 0;
}

static int interp_hvp(void *user, int ntensors, const double *const *v, double *const *out,
                      char **err) {
  const Tensors *t = user;
  for (int k = 0; k < ntensors; k++)
    for (int64_t i = 0; i < t->n[k]; i++) out[k][i] = hess_diag(k, i) * v[k][i];
  return 0;
}

/* Sophia's Gauss-Newton-Bartlett gradient: fixed f32 values per element,
 * the same at every call. */
static float gnb_value(int k, int64_t i) { return hash_value((uint64_t)k, (uint64_t)i, 11); }

static int rt_gnb(void *user, float *const *out) {
  const Tensors *t = ((Objective *)user)->t;
  for (int k = 0; k < t->nt; k++)
    for (int64_t i = 0; out[k] && i < t->n[k]; i++) out[k][i] = gnb_value(k, i);
  return 0;
}

static int interp_gnb(void *user, int ntensors, double *const *out, char **err) {
  const Tensors *t = user;
  (void)err;
  for (int k = 0; k < ntensors; k++)
    for (int64_t i = 0; i < t->n[k]; i++) out[k][i] = gnb_value(k, i);
  return 0;
}

static bool load_program(Engines *en, const char *path) {
  int errors = test_build_file(&en->prog, path);
  uint32_t host = OPTK_NEED_HESSIAN | OPTK_NEED_LINESEARCH | OPTK_NEED_2D;
  if (errors || (en->prog.needs & host)) return false;
  en->objective = (en->prog.needs & (OPTK_NEED_LOSS | OPTK_NEED_HVP | OPTK_NEED_GNB)) != 0;
  en->loss = (en->prog.needs & OPTK_NEED_LOSS) != 0;
  return true;
}

static Optrt *make_runtime(OptrtKernel *k, Tensors *t, int e) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  cfg.seed = SEED;
  char *err = NULL;
  Optrt *rt = optrt_create(k, &cfg, &err);
  if (!rt) fail_msg("optrt_create: %s", err);
  assert_int_equal(optrt_add_group(rt, NULL), 0);
  for (int i = 0; i < t->nt; i++)
    if (optrt_add_param(rt, 0, t->p[e][i], t->g[e][i], t->n[i], 0) < 0)
      fail_msg("add_param: %s", optrt_last_error(rt));
  return rt;
}

static void make_engines(Engines *en, const char *path, const char *source, Tensors *t) {
  char *err = NULL;
  InterpOptions io = {.seed = SEED, .host = {.user = t, .hvp = interp_hvp, .gnb = interp_gnb}};
  en->in = interp_create(&en->prog, &io, &err);
  if (!en->in) fail_msg("%s: interp_create: %s", path, err);
  for (int k = 0; k < t->nt; k++)
    if (interp_add_tensor(en->in, t->p[0][k], t->g[0][k], t->n[k], 1, &err) < 0)
      fail_msg("%s: interp_add_tensor: %s", path, err);
  OptcOptions o;
  optc_options_init(&o);
  /* Three code generation threads: rules with enough work are split into
   * parts (compiler/codegen_split.c) while AOT builds one module, so the
   * bit-for-bit check below also shows that the split changes no code. */
  o.jit_threads = 3;
  en->jit = optc_jit_compile(path, source, strlen(source), &o);
  if (!en->jit) fail_msg("%s: JIT failed", path);
  en->kernel[0] = optrt_wrap_descriptor(optc_jit_descriptor(en->jit), &err);
  if (!en->kernel[0]) fail_msg("%s: wrap: %s", path, err);
  en->libdir = temp_template("/tmp/optc-e2e-");
  if (!mkdtemp(en->libdir)) fail_msg("mkdtemp");
  Str s = {0};
  str_printf(&s, "%s/lib.so", en->libdir);
  en->lib = str_take(&s);
  if (optc_compile_library(path, en->lib, &o)) fail_msg("%s: AOT failed", path);
  en->kernel[1] = optrt_open_library(en->lib, &err);
  if (!en->kernel[1]) fail_msg("%s: open_library: %s", path, err);
  for (int e = 0; e < 2; e++) en->rt[e] = make_runtime(en->kernel[e], t, e + 1);
}

static void free_engines(Engines *en) {
  for (int e = 0; e < 2; e++) {
    if (en->rt[e]) optrt_destroy(en->rt[e]);
    if (en->kernel[e]) optrt_kernel_close(en->kernel[e]);
  }
  optc_jit_free(en->jit);
  interp_free(en->in);
  ir_program_free(&en->prog);
  if (en->lib) unlink(en->lib);
  if (en->libdir) rmdir(en->libdir);
  free(en->lib);
  free(en->libdir);
}

static void step_all(Engines *en, const Tensors *t, int step, const char *path) {
  char *err = NULL;
  if (interp_step(en->in, en->loss ? loss_of(step) : NAN, &err))
    fail_msg("%s: interp step %d: %s", path, step, err);
  Objective obj = {step, t};
  OptrtObjective o = {.user = &obj, .value_grad = value_grad, .hvp = rt_hvp, .gnb_grad = rt_gnb};
  for (int e = 0; e < 2; e++) {
    int rc = en->objective ? optrt_step_objective(en->rt[e], &o) : optrt_step(en->rt[e]);
    if (rc) fail_msg("%s: %s step %d: %s", path, e ? "AOT" : "JIT", step, optrt_last_error(en->rt[e]));
  }
}

/* Compares after one step; returns the elements outside the tolerance. */
static int64_t compare(const Tensors *t, int step, const char *path) {
  int64_t outliers = 0;
  for (int k = 0; k < t->nt; k++)
    for (int64_t i = 0; i < t->n[k]; i++) {
      float a = t->p[1][k][i], b = t->p[2][k][i], r = t->p[0][k][i];
      if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("%s step %d tensor %d [%lld]: JIT %a != AOT %a", path, step, k, (long long)i, a, b);
      double tol = REL * fmax(fabs((double)a), fabs((double)r)) + ABS_TOL;
      if (!(fabs((double)a - (double)r) <= tol) && !(isnan(a) && isnan(r))) outliers++;
    }
  return outliers;
}

static void store_as(void *dst, OptkDType dt, int64_t i, double v) {
  if (dt == OPTK_F64) ((double *)dst)[i] = v;
  else if (dt == OPTK_BF16) ((uint16_t *)dst)[i] = optk_f32_to_bf16((float)v);
  else ((float *)dst)[i] = (float)v;
}

/* JIT and AOT continue from the interpreter's p and tensor states. */
static void resync(Engines *en, Tensors *t) {
  const OptkDescriptor *d = optc_jit_descriptor(en->jit);
  for (int k = 0; k < t->nt; k++) {
    for (int e = 1; e < ENGINES; e++)
      memcpy(t->p[e][k], t->p[0][k], sizeof(float) * (size_t)t->n[k]);
    for (uint32_t b = 2; b < d->nbuf; b++) {
      if (d->bufs[b].role != OPTK_BUF_STATE) continue;
      int64_t cnt = 0, count = 0;
      const double *src = interp_buffer(en->in, k, (int)b, &cnt);
      for (int e = 0; e < 2 && src; e++) {
        OptkDType dt;
        void *dst = optrt_state_data(en->rt[e], 0, k, d->bufs[b].name, &dt, &count);
        assert_non_null(dst);
        assert_int_equal(count, cnt);
        for (int64_t i = 0; i < cnt; i++) store_as(dst, dt, i, src[i]);
      }
    }
  }
}

/* Returns false when the rule does not build or needs a host objective. */
static bool run_rule(const char *path, const int64_t *sizes, int nt, int steps) {
  Engines en = {0};
  if (!load_program(&en, path)) {
    ir_program_free(&en.prog);
    return false;
  }
  char *source = NULL, *err = NULL;
  size_t len = 0;
  if (util_read_file(path, 1 << 20, &source, &len, &err)) fail_msg("%s", err);
  Tensors t;
  int64_t outliers = 0;
  tensors_init(&t, sizes, nt);
  make_engines(&en, path, source, &t);
  for (int s = 1; s <= steps; s++) {
    fill_grads(&t, s);
    step_all(&en, &t, s, path);
    outliers += compare(&t, s, path);
    resync(&en, &t);
  }
  int64_t total = 0;
  for (int k = 0; k < nt; k++) total += sizes[k] * steps;
  if (outliers > total / OUTLIER_RATE + 1)
    fail_msg("%s: %lld of %lld element-steps differ from the interpreter by more than %g relative",
             path, (long long)outliers, (long long)total, REL);
  free_engines(&en);
  tensors_free(&t);
  free(source);
  return true;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .opt path in stdlib/, sorted. */
static int stdlib_files(char ***out) {
  DIR *d = opendir(STDLIB_DIR);
  assert_non_null(d);
  char **files = NULL;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".opt") != 0) continue;
    files = realloc(files, sizeof *files * (size_t)(n + 1));
    Str s = {0};
    str_printf(&s, "%s/%s", STDLIB_DIR, e->d_name);
    files[n++] = str_take(&s);
  }
  closedir(d);
  qsort(files, (size_t)n, sizeof *files, by_name);
  *out = files;
  return n;
}

static void test_stdlib_small(void **state) {
  static const int64_t sizes[] = {1, 7, 15, 4099};
  char **files;
  int n = stdlib_files(&files), ran = 0;
  assert_true(n > 0);
  for (int i = 0; i < n; i++) ran += run_rule(files[i], sizes, 4, STEPS), free(files[i]);
  free(files);
  print_message("%d of %d stdlib rules compared\n", ran, n);
  assert_true(ran > 0);
}

static void test_stdlib_big(void **state) {
  static const int64_t sizes[] = {7, 1000003};
  char **files;
  int n = stdlib_files(&files);
  for (int i = 0; i < n; i++) run_rule(files[i], sizes, 2, BIG_STEPS), free(files[i]);
  free(files);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stdlib_small),
      cmocka_unit_test(test_stdlib_big),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

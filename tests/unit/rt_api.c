/* rt_api.c: liboptrt's API surface and its error paths: kernels (magic,
 * ABI version, size, bad plans, libraries without the symbol, a library
 * built here with a wrong ABI), groups, parameters and shape checks,
 * hypers (unknown with did-you-mean, out of range, unchanged after an
 * error), needs refusal, state access, the allocation hook (every
 * allocation failing in turn fails cleanly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hand_kernels.h"
#include "optrt.h"
#include "rt_util.h"

static OptrtKernel *wrap(const OptkDescriptor *d) {
  char *err = NULL;
  OptrtKernel *k = optrt_wrap_descriptor(d, &err);
  if (!k) fail_msg("wrap %s: %s", d->name, err);
  return k;
}

static void expect_wrap_error(const OptkDescriptor *d, const char *text) {
  char *err = NULL;
  assert_null(optrt_wrap_descriptor(d, &err));
  assert_non_null(err);
  if (!strstr(err, text)) fail_msg("error '%s' lacks '%s'", err, text);
  free(err);
}

static void test_descriptor_checks(void **state) {
  OptkDescriptor d = hk_sgdm;
  d.magic = 0x1234;
  expect_wrap_error(&d, "not an optc kernel (magic 0x00001234");
  d = hk_sgdm;
  d.abi_version = 2;
  expect_wrap_error(&d, "kernel ABI version 2, this runtime supports 1");
  d = hk_sgdm;
  d.size = 8;
  expect_wrap_error(&d, "descriptor size 8, this runtime expects");
  d = hk_sgdm;
  d.name = "";
  expect_wrap_error(&d, "no optimizer name");
  expect_wrap_error(NULL, "no descriptor");
  OptkOp back[] = {{OPTK_OP_SCALAR, 0, 0, 0, 0, 0, 0, 0}, {OPTK_OP_JUMP, 0, 0, 0, 0, 0, 0, 0}};
  d = hk_sgdm;
  d.ops = back;
  d.nops = 2;
  expect_wrap_error(&d, "jump target not forward");
  OptkOp sweep9[] = {{OPTK_OP_SWEEP, 9, 0, 0, 0, 0, 0, 0}};
  d.ops = sweep9;
  d.nops = 1;
  expect_wrap_error(&d, "invalid descriptor of 'sgdm': SWEEP function out of range");
  OptkOp hvp_init[] = {{OPTK_OP_HVP, 0, 0, 0, 0, 2, 0, 0}};
  d = hk_sgdm;
  d.init_ops = hvp_init;
  expect_wrap_error(&d, "host call in the init plan");
  OptkBuffer bufs[3];
  memcpy(bufs, hk_sgdm.bufs, sizeof bufs);
  bufs[1].role = OPTK_BUF_STATE;
  d = hk_sgdm;
  d.bufs = bufs;
  expect_wrap_error(&d, "buffers 0 and 1 must be p and g in f32");
  OptrtKernel *k = wrap(&hk_sgdm);
  assert_ptr_equal(optrt_kernel_descriptor(k), &hk_sgdm);
  optrt_kernel_close(k);
  optrt_kernel_close(NULL);
}

static void test_open_library_errors(void **state) {
  char *err = NULL;
  assert_null(optrt_open_library("/nonexistent/libx.so", &err));
  assert_non_null(strstr(err, "/nonexistent/libx.so: cannot load"));
  free(err);
  err = NULL;
  assert_null(optrt_open_library("libm.so.6", &err));
  assert_non_null(strstr(err, "libm.so.6: no symbol 'optk_descriptor'"));
  free(err);
  assert_null(optrt_open_library(NULL, NULL));
}

/* Builds a one-file library with the system C compiler, if there is one. */
static int build_lib(const char *dir, const char *name, unsigned abi, char *out, size_t cap) {
  char src[512], cmd[2048];
  snprintf(src, sizeof src, "%s/%s.c", dir, name);
  snprintf(out, cap, "%s/lib%s.so", dir, name);
  FILE *f = fopen(src, "w");
  if (!f) return -1;
  fprintf(f, "#include \"optk.h\"\n"
             "static void s(const OptkSweepCtx *c, long long b, long long e) {\n"
             "  float *p = c->buf[0]; const float *g = c->buf[1];\n"
             "  for (long long i = b; i < e; i++) p[i] -= 0.5f * g[i]; }\n"
             "static const OptkBuffer B[] = {{\"p\",0,0,3,0,0},{\"g\",1,0,3,0,0}};\n"
             "static const OptkOp O[] = {{1,0,0,0,0,0,0,0}};\n"
             "static const OptkSweepFn W[] = {(OptkSweepFn)s};\n"
             "const OptkDescriptor optk_descriptor = {.magic = OPTK_MAGIC, .abi_version = %uu,\n"
             "  .size = sizeof(OptkDescriptor), .name = \"half\", .nbuf = 2, .nops = 1,\n"
             "  .nsweep_fns = 1, .bufs = B, .ops = O, .sweep_fns = W};\n",
          abi);
  fclose(f);
  snprintf(cmd, sizeof cmd, "cc -shared -fPIC -I%s/runtime/include -o %s %s 2>/dev/null",
           OPTC_SOURCE_DIR, out, src);
  int rc = system(cmd);
  unlink(src);
  return rc == 0 ? 0 : -1;
}

static void test_built_libraries(void **state) {
  char dir[128], good[512], bad[512];
  rtu_tmpdir(dir, sizeof dir, "lib");
  if (build_lib(dir, "good", OPTK_ABI_VERSION, good, sizeof good) ||
      build_lib(dir, "old", 2, bad, sizeof bad)) {
    rmdir(dir);
    skip();
  }
  char *err = NULL;
  assert_null(optrt_open_library(bad, &err));
  assert_non_null(strstr(err, "libold.so: kernel ABI version 2, this runtime supports 1"));
  free(err);
  OptrtKernel *k = optrt_open_library(good, &err);
  assert_non_null(k);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[3] = {1, 2, 3}, g[3] = {2, 2, 2};
  assert_int_equal(optrt_add_param(o, optrt_add_group(o, NULL), p, g, 3, 0), 0);
  assert_int_equal(optrt_step(o), 0);
  assert_true(p[0] == 0.0f && p[1] == 1.0f && p[2] == 2.0f);
  optrt_destroy(o);
  optrt_kernel_close(k);
  unlink(good);
  unlink(bad);
  rmdir(dir);
}

static void test_create_and_groups(void **state) {
  OptrtKernel *k = wrap(&hk_sgdm);
  char *err = NULL;
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = -1;
  assert_null(optrt_create(k, &cfg, &err));
  assert_string_equal(err, "threads must be in [0, 1024]");
  free(err);
  cfg.threads = 0;
  const int64_t bad_chunks[] = {-1, ((int64_t)1 << 40) + 1, INT64_MAX};
  for (int i = 0; i < 3; i++) {
    cfg.chunk_elems = bad_chunks[i];
    assert_null(optrt_create(k, &cfg, &err));
    assert_string_equal(err, "chunk_elems must be in [0, 2^40]");
    free(err);
  }
  cfg.chunk_elems = 0;
  assert_null(optrt_create(NULL, NULL, NULL));
  Optrt *o = optrt_create(k, &cfg, NULL);
  assert_true(optrt_threads(o) >= 1);
  assert_int_equal(optrt_add_group(o, NULL), 0);
  assert_int_equal(optrt_add_group(o, k), 1);
  assert_int_equal(optrt_num_groups(o), 2);
  assert_int_equal(optrt_num_params(o, 5), -1);
  assert_string_equal(optrt_last_error(o), "no group 5 (the optimizer has 2)");
  assert_int_equal(optrt_step_count(o, 0), 0);
  assert_int_equal(optrt_step(o), 0); /* empty groups: nothing to do */
  assert_int_equal(optrt_step_count(o, 0), 0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_add_param_errors(void **state) {
  OptrtKernel *k = wrap(&hk_sgdm), *km = wrap(&hk_allmat), *kn = wrap(&hk_newton);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[64] = {0}, g[64] = {0};
  int g0 = optrt_add_group(o, NULL), gm = optrt_add_group(o, km), gn = optrt_add_group(o, kn);
  assert_int_equal(optrt_add_param(o, 9, p, g, 4, 0), -1);
  assert_int_equal(optrt_add_param(o, g0, NULL, g, 4, 0), -1);
  assert_string_equal(optrt_last_error(o), "add_param: parameter and gradient must not be NULL");
  assert_int_equal(optrt_add_param(o, g0, p, g, 0, 3), -1);
  assert_non_null(strstr(optrt_last_error(o), "invalid shape 0 x 3"));
  assert_int_equal(optrt_add_param(o, g0, p, g, 4, -2), -1);
  assert_int_equal(optrt_add_param(o, gm, p, g, 8, 0), -1);
  assert_string_equal(optrt_last_error(o), "group 1 (allmat): the rule works on 2-D parameters only; "
                                           "parameter 0 is 1-D (cols = 0)");
  assert_int_equal(optrt_add_param(o, gm, p, g, 8, 4), 0);
  assert_int_equal(optrt_add_param(o, gm, p, g, 4, 1), 1); /* 2-D, one column */
  assert_int_equal(optrt_add_param(o, gn, p, g, 3, 0), 0);
  assert_int_equal(optrt_add_param(o, gn, p, g, 3, 0), -1);
  assert_non_null(strstr(optrt_last_error(o), "dense Hessian and takes one parameter per group"));
  assert_int_equal(optrt_num_params(o, gm), 2);
  assert_int_equal(optrt_add_param(o, g0, p, g, 2, 3), 0);
  assert_int_equal(optrt_num_params(o, g0), 1);
  optrt_destroy(o);
  optrt_kernel_close(k);
  optrt_kernel_close(km);
  optrt_kernel_close(kn);
}

static void test_matop_shape_check(void **state) {
  /* c = a @ b with a = g (rows x cols) and b = g: needs cols == rows */
  static const OptkBuffer B[] = {{"p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
                                 {"g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
                                 {"sq", OPTK_BUF_SCRATCH, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_COLS, 0}};
  static const OptkOp O[] = {{OPTK_OP_MATOP, OPTK_MAT_GEMM, 0, 0, 1, 1, 2, -1}};
  OptkDescriptor d = hk_sgdm;
  d.name = "square";
  d.bufs = B;
  d.nbuf = 3;
  d.ops = O;
  d.nops = 1;
  d.ninit_ops = 0;
  OptrtKernel *k = wrap(&d);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[12], g[12];
  int gr = optrt_add_group(o, NULL);
  assert_int_equal(optrt_add_param(o, gr, p, g, 3, 4), -1);
  assert_string_equal(optrt_last_error(o),
                      "group 0 (square): parameter 3 x 4 does not fit the rule's GEMM: "
                      "'g' 3 x 4, 'g' 3 x 4 -> 'sq' 3 x 4");
  assert_int_equal(optrt_add_param(o, gr, p, g, 3, 3), 0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_hypers(void **state) {
  OptrtKernel *k = wrap(&hk_adam);
  Optrt *o = optrt_create(k, NULL, NULL);
  int gr = optrt_add_group(o, NULL);
  double v = 0;
  assert_int_equal(optrt_get_hyper(o, gr, "beta1", &v), 0);
  assert_true(v == 0.9);
  assert_int_equal(optrt_set_hyper(o, gr, "beta1", 0.5), 0);
  assert_int_equal(optrt_set_hyper(o, gr, "beta", 0.7), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (adam) has no hyper 'beta'; did you mean 'beta1'?");
  assert_int_equal(optrt_set_hyper(o, gr, "momentum", 0.7), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (adam) has no hyper 'momentum'");
  assert_int_equal(optrt_set_hyper(o, gr, "beta1", 1.0), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (adam): hyper 'beta1' = 1 is outside its range [0, 1)");
  assert_int_equal(optrt_set_hyper(o, gr, "eps", 0.0), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (adam): hyper 'eps' = 0 is outside its range (0, inf]");
  assert_int_equal(optrt_set_hyper(o, gr, "lr", 0.0 / 0.0), -1);
  assert_int_equal(optrt_set_hyper(o, gr, "lr", -1e-3), -1);
  assert_int_equal(optrt_get_hyper(o, gr, "beta1", &v), 0);
  assert_true(v == 0.5);
  assert_int_equal(optrt_get_hyper(o, gr, "lr", &v), 0);
  assert_true(v == 1e-3);
  assert_int_equal(optrt_get_hyper(o, gr, "lrr", &v), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (adam) has no hyper 'lrr'; did you mean 'lr'?");
  assert_int_equal(optrt_set_hyper(o, 3, "lr", 1), -1);
  int g2 = optrt_add_group(o, NULL); /* groups are independent */
  assert_int_equal(optrt_get_hyper(o, g2, "beta1", &v), 0);
  assert_true(v == 0.9);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_needs_refusal(void **state) {
  OptrtKernel *k = wrap(&hk_lossy), *kh = wrap(&hk_hvpstep);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[4] = {1, 1, 1, 1}, g[4] = {1, 1, 1, 1};
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 4, 0);
  assert_int_equal(optrt_step(o), -1);
  assert_string_equal(optrt_last_error(o), "group 0 (lossy): the rule needs the loss value: call "
                                           "optrt_step_objective with an objective");
  assert_true(p[0] == 1.0f);
  assert_int_equal(optrt_step_count(o, 0), 0);
  OptrtObjective none = {0};
  assert_int_equal(optrt_step_objective(o, &none), -1);
  assert_string_equal(optrt_last_error(o), "step_objective: the objective has no value_grad");
  assert_int_equal(optrt_step_objective(o, NULL), -1);
  optrt_destroy(o);
  o = optrt_create(kh, NULL, NULL);
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 4, 0);
  assert_int_equal(optrt_step(o), -1);
  assert_non_null(strstr(optrt_last_error(o), "needs Hessian-vector products"));
  optrt_destroy(o);
  optrt_kernel_close(k);
  optrt_kernel_close(kh);
}

static void test_state_access(void **state) {
  OptrtKernel *k = wrap(&hk_clip);
  Optrt *o = optrt_create(k, NULL, NULL);
  float p[5] = {1, 2, 3, 4, 5}, g[5] = {0.5f, -0.5f, 1, 0, 2};
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, p, g, 5, 0);
  OptkDType dt;
  int64_t count = 0;
  assert_null(optrt_state_data(o, gr, 0, "u", &dt, &count));
  assert_non_null(strstr(optrt_last_error(o), "created by the first step"));
  assert_ptr_equal(optrt_state_data(o, gr, 0, "p", &dt, &count), p);
  assert_int_equal(count, 5);
  double calls = 0;
  assert_int_equal(optrt_scalar_state(o, gr, 0, "calls", &calls), -1);
  assert_int_equal(optrt_step(o), 0);
  double *u = optrt_state_data(o, gr, 0, "u", &dt, &count);
  assert_non_null(u);
  assert_int_equal(dt, OPTK_F64);
  assert_int_equal(count, 5);
  assert_int_equal((uintptr_t)u % 64, 0);
  assert_null(optrt_state_data(o, gr, 0, "w", NULL, NULL));
  assert_string_equal(optrt_last_error(o), "rule 'clip' has no buffer 'w'");
  assert_null(optrt_state_data(o, gr, 1, "u", NULL, NULL));
  assert_string_equal(optrt_last_error(o), "group 0 has no parameter 1 (it has 1)");
  assert_int_equal(optrt_scalar_state(o, gr, 0, "calls", &calls), 0);
  assert_true(calls == 6.0);
  assert_int_equal(optrt_scalar_state(o, gr, 0, "nope", &calls), -1);
  double gmax = 0;
  assert_int_equal(optrt_scalar_state(o, gr, 0, "gmax", &gmax), 0);
  assert_true(gmax == 2.0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* Allocation hook that counts and can fail the n-th call. */
typedef struct Hook {
  long calls, fail_at, live;
} Hook;

static void *hook_alloc(void *user, void *ptr, size_t size) {
  Hook *h = user;
  if (size == 0) {
    if (ptr) h->live--;
    free(ptr);
    return NULL;
  }
  if (++h->calls == h->fail_at) return NULL;
  void *n = realloc(ptr, size);
  if (n && !ptr) h->live++;
  return n;
}

/* One full life: create, params, step, save, load; returns 0 if all ok. */
static int life(Hook *h, const OptrtKernel *k, const char *path) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 2;
  cfg.alloc = hook_alloc;
  cfg.alloc_user = h;
  Optrt *o = optrt_create(k, &cfg, NULL);
  if (!o) return -1;
  static float p[9000], g[9000];
  rtu_fill(g, 9000, 3);
  int gr = optrt_add_group(o, NULL), rc = gr < 0;
  if (!rc) rc = optrt_add_param(o, gr, p, g, 9000, 0) < 0;
  if (!rc) rc = optrt_add_param(o, gr, p, g, 30, 300) < 0;
  if (!rc) rc = optrt_step(o) || optrt_save(o, path) || optrt_load(o, path);
  if (rc) assert_true(strlen(optrt_last_error(o)) > 0);
  if (rc && h->fail_at == 0) fprintf(stderr, "life: %s\n", optrt_last_error(o));
  optrt_destroy(o);
  return rc ? -1 : 0;
}

static void test_alloc_hook_failures(void **state) {
  OptrtKernel *k = wrap(&hk_clip);
  char dir[128], path[256];
  rtu_tmpdir(dir, sizeof dir, "hook");
  snprintf(path, sizeof path, "%s/ck", dir);
  Hook h = {0, 0, 0};
  assert_int_equal(life(&h, k, path), 0);
  assert_int_equal(h.live, 0);
  long total = h.calls;
  assert_true(total > 10);
  for (long i = 1; i <= total; i++) {
    Hook f = {0, i, 0};
    assert_int_equal(life(&f, k, path), -1);
    assert_int_equal(f.live, 0);
  }
  unlink(path);
  rmdir(dir);
  optrt_kernel_close(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_descriptor_checks), cmocka_unit_test(test_open_library_errors),
      cmocka_unit_test(test_built_libraries),   cmocka_unit_test(test_create_and_groups),
      cmocka_unit_test(test_add_param_errors),  cmocka_unit_test(test_matop_shape_check),
      cmocka_unit_test(test_hypers),            cmocka_unit_test(test_needs_refusal),
      cmocka_unit_test(test_state_access),      cmocka_unit_test(test_alloc_hook_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* e2e_runtime.c: JIT-compiled stdlib rules driven by liboptrt.
 *
 * The generated sweeps' reduction partials meet the runtime's COMBINE:
 * clip.opt (a group-scope norm), lamb.opt (per-tensor norms) and adamw on
 * tensors of several blocks give bit-identical parameters for 1, 2 and 3
 * threads and different chunk sizes, and a JIT kernel checkpoints and
 * resumes bit for bit.  `optc run` prints the same params_sha256 for
 * --threads 1 and 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "optc.h"
#include "optrt.h"
#include "rt_util.h"

static OptcJit *jit_file(const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", OPTC_SOURCE_DIR, rel);
  size_t len = 0;
  unsigned char *src = rtu_read(path, &len);
  assert_non_null(src);
  OptcOptions o;
  optc_options_init(&o);
  OptcJit *j = optc_jit_compile(path, (const char *)src, len, &o);
  free(src);
  if (!j) fail_msg("%s does not compile", rel);
  return j;
}

enum { NT = 3 };
static const int64_t ROWS[NT] = {300, 7, 1}, COLS[NT] = {70, 0, 5000};

/* Trains rule `k` for 4 steps on three tensors; the bytes of p. */
static void train(const OptrtKernel *k, int threads, int64_t chunk, float *out) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  cfg.chunk_elems = chunk;
  Optrt *o = optrt_create(k, &cfg, NULL);
  int gr = optrt_add_group(o, NULL);
  float *p[NT], *g[NT];
  int64_t n[NT], off = 0;
  for (int i = 0; i < NT; i++) {
    n[i] = ROWS[i] * (COLS[i] ? COLS[i] : 1);
    p[i] = out + off;
    g[i] = malloc((size_t)n[i] * 4);
    rtu_fill(p[i], n[i], 1 + (uint64_t)i);
    assert_int_equal(optrt_add_param(o, gr, p[i], g[i], ROWS[i], COLS[i]), i);
    off += n[i];
  }
  for (int s = 0; s < 4; s++) {
    for (int i = 0; i < NT; i++) rtu_fill(g[i], n[i], 10 + (uint64_t)(s * NT + i));
    if (optrt_step(o)) fail_msg("%s", optrt_last_error(o));
  }
  for (int i = 0; i < NT; i++) free(g[i]);
  optrt_destroy(o);
}

static void threads_identical(const char *rel) {
  OptcJit *j = jit_file(rel);
  OptrtKernel *k = optrt_wrap_descriptor(optc_jit_descriptor(j), NULL);
  assert_non_null(k);
  size_t total = 300 * 70 + 7 + 5000;
  float *a = malloc(total * 4), *b = malloc(total * 4);
  train(k, 1, 0, a);
  const int threads[] = {2, 3, 3};
  const int64_t chunks[] = {0, 4096, 8192};
  for (int i = 0; i < 3; i++) {
    train(k, threads[i], chunks[i], b);
    assert_memory_equal(a, b, total * 4);
  }
  free(a);
  free(b);
  optrt_kernel_close(k);
  optc_jit_free(j);
}

static void test_clip_threads(void **state) { threads_identical("stdlib/clip.opt"); }
static void test_lamb_threads(void **state) { threads_identical("stdlib/lamb.opt"); }
static void test_adamw_threads(void **state) { threads_identical("stdlib/adamw.opt"); }

static void test_jit_resume(void **state) {
  OptcJit *j = jit_file("stdlib/adamw.opt");
  OptrtKernel *k = optrt_wrap_descriptor(optc_jit_descriptor(j), NULL);
  char dir[128], path[256];
  rtu_tmpdir(dir, sizeof dir, "e2e");
  snprintf(path, sizeof path, "%s/a.ckpt", dir);
  enum { N = 9000 };
  static float pa[N], pb[N], g[N];
  rtu_fill(pa, N, 3);
  memcpy(pb, pa, sizeof pa);
  Optrt *a = optrt_create(k, NULL, NULL), *b = optrt_create(k, NULL, NULL);
  optrt_add_param(a, optrt_add_group(a, NULL), pa, g, 90, 100);
  optrt_add_param(b, optrt_add_group(b, NULL), pb, g, 90, 100);
  for (int s = 0; s < 6; s++) {
    rtu_fill(g, N, 50 + (uint64_t)s);
    assert_int_equal(optrt_step(a), 0);
    if (s < 3) assert_int_equal(optrt_step(b), 0);
    if (s == 2) {
      assert_int_equal(optrt_save(b, path), 0);
      optrt_destroy(b);
      b = optrt_create(k, NULL, NULL);
      optrt_add_param(b, optrt_add_group(b, NULL), pb, g, 90, 100);
      assert_int_equal(optrt_load(b, path), 0);
    }
    if (s >= 3) assert_int_equal(optrt_step(b), 0);
  }
  assert_memory_equal(pa, pb, sizeof pa);
  optrt_destroy(a);
  optrt_destroy(b);
  unlink(path);
  rmdir(dir);
  optrt_kernel_close(k);
  optc_jit_free(j);
}

/* The last line of `optc run` starting with `key`. */
static void run_line(const char *args, const char *key, char *out, size_t cap) {
  char cmd[2048], line[512];
  snprintf(cmd, sizeof cmd, "%s/optc run %s/%s 2>/dev/null", OPTC_BINARY_DIR, OPTC_SOURCE_DIR, args);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  out[0] = '\0';
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (strncmp(line, key, strlen(key)) != 0) continue;
    n = n < cap ? n : cap - 1;
    memcpy(out, line, n);
    out[n] = '\0';
  }
  pclose(f);
}

static void test_optc_run_threads(void **state) {
  char path[1024];
  snprintf(path, sizeof path, "%s/optc", OPTC_BINARY_DIR);
  if (access(path, X_OK) != 0) skip();
  char a[256], b[256];
  run_line("stdlib/adamw.opt --task softmax --steps 30 --threads 1", "params_sha256:", a, sizeof a);
  run_line("stdlib/adamw.opt --task softmax --steps 30 --threads 2", "params_sha256:", b, sizeof b);
  assert_int_equal(strlen(a), strlen("params_sha256: ") + 64 + 1);
  assert_string_equal(a, b);
  run_line("stdlib/adamw.opt --task softmax --steps 30 --threads 2 --set lr=0.01", "params_sha256:", b,
           sizeof b);
  assert_string_not_equal(a, b);
  /* two rules in one optimizer: the MLP's matrices run lion */
  const char *mixed = "stdlib/adamw.opt --matrix-rule %s/stdlib/lion.opt --task mlp --steps 10 --threads %d";
  char args[1024];
  snprintf(args, sizeof args, mixed, OPTC_SOURCE_DIR, 1);
  run_line(args, "params_sha256:", a, sizeof a);
  snprintf(args, sizeof args, mixed, OPTC_SOURCE_DIR, 2);
  run_line(args, "params_sha256:", b, sizeof b);
  assert_string_equal(a, b);
  run_line(args, "optimizer:", b, sizeof b);
  assert_string_equal(b, "optimizer: adamw + lion (2-D)\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clip_threads), cmocka_unit_test(test_lamb_threads),
      cmocka_unit_test(test_adamw_threads), cmocka_unit_test(test_jit_resume),
      cmocka_unit_test(test_optc_run_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

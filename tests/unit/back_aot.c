/* back_aot.c: shared libraries, textual IR and assembly.
 *
 * A hand-built program and a small .opt source are compiled to shared
 * libraries in a fresh temporary directory, loaded with dlopen, and their
 * `optk_descriptor` checked and run.  Failures (unwritable output, bad
 * source) are reported through the diagnostics callback and leave no file
 * behind.
 */
#include <dirent.h>
#include <pthread.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "back_progs.h"
#include "back.h"
#include "optc.h"

/* prefix + mkdtemp's six-character template. */
static char *temp_template(const char *prefix) {
  Str s = {0};
  str_puts(&s, prefix);
  for (int i = 0; i < 6; i++) str_putc(&s, 'X');
  return str_take(&s);
}

static char *tmpdir_new(void) {
  char *dir = temp_template("/tmp/optc-aot-");
  if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
  return dir;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n;
}

static void remove_dir(char *dir) {
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    Str s = {0};
    str_printf(&s, "%s/%s", dir, e->d_name);
    unlink(s.data);
    str_free(&s);
  }
  if (d) closedir(d);
  rmdir(dir);
  free(dir);
}

static char *path_in(const char *dir, const char *name) {
  Str s = {0};
  str_printf(&s, "%s/%s", dir, name);
  return str_take(&s);
}

static void check_axpy_library(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) fail_msg("dlopen: %s", dlerror());
  const OptkDescriptor *d = dlsym(h, OPTK_DESCRIPTOR_SYMBOL);
  assert_non_null(d);
  assert_int_equal(d->magic, OPTK_MAGIC);
  assert_string_equal(d->name, "axpy");
  assert_null(dlsym(h, "optk_sweep_0")); /* only the descriptor is exported */
  double hyper[1] = {0.5}, slot[1];
  OptkScalarCtx sc = {.hyper = hyper, .t = 9, .slot = slot};
  d->scalar_fns[0](&sc);
  assert_true(slot[0] == 1.5);
  enum { N = 4099 };
  float *p = malloc(sizeof(float) * (N + 1)), *g = malloc(sizeof(float) * (N + 1));
  float *m = malloc(sizeof(float) * (N + 1));
  for (int i = 0; i < N; i++) p[i + 1] = (float)i, g[i + 1] = 2, m[i + 1] = 1;
  void *bufs[3] = {p + 1, g + 1, m + 1};
  OptkSweepCtx ctx = {.buf = bufs, .slot = slot, .n = N, .rows = N, .cols = 1};
  d->sweep_fns[0](&ctx, 0, N);
  for (int i = 0; i < N; i++) {
    assert_true(p[i + 1] == (float)i - 3.0f);
    assert_true(m[i + 1] == 0.9f * 1 + 0.1f * 2);
  }
  free(p), free(g), free(m);
  dlclose(h);
}

static void test_library_from_ir(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  char *dir = tmpdir_new(), *lib = path_in(dir, "libaxpy.so"), *err = NULL;
  CgTarget t = {.opt_level = 2};
  if (aot_compile_library(&p, &t, lib, &err)) fail_msg("aot: %s", err);
  assert_int_equal(count_entries(dir), 1); /* no temporaries left */
  check_axpy_library(lib);
  t.cpu = "x86-64"; /* an explicit target CPU, rebuilt over the old file */
  if (aot_compile_library(&p, &t, lib, &err)) fail_msg("aot: %s", err);
  check_axpy_library(lib);
  free(lib);
  remove_dir(dir);
  ir_program_free(&p);
}

static void test_unwritable_output(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  CgTarget t = {.opt_level = 1};
  char *err = NULL;
  assert_int_equal(aot_compile_library(&p, &t, "/nonexistent-dir/lib.so", &err), -1);
  assert_non_null(strstr(err, "/nonexistent-dir/lib.so"));
  free(err);
  ir_program_free(&p);
}

static void test_emit_text(void **state) {
  IrProgram p;
  back_prog_axpy(&p);
  CgTarget t = {.opt_level = 2};
  char *text = NULL, *err = NULL;
  assert_int_equal(aot_emit_text(&p, &t, AOT_LLVM_IR, &text, &err), 0);
  assert_non_null(strstr(text, "@optk_descriptor = "));
  assert_non_null(strstr(text, "define hidden void @optk_sweep_0(ptr"));
  assert_non_null(strstr(text, "!alias.scope"));
  free(text);
  assert_int_equal(aot_emit_text(&p, &t, AOT_ASSEMBLY, &text, &err), 0);
  assert_non_null(strstr(text, "optk_descriptor:"));
  assert_non_null(strstr(text, "optk_scalar_0:"));
  free(text);
  ir_program_free(&p);
}

/* ---- through the public API from source --------------------------------- */

static const char SGDM[] = "optimizer sgdm\n"
                           "hyper lr = 0.25\n"
                           "state m = 0\n"
                           "update {\n"
                           "  m = 0.5 * m + g\n"
                           "  p = p - lr * m\n"
                           "}\n";

typedef struct Collected {
  int n;
  char text[1024];
} Collected;

static void collect(void *user, const OptcDiagnostic *d) {
  Collected *c = user;
  c->n++;
  size_t len = strlen(c->text);
  snprintf(c->text + len, sizeof c->text - len, "%s\n", d->rendered);
}

static char *write_source(const char *dir, const char *name, const char *text) {
  char *path = path_in(dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_compile_library_api(void **state) {
  char *dir = tmpdir_new();
  char *src = write_source(dir, "sgdm.opt", SGDM), *lib = path_in(dir, "libsgdm.so");
  OptcOptions o;
  optc_options_init(&o);
  Collected c = {0};
  o.diag = collect, o.diag_user = &c;
  if (optc_compile_library(src, lib, &o) != 0) fail_msg("compile: %s", c.text);
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) fail_msg("dlopen: %s", dlerror());
  const OptkDescriptor *d = dlsym(h, OPTK_DESCRIPTOR_SYMBOL);
  assert_non_null(d);
  assert_string_equal(d->name, "sgdm");
  assert_int_equal(d->nhyper, 1);
  assert_true(d->hypers[0].def == 0.25);
  assert_int_equal(strlen(d->source_sha256), 64);
  assert_true(d->nsweep_fns >= 1);
  dlclose(h);
  free(src), free(lib);
  remove_dir(dir);
}

static void test_compile_library_errors(void **state) {
  char *dir = tmpdir_new();
  char *src = write_source(dir, "bad.opt", "optimizer bad\nupdate {\n  p = q\n}\n");
  char *lib = path_in(dir, "libbad.so");
  OptcOptions o;
  optc_options_init(&o);
  Collected c = {0};
  o.diag = collect, o.diag_user = &c;
  assert_int_equal(optc_compile_library(src, lib, &o), -1);
  assert_true(c.n >= 1);
  assert_non_null(strstr(c.text, "bad.opt:3:"));
  assert_int_equal(count_entries(dir), 1); /* only the source */
  c = (Collected){0};
  assert_int_equal(optc_compile_library(lib, src, &o), -1); /* missing input */
  assert_true(c.n == 1);
  free(src), free(lib);
  remove_dir(dir);
}

static void test_jit_api(void **state) {
  OptcOptions o;
  optc_options_init(&o);
  Collected c = {0};
  o.diag = collect, o.diag_user = &c;
  OptcJit *jit = optc_jit_compile("mem.opt", SGDM, strlen(SGDM), &o);
  if (!jit) fail_msg("JIT: %s", c.text);
  const OptkDescriptor *d = optc_jit_descriptor(jit);
  assert_string_equal(d->name, "sgdm");
  assert_true(optc_jit_compile_ms(jit) > 0);
  optc_jit_free(jit);
  static const char bad[] = "optimizer x\nupdate {\n  p = p - nope\n}\n";
  assert_null(optc_jit_compile("bad.opt", bad, strlen(bad), &o));
  assert_non_null(strstr(c.text, "bad.opt:3:"));
  assert_non_null(strstr(c.text, "^"));
  assert_null(optc_jit_compile("nothing.opt", NULL, 0, NULL)); /* no callback: dropped */
  assert_null(optc_jit_descriptor(NULL));
  optc_jit_free(NULL);
}

/* Distinct OptcJit objects from distinct threads (optc.h's promise). */
static void *compile_many(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 4; i++) {
    OptcJit *jit = optc_jit_compile("t.opt", SGDM, strlen(SGDM), NULL);
    const OptkDescriptor *d = optc_jit_descriptor(jit);
    float p[5] = {1, 1, 1, 1, 1}, g[5] = {1, 1, 1, 1, 1}, m[5] = {0};
    void *bufs[3] = {p, g, m};
    double slot[8] = {0};
    double hyper[1] = {0.25};
    OptkScalarCtx sc = {.hyper = hyper, .t = 1, .n = 5, .rows = 5, .cols = 1, .slot = slot};
    OptkSweepCtx sw = {.buf = bufs, .slot = slot, .n = 5, .rows = 5, .cols = 1};
    for (uint32_t k = 0; d && k < d->nops; k++) {
      if (d->ops[k].kind == OPTK_OP_SCALAR) d->scalar_fns[d->ops[k].fn](&sc);
      if (d->ops[k].kind == OPTK_OP_SWEEP) d->sweep_fns[d->ops[k].fn](&sw, 0, 5);
    }
    *ok += d && d->nbuf == 3 && p[4] == 0.75f;
    optc_jit_free(jit);
  }
  return NULL;
}

static void test_jit_threads(void **state) {
  pthread_t th[3];
  int ok[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, compile_many, &ok[i]), 0);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 3; i++) assert_int_equal(ok[i], 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_library_from_ir),
      cmocka_unit_test(test_unwritable_output),
      cmocka_unit_test(test_emit_text),
      cmocka_unit_test(test_compile_library_api),
      cmocka_unit_test(test_compile_library_errors),
      cmocka_unit_test(test_jit_api),
      cmocka_unit_test(test_jit_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

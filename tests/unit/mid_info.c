/* mid_info.c: `optc info` figures of optimizers built from source through
 * the whole middle end (issue 3: Adam/AdamW 1 sweep and 28 bytes, Lion 1
 * and 20, LAMB 2 sweeps, global-norm clipping one more sweep), the JSON
 * form, and the command's exit statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "info.h"
#include "ir_pipeline.h"

#define H_LR "hyper lr = 1e-3 in [0, inf)\n"
#define H_BETAS "hyper beta1 = 0.9 in [0, 1)\nhyper beta2 = 0.999 in [0, 1)\n"
#define H_EPS "hyper eps = 1e-8\n"
#define H_WD "hyper wd = 1e-2\n"
#define H_CLIP "hyper maxnorm = 1 in (0, inf)\n"
#define S_MV "state m = 0\nstate v = 0\n"

#define CLIP "  gc = g * min(1, maxnorm / (group.norm(g) + 1e-6))\n"

#define ADAM_BODY(G, WD)                                   \
  "  m = beta1 * m + (1 - beta1) * " G "\n"                \
  "  v = beta2 * v + (1 - beta2) * " G "^2\n"              \
  "  mhat = m / (1 - beta1^t)\n"                           \
  "  vhat = v / (1 - beta2^t)\n"                           \
  "  p = p - lr * (mhat / (sqrt(vhat) + eps)" WD ")\n"

static const char ADAM[] =
    "optimizer adam\n" H_LR H_BETAS H_EPS S_MV "update {\n" ADAM_BODY("g", "") "}\n";
static const char ADAMW[] = "optimizer adamw\n" H_LR H_BETAS H_EPS H_WD S_MV
                            "update {\n" ADAM_BODY("g", " + wd * p") "}\n";
static const char ADAMW_CLIP[] = "optimizer adamw_clip\n" H_LR H_BETAS H_EPS H_WD H_CLIP S_MV
                                 "update {\n" CLIP ADAM_BODY("gc", " + wd * p") "}\n";

#define LION_BODY(G)                                              \
  "  u = sign(beta1 * m + (1 - beta1) * " G ")\n"                 \
  "  p = p - lr * (u + wd * p)\n"                                 \
  "  m = beta2 * m + (1 - beta2) * " G "\n"

static const char LION[] =
    "optimizer lion\n" H_LR H_BETAS H_WD "state m = 0\nupdate {\n" LION_BODY("g") "}\n";
static const char LION_CLIP[] = "optimizer lion_clip\n" H_LR H_BETAS H_WD H_CLIP
                                "state m = 0\nupdate {\n" CLIP LION_BODY("gc") "}\n";

#define LAMB_BODY(G)                                              \
  "  m = beta1 * m + (1 - beta1) * " G "\n"                       \
  "  v = beta2 * v + (1 - beta2) * " G "^2\n"                     \
  "  u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + wd * p\n" \
  "  r = where(norm(p) > 0 && norm(u) > 0, norm(p) / norm(u), 1)\n" \
  "  p = p - lr * r * u\n"

static const char LAMB[] =
    "optimizer lamb\n" H_LR H_BETAS H_EPS H_WD S_MV "update {\n" LAMB_BODY("g") "}\n";
static const char LAMB_CLIP[] = "optimizer lamb_clip\n" H_LR H_BETAS H_EPS H_WD H_CLIP S_MV
                                "update {\n" CLIP LAMB_BODY("gc") "}\n";

static void diag_to_fail(void *user, const Diag *d) {
  (void)user;
  print_error("diagnostic: %s\n", d->message);
}

/* Builds `text` and returns its info text (caller frees). */
static char *info_of(const char *text, bool json) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, diag_to_fail, NULL);
  SemaOptions so = {0};
  PipelineOptions po = {.verify = true};
  IrProgram prog;
  int errors = ir_pipeline_build_text(&prog, &sm, "inline.opt", text, strlen(text), &sink,
                                      &so, &po);
  assert_int_equal(errors, 0);
  Str out = {0};
  info_format(&out, &prog, json);
  ir_program_free(&prog);
  srcmgr_free(&sm);
  return str_take(&out);
}

static void expect_costs(const char *text, int sweeps, int bytes, int state_bytes) {
  char *info = info_of(text, false);
  char want[200];
  snprintf(want, sizeof want,
           "sweeps: %d\nbytes_per_element: %d\nstate_bytes_per_element: %d\nstate_bytes: ",
           sweeps, bytes, state_bytes);
  const char *at = strstr(info, "sweeps: ");
  if (!at || strncmp(at, want, strlen(want)) != 0 || !strstr(at, "\nscratch_buffers: 0\n"))
    fail_msg("got:\n%s\nwant the tail:\n%s...\nscratch_buffers: 0", info, want);
  free(info);
}

static void test_adam_family(void **state) {
  (void)state;
  expect_costs(ADAM, 1, 28, 8);
  expect_costs(ADAMW, 1, 28, 8);
  expect_costs(LION, 1, 20, 4);
}

static void test_lamb(void **state) {
  (void)state;
  char *info = info_of(LAMB, false);
  assert_non_null(strstr(info, "\nsweeps: 2\n"));
  free(info);
}

/* Global-norm clipping adds exactly one sweep (reading g: 4 bytes). */
static void test_clipped(void **state) {
  (void)state;
  expect_costs(ADAMW_CLIP, 2, 32, 8);
  expect_costs(LION_CLIP, 2, 24, 4);
  char *plain = info_of(LAMB, false), *clip = info_of(LAMB_CLIP, false);
  assert_non_null(strstr(plain, "\nsweeps: 2\n"));
  assert_non_null(strstr(clip, "\nsweeps: 3\n"));
  free(plain);
  free(clip);
}

static void test_text_form(void **state) {
  (void)state;
  char *info = info_of(ADAMW, false);
  assert_string_equal(info,
                      "name: adamw\n"
                      "needs: none\n"
                      "hyper.lr: 0.001 in [0, inf)\n"
                      "hyper.beta1: 0.9 in [0, 1)\n"
                      "hyper.beta2: 0.999 in [0, 1)\n"
                      "hyper.eps: 1e-08\n"
                      "hyper.wd: 0.01\n"
                      "state.m: tensor f32\n"
                      "state.v: tensor f32\n"
                      "sweeps: 1\n"
                      "bytes_per_element: 28\n"
                      "state_bytes_per_element: 8\n"
                      "state_bytes: 8*n\n"
                      "scratch_buffers: 0\n");
  free(info);
}

/* Issue 7: Adafactor's factored moments cost O(rows + cols), and info
 * says so; Shampoo-like factors cost rows^2 + cols^2. */
static void test_state_bytes_factored(void **state) {
  (void)state;
  static const char FACT[] =
      "optimizer fact\n"
      "state R : matrix(rows, 1) = 0\n"
      "state C : matrix(1, cols) = 0\n"
      "update {\n"
      "  R = 0.9 * R + 0.1 * rowmean(g * g)\n"
      "  C = 0.9 * C + 0.1 * colmean(g * g)\n"
      "  p = p - 0.01 * g / sqrt(R * C / mean(R) + 1e-30)\n"
      "}\n";
  static const char SHAMPOO[] =
      "optimizer sh\n"
      "state L : matrix(rows, rows) f64 = 0\n"
      "state R : matrix(cols, cols) = 0\n"
      "state m = 0\n"
      "state seen : scalar = 0\n"
      "update {\n"
      "  L = L + g @ g.T\n"
      "  R = R + g.T @ g\n"
      "  m = 0.9 * m + g\n"
      "  seen += 1\n"
      "  p = p - 0.01 * m\n"
      "}\n";
  char *info = info_of(FACT, false);
  assert_non_null(strstr(info, "\nstate_bytes: 4*rows + 4*cols\n"));
  free(info);
  info = info_of(SHAMPOO, false);
  assert_non_null(strstr(info, "\nstate_bytes: 4*n + 8*rows*rows + 4*cols*cols + 8\n"));
  free(info);
}

static void test_json_form(void **state) {
  (void)state;
  char *info = info_of(LION, true);
  assert_string_equal(
      info,
      "{\n"
      "  \"name\": \"lion\",\n"
      "  \"needs\": [],\n"
      "  \"hypers\": [\n"
      "    {\"name\": \"lr\", \"default\": 0.001, \"lo\": 0, \"hi\": null, \"lo_open\": false, "
      "\"hi_open\": true},\n"
      "    {\"name\": \"beta1\", \"default\": 0.9, \"lo\": 0, \"hi\": 1, \"lo_open\": false, "
      "\"hi_open\": true},\n"
      "    {\"name\": \"beta2\", \"default\": 0.999, \"lo\": 0, \"hi\": 1, \"lo_open\": false, "
      "\"hi_open\": true},\n"
      "    {\"name\": \"wd\", \"default\": 0.01, \"lo\": null, \"hi\": null, \"lo_open\": true, "
      "\"hi_open\": true}\n"
      "  ],\n"
      "  \"states\": [\n"
      "    {\"name\": \"m\", \"kind\": \"tensor\", \"dtype\": \"f32\", \"shape\": [\"n\", \"1\"]}\n"
      "  ],\n"
      "  \"sweeps\": 1,\n"
      "  \"bytes_per_element\": 20,\n"
      "  \"state_bytes_per_element\": 4,\n"
      "  \"state_bytes\": \"4*n\",\n"
      "  \"scratch_buffers\": 0\n"
      "}\n");
  free(info);
}

/* ---- the command ------------------------------------------------------------ */

/* Runs `optc ARGS` from the build tree; returns its exit status and its
 * stdout (caller frees). */
static int run_optc(const char *args, char **out) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/optc %s 2>/dev/null", OPTC_BINARY_DIR, args);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  Str s = {0};
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) str_append(&s, buf, n);
  int status = pclose(f);
  *out = str_take(&s);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_command(void **state) {
  (void)state;
  char *out = NULL;
  assert_int_equal(run_optc("info " OPTC_SOURCE_DIR "/stdlib/adamw.opt", &out), 0);
  assert_non_null(strstr(out, "name: adamw\n"));
  assert_non_null(strstr(out, "\nsweeps: 1\nbytes_per_element: 28\n"));
  free(out);
  assert_int_equal(run_optc("info --json " OPTC_SOURCE_DIR "/stdlib/lion.opt", &out), 0);
  assert_non_null(strstr(out, "\"sweeps\": 1,\n  \"bytes_per_element\": 20,"));
  free(out);
  assert_int_equal(run_optc("info", &out), 2);
  free(out);
  assert_int_equal(run_optc("info --bogus x.opt", &out), 2);
  free(out);
  assert_int_equal(run_optc("info a.opt b.opt", &out), 2);
  free(out);
  assert_int_equal(run_optc("info --help", &out), 0);
  assert_non_null(strstr(out, "usage: optc info"));
  free(out);
  assert_int_equal(run_optc("info /nonexistent/x.opt", &out), 1);
  assert_string_equal(out, "");
  free(out);
}

static void test_command_errors(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/optc_info_test_%d.opt", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("optimizer bad\nupdate {\n  p = p - q\n}\n", f);
  fclose(f);
  char args[200], *out = NULL;
  snprintf(args, sizeof args, "info %s", path);
  assert_int_equal(run_optc(args, &out), 1);
  assert_string_equal(out, "");
  free(out);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adam_family),
      cmocka_unit_test(test_lamb),
      cmocka_unit_test(test_clipped),
      cmocka_unit_test(test_text_form),
      cmocka_unit_test(test_json_form),
      cmocka_unit_test(test_state_bytes_factored),
      cmocka_unit_test(test_command),
      cmocka_unit_test(test_command_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

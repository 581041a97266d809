/* test_rule.h: a rule JIT-compiled and wrapped as a liboptrt kernel, for
 * the end-to-end tests (include after cmocka.h; the test links the
 * compiler and liboptrt). */
#ifndef OPTC_TEST_RULE_H
#define OPTC_TEST_RULE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optc.h"
#include "optrt.h"

typedef struct TestRule {
  int fused;         /* compiled with the contract pass (optc's default) */
  char diags[8192];  /* the compiler's diagnostics, for failure messages */
  OptcJit *jit;
  OptrtKernel *kernel;
} TestRule;

static inline void test_rule_diag(void *user, const OptcDiagnostic *d) {
  TestRule *r = user;
  size_t used = strlen(r->diags);
  snprintf(r->diags + used, sizeof r->diags - used, "%s\n", d->rendered ? d->rendered : d->message);
}

/* Compiles `source` (`name` in diagnostics) with or without fused
 * multiply-add into a fresh *r and wraps it; fails the test on any error. */
static inline void test_rule_jit(TestRule *r, const char *name, const char *source, int fused) {
  memset(r, 0, sizeof *r);
  r->fused = fused;
  OptcOptions o;
  optc_options_init(&o);
  o.no_fp_contract = !fused;
  o.diag = test_rule_diag;
  o.diag_user = r;
  r->jit = optc_jit_compile(name, source, strlen(source), &o);
  if (!r->jit) fail_msg("%s does not compile:\n%s", name, r->diags);
  char *err = NULL;
  r->kernel = optrt_wrap_descriptor(optc_jit_descriptor(r->jit), &err);
  if (!r->kernel) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err ? err : "?");
    free(err);
    fail_msg("%s: optrt_wrap_descriptor: %s", name, msg);
  }
}

static inline void test_rule_free(TestRule *r) {
  optrt_kernel_close(r->kernel);
  optc_jit_free(r->jit);
  r->kernel = NULL;
  r->jit = NULL;
}

#endif

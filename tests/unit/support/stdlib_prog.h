/* stdlib_prog.h: the scheduled program of a stdlib rule, for the back-end
 * tests that drive the JIT below the public API (include after cmocka.h;
 * the test links the front and middle ends). */
#ifndef OPTC_TEST_STDLIB_PROG_H
#define OPTC_TEST_STDLIB_PROG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_pipeline.h"
#include "read_text.h"

/* stdlib/<rule>.opt's text (caller frees); fails the test if unreadable. */
static inline char *test_stdlib_source(const char *rule, char *path, size_t cap) {
  snprintf(path, cap, "%s/stdlib/%s.opt", OPTC_SOURCE_DIR, rule);
  char *text = test_read_text(path, NULL);
  if (!text) fail_msg("cannot read %s", path);
  return text;
}

/* Builds the .opt file at path into *prog with the default options,
 * diagnostics discarded; returns the number of errors. */
static inline int test_build_file(IrProgram *prog, const char *path) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, NULL, NULL);
  SemaOptions so = {0};
  PipelineOptions po = {0};
  memset(prog, 0, sizeof *prog);
  int nerr = ir_pipeline_build_file(prog, &sm, path, &sink, &so, &po);
  srcmgr_free(&sm);
  return nerr ? nerr : sink.nerrors;
}

/* Builds stdlib/<rule>.opt into *prog with the default options. */
static inline void test_stdlib_program(IrProgram *prog, const char *rule) {
  char path[512];
  snprintf(path, sizeof path, "%s/stdlib/%s.opt", OPTC_SOURCE_DIR, rule);
  if (test_build_file(prog, path)) fail_msg("%s does not build", rule);
}

#endif

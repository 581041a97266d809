/* fuzz_front.c: libFuzzer target over the front end.
 *
 * Parses the input; when it parses, prints it with fmt, re-parses the
 * output and aborts unless the trees are ast_equal and fmt is a fixed
 * point.  Diagnostics are formatted (caret lines on hostile spans) and
 * dropped.  With -DOPTC_FUZZ_SEMA it also runs the semantic checker.
 * fuzz_smoke.c feeds it the committed corpus for `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "front.h"
#ifdef OPTC_FUZZ_SEMA
#include "sema.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void format_and_drop(void *user, const Diag *d) {
  Str s = {0};
  diag_format(&s, user, d);
  str_free(&s);
}

static int parse_text(SrcMgr *sm, AstModule *m, const char *text, size_t len) {
  int f = srcmgr_add(sm, "fuzz.opt", text, len);
  DiagSink d;
  diag_init(&d, sm, format_and_drop, sm);
  return front_parse(m, sm, f, &d);
}

static void check_fmt_round_trip(const AstModule *m) {
  Str out1 = {0}, out2 = {0};
  fmt_module(&out1, m);
  SrcMgr sm;
  srcmgr_init(&sm);
  AstModule m2;
  if (parse_text(&sm, &m2, out1.data ? out1.data : "", out1.len) != 0) {
    fprintf(stderr, "fuzz_front: fmt output does not parse:\n%s\n", out1.data);
    abort();
  }
  if (!ast_list_equal(&m->items, &m2.items)) {
    fprintf(stderr, "fuzz_front: fmt changed the tree:\n%s\n", out1.data);
    abort();
  }
  fmt_module(&out2, &m2);
  if (out1.len != out2.len || (out1.len && memcmp(out1.data, out2.data, out1.len) != 0)) {
    fprintf(stderr, "fuzz_front: fmt is not idempotent:\n%s\n---\n%s\n", out1.data, out2.data);
    abort();
  }
  ast_module_free(&m2);
  srcmgr_free(&sm);
  str_free(&out1);
  str_free(&out2);
}

#ifdef OPTC_FUZZ_SEMA
static void check_sema(const uint8_t *data, size_t size) {
  SrcMgr sm;
  srcmgr_init(&sm);
  int f = srcmgr_add(&sm, "fuzz.opt", (const char *)data, size);
  DiagSink d;
  diag_init(&d, &sm, format_and_drop, &sm);
  SemaProgram prog;
  SemaOptions opts = {0};
  sema_check_file(&prog, &sm, f, &d, &opts);
  sema_program_free(&prog);
  srcmgr_free(&sm);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  SrcMgr sm;
  srcmgr_init(&sm);
  AstModule m;
  if (parse_text(&sm, &m, (const char *)data, size) == 0) check_fmt_round_trip(&m);
  ast_module_free(&m);
  srcmgr_free(&sm);
#ifdef OPTC_FUZZ_SEMA
  check_sema(data, size);
#endif
  return 0;
}

/* ir_pipeline.c: lower, the pass list, the scheduler (ir_pipeline.h).
 *
 * Each pass runs on the update body and on the state initialisation.
 * With opts->dump_after set, the IR after the named pass ("lower" for the
 * IR before any pass, "schedule" for the plan, "all" for every one) is
 * printed to opts->dump; with opts->verify, the function-level verifier
 * runs after lower and every pass, and ir_verify_program after the
 * scheduler.  A verifier failure is a bug in optc, reported as an error
 * without a location.
 */
#include "ir_pipeline.h"

#include <string.h>

#include "ir_build.h"
#include "lower.h"

typedef struct Pipe {
  IrProgram *prog;
  IrFunc body, init;
  DiagSink *diags;
  const PipelineOptions *opts;
  int errors;
} Pipe;

static bool wants_dump(const Pipe *P, const char *name) {
  const char *d = P->opts ? P->opts->dump_after : NULL;
  return d && P->opts->dump && (strcmp(d, "all") == 0 || strcmp(d, name) == 0);
}

static void check_func(Pipe *P, const IrFunc *f, const char *after) {
  char *err = NULL;
  if (irf_verify(f, &err) == 0) return;
  diag_error(P->diags, SPAN_NONE, "internal error: invalid IR after %s: %s", after, err);
  P->errors++;
  free(err);
}

/* Debug builds (no NDEBUG: the sanitizer build the test suite runs) verify
 * after every pass whatever the caller asked; release builds when asked. */
#ifdef NDEBUG
enum { PIPE_ALWAYS_VERIFY = 0 };
#else
enum { PIPE_ALWAYS_VERIFY = 1 };
#endif

static bool pipe_verifies(const Pipe *P) {
  return PIPE_ALWAYS_VERIFY || (P->opts && P->opts->verify);
}

static void after_pass(Pipe *P, const char *name) {
  if (wants_dump(P, name)) {
    Str *out = P->opts->dump;
    str_printf(out, "# after %s\n", name);
    char title[160];
    snprintf(title, sizeof title, "%s.update", P->prog->name);
    irf_print(out, &P->body, title, P->prog);
    snprintf(title, sizeof title, "%s.init", P->prog->name);
    irf_print(out, &P->init, title, P->prog);
  }
  if (pipe_verifies(P)) {
    check_func(P, &P->body, name);
    check_func(P, &P->init, name);
  }
}

static void run(Pipe *P, const char *name, int (*pass)(IrFunc *)) {
  if (P->errors) return;
  pass(&P->body);
  pass(&P->init);
  after_pass(P, name);
}

static void schedule(Pipe *P) {
  if (P->errors) return;
  P->errors += sched_build(P->prog, &P->body, &P->init, P->diags);
  if (P->errors) return;
  if (wants_dump(P, "schedule")) {
    str_puts(P->opts->dump, "# after schedule\n");
    ir_print_program(P->opts->dump, P->prog);
  }
  char *err = NULL;
  if (pipe_verifies(P) && ir_verify_program(P->prog, &err) != 0) {
    diag_error(P->diags, SPAN_NONE, "internal error: invalid plan after schedule: %s", err);
    P->errors++;
  }
  free(err);
}

/* The pass list.  Each line says why it sits where it does. */
static void run_passes(Pipe *P) {
  run(P, "fold", pass_fold);         /* first: the rules below match constants (x^2) */
  run(P, "simplify", pass_simplify); /* makes e / s a product for hoist; may expose consts */
  run(P, "hoist", pass_hoist);       /* regroups scalar factors; before cse so equal ones merge */
  run(P, "cse", pass_cse);           /* after every rewrite that can create duplicates */
  if (!P->opts || !P->opts->no_contract) /* after cse: use counts final; leaves dead products */
    run(P, "contract", pass_contract);
  run(P, "dce", pass_dce);           /* after cse: merged and rewritten values leave dead ones */
  run(P, "bcast", pass_bcast);       /* after cse and dce: one scratch per live row/col factor */
  schedule(P);                       /* last: needs dead-free IR (it computes every store) */
}

int ir_pipeline_build(IrProgram *out, const SemaProgram *sp, DiagSink *diags,
                      const PipelineOptions *opts) {
  Pipe P;
  memset(&P, 0, sizeof P);
  ir_program_init(out, sp->name);
  P.prog = out;
  P.diags = diags;
  P.opts = opts;
  irf_init(&P.body);
  irf_init(&P.init);
  P.errors = lower_program(out, &P.body, &P.init, sp, diags);
  if (!P.errors) after_pass(&P, "lower");
  run_passes(&P);
  irf_free(&P.body);
  irf_free(&P.init);
  return P.errors;
}

static int build_loaded(IrProgram *out, SrcMgr *sm, int file, DiagSink *diags,
                        const SemaOptions *sopts, const PipelineOptions *opts) {
  SemaProgram sp;
  SemaOptions none;
  memset(&none, 0, sizeof none);
  int errors = sema_check_file(&sp, sm, file, diags, sopts ? sopts : &none);
  if (!errors) {
    ir_program_free(out);
    errors = ir_pipeline_build(out, &sp, diags, opts);
  }
  sema_program_free(&sp);
  return errors;
}

int ir_pipeline_build_file(IrProgram *out, SrcMgr *sm, const char *path, DiagSink *diags,
                           const SemaOptions *sopts, const PipelineOptions *opts) {
  ir_program_init(out, "");
  char *err = NULL;
  int file = srcmgr_load(sm, path, &err);
  if (file < 0) {
    diag_error(diags, SPAN_NONE, "%s", err ? err : "cannot read the file");
    free(err);
    return 1;
  }
  return build_loaded(out, sm, file, diags, sopts, opts);
}

int ir_pipeline_build_text(IrProgram *out, SrcMgr *sm, const char *filename, const char *text,
                           size_t len, DiagSink *diags, const SemaOptions *sopts,
                           const PipelineOptions *opts) {
  ir_program_init(out, "");
  int file = srcmgr_add(sm, filename ? filename : "<input>", text, len);
  return build_loaded(out, sm, file, diags, sopts, opts);
}

/* api.c: the public compiler API of compiler/include/optc.h.
 *
 * Each call runs the whole pipeline (front end, IR pipeline, back end) with
 * its own SrcMgr and DiagSink; diagnostics reach the caller's callback as
 * OptcDiagnostic records whose strings live only during the callback.
 * Back-end failures (LLVM, the system linker) are reported as errors
 * without a location.  Only these functions are exported from liboptc.so.
 */
#include <string.h>

#include "back.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "sha256.h"

#define OPTC_API __attribute__((visibility("default")))

struct OptcJit {
  JitModule *jm;
  double ms;
};

typedef struct ApiDiag {
  const OptcOptions *o;
  const SrcMgr *sm;
} ApiDiag;

static void api_diag_fn(void *user, const Diag *d) {
  const ApiDiag *ad = user;
  if (!ad->o->diag) return;
  Str rendered = {0};
  diag_format(&rendered, ad->sm, d);
  const Span *s = &d->span;
  bool located = s->file >= 0 && s->file < ad->sm->nfiles;
  OptcDiagnostic od = {
      .severity = d->severity == DIAG_ERROR ? OPTC_ERROR
                  : d->severity == DIAG_WARNING ? OPTC_WARNING : OPTC_NOTE,
      .file = located ? ad->sm->files[s->file].path : NULL,
      .line = located ? s->line : 0, .col = located ? s->col : 0,
      .end_line = located ? s->end_line : 0, .end_col = located ? s->end_col : 0,
      .message = d->message,
      .rendered = rendered.data ? rendered.data : ""};
  ad->o->diag(ad->o->diag_user, &od);
  str_free(&rendered);
}

/* One compilation's front-to-IR state. */
typedef struct ApiRun {
  OptcOptions o;
  SrcMgr sm;
  DiagSink sink;
  ApiDiag ad;
  SemaOptions sopts;
  PipelineOptions popts;
  IrProgram prog;
} ApiRun;

static void api_run_init(ApiRun *r, const OptcOptions *o) {
  memset(r, 0, sizeof *r);
  if (o) r->o = *o;
  else optc_options_init(&r->o);
  srcmgr_init(&r->sm);
  r->ad.o = &r->o;
  r->ad.sm = &r->sm;
  diag_init(&r->sink, &r->sm, api_diag_fn, &r->ad);
  if (r->o.max_errors > 0) r->sink.max_errors = r->o.max_errors;
  r->sopts.import_paths = r->o.import_paths;
  r->sopts.nimport_paths = r->o.nimport_paths;
  r->popts.no_contract = r->o.no_fp_contract != 0;
}

static void api_run_free(ApiRun *r) {
  ir_program_free(&r->prog);
  srcmgr_free(&r->sm);
}

static CgTarget api_target(const ApiRun *r) {
  int level = r->o.opt_level < 0 ? 0 : r->o.opt_level > 3 ? 3 : r->o.opt_level;
  return (CgTarget){.cpu = r->o.cpu, .features = r->o.features, .opt_level = level,
                    .threads = r->o.jit_threads < 0 ? 1 : r->o.jit_threads};
}

void back_source_hash(IrProgram *prog, const SrcMgr *sm) {
  if (prog->source_sha256[0]) return;
  Sha256 h;
  sha256_init(&h);
  for (int i = 0; i < sm->nfiles; i++) sha256_update(&h, sm->files[i].text, sm->files[i].len);
  sha256_final_hex(&h, prog->source_sha256);
}

/* Reports a back-end error (no location) and frees it. */
static void api_backend_error(ApiRun *r, char *err) {
  diag_error(&r->sink, SPAN_NONE, "%s", err ? err : "code generation failed");
  free(err);
}

OPTC_API OptcJit *optc_jit_compile(const char *filename, const char *source, size_t len,
                                   const OptcOptions *o) {
  double t0 = util_now_ms();
  ApiRun r;
  api_run_init(&r, o);
  OptcJit *jit = NULL;
  const char *name = filename ? filename : "<input>";
  int nerr = source ? ir_pipeline_build_text(&r.prog, &r.sm, name, source, len, &r.sink,
                                             &r.sopts, &r.popts)
                    : (diag_error(&r.sink, SPAN_NONE, "no source text"), 1);
  if (nerr == 0 && r.sink.nerrors == 0) {
    CgTarget t = api_target(&r);
    back_source_hash(&r.prog, &r.sm);
    JitModule *jm = NULL;
    char *err = NULL;
    if (jit_compile(&r.prog, &t, &jm, &err) == 0) {
      jit = xcalloc(1, sizeof *jit);
      jit->jm = jm;
    } else {
      api_backend_error(&r, err);
    }
  }
  api_run_free(&r);
  if (jit) jit->ms = util_now_ms() - t0;
  return jit;
}

OPTC_API const OptkDescriptor *optc_jit_descriptor(const OptcJit *jit) {
  return jit ? jit_descriptor(jit->jm) : NULL;
}

OPTC_API double optc_jit_compile_ms(const OptcJit *jit) { return jit ? jit->ms : 0.0; }

OPTC_API void optc_jit_free(OptcJit *jit) {
  if (!jit) return;
  jit_free(jit->jm);
  free(jit);
}

OPTC_API int optc_compile_library(const char *path, const char *out_path,
                                  const OptcOptions *o) {
  ApiRun r;
  api_run_init(&r, o);
  int rc = -1;
  if (!path || !out_path) {
    diag_error(&r.sink, SPAN_NONE, "optc_compile_library needs an input and an output path");
  } else if (ir_pipeline_build_file(&r.prog, &r.sm, path, &r.sink, &r.sopts, &r.popts) == 0 &&
             r.sink.nerrors == 0) {
    CgTarget t = api_target(&r);
    back_source_hash(&r.prog, &r.sm);
    char *err = NULL;
    rc = aot_compile_library(&r.prog, &t, out_path, &err);
    if (rc != 0) api_backend_error(&r, err);
  }
  api_run_free(&r);
  return rc;
}

/* optc.h: the public C API of the optc compiler.
 *
 * Compile `.opt` source text to native code in the running process (JIT,
 * through LLVM ORC) and get the kernel descriptor of runtime/include/optk.h,
 * which liboptrt drives (optrt_wrap_descriptor), or compile a file to a
 * shared library (what `optc compile` does).
 *
 * Diagnostics go to the caller's callback as data; nothing here prints or
 * exits.  All functions are thread-compatible: distinct OptcJit objects may
 * be used from distinct threads.
 */
#ifndef OPTC_H
#define OPTC_H

#include <stddef.h>

#include "../../runtime/include/optk.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OPTC_VERSION "0.1.0"

typedef enum OptcSeverity {
  OPTC_ERROR = 0,
  OPTC_WARNING = 1,
  OPTC_NOTE = 2
} OptcSeverity;

typedef struct OptcDiagnostic {
  OptcSeverity severity;
  const char *file; /* NULL when the message has no location */
  int line, col, end_line, end_col;
  const char *message;
  const char *rendered; /* as the CLI prints it: location, message, caret */
} OptcDiagnostic;

typedef void (*OptcDiagCallback)(void *user, const OptcDiagnostic *d);

typedef struct OptcOptions {
  int opt_level;        /* 0..3; default 2 */
  const char *cpu;      /* target CPU name; NULL: the host's */
  const char *features; /* LLVM feature string; NULL: the host's */
  const char *const *import_paths; /* searched after the importing file's dir */
  int nimport_paths;
  OptcDiagCallback diag; /* NULL: diagnostics are dropped */
  void *diag_user;
  int max_errors;        /* 0: default */
  /* 0 (default): per-element a*b + c is fused into one FMA (one rounding,
   * the same on every target; docs/ir.md, pass "contract").  1: every
   * operation rounds on its own, as the source is written (closest to
   * frameworks that round each op, e.g. torch.optim's for-loop kernels). */
  int no_fp_contract;
  /* Threads optc_jit_compile may use for LLVM's code generation: 0
   * (default) one per online CPU, at most 4; 1 (or less) compiles on the
   * calling thread only; at most 8.  A rule with enough work is split into parts compiled
   * side by side (docs/abi.md, "JIT code generation in parts"); the
   * machine code is the same either way. */
  int jit_threads;
} OptcOptions;

void optc_options_init(OptcOptions *o);
const char *optc_version(void);

typedef struct OptcJit OptcJit;

/* Compiles source text (`filename` names it in diagnostics and anchors
 * relative imports; it need not exist) and JITs it.  Returns NULL on
 * error, after reporting through o->diag. */
OptcJit *optc_jit_compile(const char *filename, const char *source, size_t len,
                          const OptcOptions *o);
const OptkDescriptor *optc_jit_descriptor(const OptcJit *jit);
double optc_jit_compile_ms(const OptcJit *jit); /* source to descriptor */
void optc_jit_free(OptcJit *jit);

/* Compiles a .opt file to a shared library exporting `optk_descriptor`.
 * Returns 0, or -1 after reporting.  The output appears atomically. */
int optc_compile_library(const char *path, const char *out_path, const OptcOptions *o);

#ifdef __cplusplus
}
#endif

#endif

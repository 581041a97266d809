/* back.h: the LLVM-free interface of optc's back end (jit.c, aot.c).
 *
 * Callers outside the back end (api.c, the CLI, tests) use these without
 * seeing the LLVM C API; codegen.h holds the LLVM-level parts.  Errors
 * come back as heap strings in *err (caller frees); nothing prints.
 */
#ifndef OPTC_BACK_H
#define OPTC_BACK_H

#include "diag.h"
#include "ir.h"

/* Target selection: cpu/features NULL mean the host's. */
typedef struct CgTarget {
  const char *cpu;
  const char *features;
  int opt_level; /* 0..3 */
  int threads;   /* JIT code generation threads; 0: one per online CPU, at most 4 */
} CgTarget;

/* ---- jit.c ----------------------------------------------------------- */
typedef struct JitModule JitModule;

/* Compiles `prog` in an ORC LLJIT of its own.  0, or -1 and *err. */
int jit_compile(const IrProgram *prog, const CgTarget *t, JitModule **out, char **err);
const OptkDescriptor *jit_descriptor(const JitModule *jm);
void jit_free(JitModule *jm);

/* ---- aot.c ----------------------------------------------------------- */
typedef enum AotOutput { AOT_LLVM_IR, AOT_ASSEMBLY } AotOutput;

/* Textual LLVM IR or assembly of `prog` into *text (caller frees). */
int aot_emit_text(const IrProgram *prog, const CgTarget *t, AotOutput kind,
                  char **text, char **err);
/* Writes the shared library `out_path` (atomically: temporary + rename). */
int aot_compile_library(const IrProgram *prog, const CgTarget *t,
                        const char *out_path, char **err);

/* ---- api.c ----------------------------------------------------------- */
/* Sets prog->source_sha256, when the pipeline left it empty, to the
 * SHA-256 of every file text in sm (the main file, then its imports, in
 * load order): a checkpoint made under other source text is detectable. */
void back_source_hash(IrProgram *prog, const SrcMgr *sm);

#endif

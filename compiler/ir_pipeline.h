/* ir_pipeline.h: from a checked program to the scheduled IrProgram.
 *
 * ir_pipeline_build runs, in order: lower, then the pass list (fold,
 * simplify, hoist, cse, contract, dce, schedule), written out in one short function
 * in ir_pipeline.c.  Each pass can be dumped (`optc emit-ir --after NAME`)
 * and, when `verify` is set (debug builds and tests), the IR is verified
 * after every pass.
 */
#ifndef OPTC_IR_PIPELINE_H
#define OPTC_IR_PIPELINE_H

#include "ir.h"
#include "sema.h"

typedef struct PipelineOptions {
  bool verify;            /* verify after every pass */
  const char *dump_after; /* NULL, a pass name, "lower", or "all" */
  Str *dump;              /* where dumps go (required when dump_after) */
  bool no_contract;       /* skip the contract pass (fused multiply-add) */
} PipelineOptions;

/* Lowers and schedules `sp` (which sema_check_file accepted) into `out`.
 * Returns the number of errors reported (programs sema accepts but the
 * scheduler cannot run are reported with their span).  Free `out` with
 * ir_program_free in every case. */
int ir_pipeline_build(IrProgram *out, const SemaProgram *sp, DiagSink *diags,
                      const PipelineOptions *opts);

/* Convenience for tools: load `path` into sm, check, build. */
int ir_pipeline_build_file(IrProgram *out, SrcMgr *sm, const char *path,
                           DiagSink *diags, const SemaOptions *sopts,
                           const PipelineOptions *opts);

/* Same from text already in memory (JIT). */
int ir_pipeline_build_text(IrProgram *out, SrcMgr *sm, const char *filename,
                           const char *text, size_t len, DiagSink *diags,
                           const SemaOptions *sopts, const PipelineOptions *opts);

#endif

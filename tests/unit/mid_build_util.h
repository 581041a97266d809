/* mid_build_util.h: helpers of the mid_lower, mid_passes and mid_sched
 * tests (header-only: each test includes it once).  They build from
 * source text with diagnostics collected as the CLI prints them. */
#ifndef MID_BUILD_UTIL_H
#define MID_BUILD_UTIL_H

#include <string.h>

#include "ir_build.h"
#include "ir_pipeline.h"
#include "lower.h"

typedef struct MidBuild {
  SrcMgr sm;
  DiagSink sink;
  Str errs; /* every diagnostic, formatted as the CLI prints it */
} MidBuild;

static inline void mb_collect(void *user, const Diag *d) {
  MidBuild *b = user;
  diag_format(&b->errs, &b->sm, d);
}

static inline void mb_init(MidBuild *b) {
  memset(b, 0, sizeof *b);
  srcmgr_init(&b->sm);
  diag_init(&b->sink, &b->sm, mb_collect, b);
}

static inline void mb_free(MidBuild *b) {
  str_free(&b->errs);
  srcmgr_free(&b->sm);
}

/* The whole pipeline with verification after every pass. */
static inline int mb_program(MidBuild *b, IrProgram *prog, const char *src) {
  PipelineOptions o = {.verify = true};
  return ir_pipeline_build_text(prog, &b->sm, "t.opt", src, strlen(src), &b->sink, NULL, &o);
}

/* Only lowering (plus the given passes, in order, each a function). */
static inline int mb_lower(MidBuild *b, IrProgram *prog, IrFunc *body, IrFunc *init, const char *src) {
  irf_init(body);
  irf_init(init);
  ir_program_init(prog, "t");
  int file = srcmgr_add(&b->sm, "t.opt", src, strlen(src));
  SemaProgram sp;
  SemaOptions so = {0};
  int errors = sema_check_file(&sp, &b->sm, file, &b->sink, &so);
  if (!errors) errors = lower_program(prog, body, init, &sp, &b->sink);
  sema_program_free(&sp);
  return errors;
}

/* Counts instructions with opcode `op` in f. */
static inline int mb_count(const IrFunc *f, int op) {
  int n = 0;
  for (int i = 0; i < f->len; i++) n += f->data[i].op == op;
  return n;
}

/* Counts plan ops of `kind`. */
static inline int mb_ops(const IrProgram *p, OptkOpKind kind) {
  int n = 0;
  for (int i = 0; i < p->nstages; i++) n += p->stages[i].op.kind == kind;
  return n;
}

/* The k-th SWEEP stage of the step plan. */
static inline const IrStage *mb_sweep(const IrProgram *p, int k) {
  for (int i = 0; i < p->nstages; i++)
    if (p->stages[i].op.kind == OPTK_OP_SWEEP && k-- == 0) return &p->stages[i];
  return NULL;
}

static inline int mb_buf(const IrProgram *p, const char *name) {
  for (int i = 0; i < p->nbufs; i++)
    if (strcmp(p->bufs[i].name, name) == 0) return i;
  return -1;
}

/* Instructions `op` on buffer/index `index` in a stage (-1: any index). */
static inline int mb_stage_count(const IrStage *st, IrOp op, int index) {
  int n = 0;
  for (int i = 0; i < st->ninsts; i++)
    n += st->insts[i].op == op && (index < 0 || st->insts[i].index == index);
  return n;
}

#endif

/* codegen_internal.h: what codegen.c shares with codegen_math.c.
 *
 * The Codegen struct (one per module being built) and the small emitters
 * both files use.  Values may be scalars or vectors: every helper works
 * on either, lane by lane.  Internal to the back end.
 */
#ifndef OPTC_CODEGEN_INTERNAL_H
#define OPTC_CODEGEN_INTERNAL_H

#include "codegen.h"
#include "codegen_math.h"

typedef struct Codegen {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTargetDataRef td;
  const IrProgram *prog;
  int vector_bits;
  LLVMTypeRef i1, i16, i32, i64, f32, f64, ptr, voidt;
  unsigned md_scope, md_noalias;
  LLVMValueRef *scalar_fns, *sweep_fns;
  int nscalar, nsweep;
  const CgSplit *split; /* NULL: the module defines every function */
  int part;
  CgLayer layer;        /* which of the part's functions this module defines */
  const CgTwins *twins; /* cg_sweep_twins (the split's, or owned) */
  Str err;
} Codegen;

/* codegen.c */
int cg_vector_bits(LLVMTargetMachineRef tm);  /* widest vector register of tm */
void cg_types(Codegen *cg);                    /* the LLVM types of cg->ctx */
const char *cg_pipeline(int opt_level);       /* the IR pass pipeline of a -O level */
/* Where a sweep over domain `dom` finds element i of buffer b (docs/abi.md,
 * "Sweep domains"). */
typedef enum CgPos { POS_FULL, POS_ROW, POS_COL, POS_ONE, POS_BAD } CgPos;
CgPos cg_buffer_pos(const IrProgram *p, int dom, int b);
LLVMValueRef cg_splat(Codegen *cg, LLVMValueRef v, int w);
LLVMValueRef cg_fconst(Codegen *cg, LLVMTypeRef st, int w, double v);
LLVMValueRef cg_iconst(Codegen *cg, int w, uint64_t v);
LLVMValueRef cg_call_intrinsic(Codegen *cg, const char *name, LLVMTypeRef ty, LLVMValueRef *args, int nargs);
LLVMValueRef cg_unary_intrinsic(Codegen *cg, const char *name, LLVMValueRef x);
LLVMValueRef cg_binary_intrinsic(Codegen *cg, const char *name, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef cg_libm(Codegen *cg, const char *name64, LLVMValueRef x);
LLVMValueRef cg_one_like(Codegen *cg, LLVMValueRef x, double v);

/* codegen_math.c: exp, log, pow, tanh, log1p of f32 values as
 * polynomials evaluated in double, called from the math library
 * (codegen_math.h; init sweeps' vectors inline); f64 values: libm, one
 * call per lane. */
LLVMValueRef cg_exp(Codegen *cg, LLVMValueRef x);
LLVMValueRef cg_log(Codegen *cg, LLVMValueRef x);
LLVMValueRef cg_pow(Codegen *cg, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef cg_tanh(Codegen *cg, LLVMValueRef x);
LLVMValueRef cg_log1p(Codegen *cg, LLVMValueRef x);

#endif

/* codegen.c: LLVM IR for a scheduled IrProgram (see codegen.h, docs/abi.md).
 *
 * Conventions
 * - A Codegen owns the module (until it is handed out) and the builder; the
 *   context belongs to the caller (JIT: an ORC thread-safe context).
 * - The program is checked first (cg_check_*), so emission never meets an
 *   out-of-range index and cannot fail except in LLVM's own verifier.
 * - SCALAR stages compute in double.  SWEEP stages compute in the stage's
 *   type on explicit vectors of W lanes (W = register bits / type bits,
 *   at least OPTK_LANES so that one vector step feeds whole accumulator
 *   rows), with the scalar remainder in a function of its own compiled
 *   optnone (sw_tail); reductions iterate block by block
 *   and accumulate in double exactly in optk_block_sum's order.
 * - No fast-math flags anywhere: every operation rounds as IEEE says, the
 *   only fused multiply-add is the IR's own FMA.  In f64 (and scalar)
 *   code exp/log/pow/cos go through LLVM intrinsics, tanh/log1p through
 *   libm: one libm call per lane, results exactly the C library's.  In f32
 *   code exp/log/pow/tanh/log1p (and sigmoid) are vector polynomials
 *   evaluated in double (codegen_math.c).
 * - ctx structs are addressed with the host's offsetof(); the descriptor's
 *   LLVM types are checked against sizeof() for the target's data layout.
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "codegen_internal.h"


static const int CG_NARGS[] = {
#define X(name, nargs) nargs,
    IR_OPS(X)
#undef X
};

static const char *const CG_OPNAME[] = {
#define X(name, nargs) #name,
    IR_OPS(X)
#undef X
};

static void cg_fail(Codegen *cg, const char *fmt, ...) OPTC_PRINTF(2, 3);
static void cg_fail(Codegen *cg, const char *fmt, ...) {
  if (cg->err.len) return;
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&cg->err, fmt, ap);
  va_end(ap);
}

/* ---- target ------------------------------------------------------------ */

static void cg_init_once(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
}

void cg_init_llvm(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT; /* LLVM's registry is process-wide */
  pthread_once(&once, cg_init_once);
}

static LLVMCodeGenOptLevel cg_opt_level(int level) {
  switch (level) {
  case 0: return LLVMCodeGenLevelNone;
  case 1: return LLVMCodeGenLevelLess;
  case 3: return LLVMCodeGenLevelAggressive;
  default: return LLVMCodeGenLevelDefault;
  }
}

/* CPU names for an x86_64 host (scripts/gen_x86_cpus.sh). */
static const char *const CG_X86_CPUS[] = {
#include "cpu_x86.inc"
};

/* Whether LLVM knows `cpu` for the host triple and can run 64-bit code
 * on it.  LLVM itself only warns of an unknown name and then aborts the
 * process when it builds the subtarget ("64-bit code requested on a
 * subtarget that doesn't support it"), so the name is checked first;
 * other architectures' names are left to LLVM. */
static bool cg_cpu_known(const char *triple, const char *cpu) {
  if (strncmp(triple, "x86_64", 6) != 0) return true;
  for (size_t i = 0; i < sizeof CG_X86_CPUS / sizeof CG_X86_CPUS[0]; i++)
    if (strcmp(cpu, CG_X86_CPUS[i]) == 0) return true;
  return false;
}

LLVMTargetMachineRef cg_target_machine(const CgTarget *t, char **err) {
  cg_init_llvm();
  char *triple = LLVMGetDefaultTargetTriple(), *msg = NULL;
  if (t->cpu && !cg_cpu_known(triple, t->cpu)) {
    Str s = {0};
    str_printf(&s, "unknown target CPU '%s' (the names `llc-19 -mcpu=help` lists that run "
               "x86-64 code, e.g. x86-64-v3, znver4, skylake-avx512)", t->cpu);
    *err = str_take(&s);
    LLVMDisposeMessage(triple);
    return NULL;
  }
  LLVMTargetRef target;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    *err = xstrdup(msg ? msg : "no target for the host triple");
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    return NULL;
  }
  char *host_cpu = t->cpu ? NULL : LLVMGetHostCPUName();
  char *host_feat = (t->features || t->cpu) ? NULL : LLVMGetHostCPUFeatures();
  const char *cpu = t->cpu ? t->cpu : host_cpu;
  const char *feat = t->features ? t->features : host_feat ? host_feat : "";
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, triple, cpu, feat, cg_opt_level(t->opt_level),
                              LLVMRelocPIC, LLVMCodeModelDefault);
  if (!tm) *err = xstrdup("cannot create a target machine");
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host_feat);
  LLVMDisposeMessage(triple);
  return tm;
}

/* CPUs named without a feature string (--target-cpu): the widest vector
 * each family has.  Prefix matches; first match wins. */
static const struct { const char *prefix; int bits; } CG_CPU_VECTOR_BITS[] = {
    {"x86-64-v4", 512}, {"skylake-avx512", 512}, {"cascadelake", 512}, {"cooperlake", 512},
    {"icelake", 512},   {"tigerlake", 512},      {"sapphirerapids", 512}, {"graniterapids", 512},
    {"znver4", 512},    {"znver5", 512},         {"x86-64-v3", 256},      {"haswell", 256},
    {"broadwell", 256}, {"skylake", 256},        {"alderlake", 256},      {"znver", 256},
    {"sandybridge", 256}, {"ivybridge", 256},
};

/* Widest vector register of the target machine: from its feature string,
 * else from its CPU name; 128 bits (SSE2, NEON) otherwise. */
int cg_vector_bits(LLVMTargetMachineRef tm) {
  char *feat = LLVMGetTargetMachineFeatureString(tm);
  char *cpu = LLVMGetTargetMachineCPU(tm);
  int bits = 128;
  if (feat && *feat) {
    bits = strstr(feat, "+avx512f") ? 512 : strstr(feat, "+avx") ? 256 : 128;
  } else if (cpu) {
    int n = (int)(sizeof CG_CPU_VECTOR_BITS / sizeof CG_CPU_VECTOR_BITS[0]);
    for (int i = 0; i < n; i++)
      if (strncmp(cpu, CG_CPU_VECTOR_BITS[i].prefix, strlen(CG_CPU_VECTOR_BITS[i].prefix)) == 0) {
        bits = CG_CPU_VECTOR_BITS[i].bits;
        break;
      }
  }
  LLVMDisposeMessage(feat);
  LLVMDisposeMessage(cpu);
  return bits;
}

/* ---- checking ------------------------------------------------------------ */

static bool cg_is_effect(IrOp op) {
  return op == IR_STORE || op == IR_REDUCE || op == IR_SLOT_SET || op == IR_SSTATE_SET;
}

/* Ops this code generator emits; an op added to IR_OPS later is reported,
 * not miscompiled. */
static bool cg_op_known(IrOp op) {
  switch (op) {
  case IR_CONST: case IR_HYPER: case IR_STEP: case IR_LOSS: case IR_NUMEL: case IR_ROWS:
  case IR_COLS: case IR_RED: case IR_SLOT: case IR_SSTATE: case IR_LOAD: case IR_RNG:
  case IR_ROW_INDEX: case IR_COL_INDEX: case IR_NEG: case IR_ADD: case IR_SUB: case IR_MUL:
  case IR_DIV: case IR_MOD: case IR_FMA: case IR_POW: case IR_POWI: case IR_SQRT:
  case IR_RSQRT: case IR_EXP: case IR_LOG: case IR_LOG1P: case IR_TANH: case IR_SIGMOID:
  case IR_ABS: case IR_SIGN: case IR_MIN: case IR_MAX: case IR_LT: case IR_LE: case IR_GT:
  case IR_GE: case IR_EQ: case IR_NE: case IR_AND: case IR_OR: case IR_NOT: case IR_SELECT:
  case IR_STORE: case IR_REDUCE: case IR_SLOT_SET: case IR_SSTATE_SET:
    return true;
  default:
    return false;
  }
}

/* Ops valid only in one kind of stage. */
static bool cg_op_allowed(IrOp op, bool sweep) {
  switch (op) {
  case IR_HYPER: case IR_LOSS: case IR_RED: case IR_SSTATE:
  case IR_SLOT_SET: case IR_SSTATE_SET:
    return !sweep;
  case IR_LOAD: case IR_RNG: case IR_ROW_INDEX: case IR_COL_INDEX:
  case IR_STORE: case IR_REDUCE:
    return sweep;
  default:
    return true;
  }
}

/* How a buffer's element is found from the element index i of a sweep
 * over domain `dom` (a buffer, or -1 for the parameter): docs/abi.md,
 * "Sweep domains".  Symbolically: the domain's shape is element i, a
 * column vector (dom rows, ONE) element i / cols, a row vector (ONE, dom
 * cols) element i % cols; these agree with the runtime's rule by element
 * counts for every size. */
CgPos cg_buffer_pos(const IrProgram *p, int dom, int b) {
  OptkDim d0 = p->bufs[b].dim0, d1 = p->bufs[b].dim1;
  OptkDim r = OPTK_DIM_ROWS, c = OPTK_DIM_COLS;
  if (dom >= 2 && dom < p->nbufs && !ir_dims_param_shaped(p->bufs[dom].dim0, p->bufs[dom].dim1))
    r = p->bufs[dom].dim0, c = p->bufs[dom].dim1;
  bool param = r == OPTK_DIM_ROWS && c == OPTK_DIM_COLS;
  if ((param && ir_dims_param_shaped(d0, d1)) || (d0 == r && d1 == c)) return POS_FULL;
  if (d0 == OPTK_DIM_ONE && d1 == OPTK_DIM_ONE) return POS_ONE;
  if (d0 == r && d1 == OPTK_DIM_ONE) return POS_ROW;
  if (d0 == OPTK_DIM_ONE && d1 == c) return POS_COL;
  return POS_BAD;
}

static bool cg_check_index(Codegen *cg, const IrInst *in, int limit, const char *what) {
  if (in->index >= 0 && in->index < limit) return true;
  cg_fail(cg, "%s index %d out of range (%d %ss)", CG_OPNAME[in->op], in->index, limit,
          what);
  return false;
}

static bool cg_check_leaf(Codegen *cg, const IrStage *st, const IrInst *in) {
  const IrProgram *p = cg->prog;
  switch (in->op) {
  case IR_HYPER: return cg_check_index(cg, in, p->nhypers, "hyper");
  case IR_RED: case IR_REDUCE:
    if (in->op == IR_REDUCE && in->aux != OPTK_RED_SUM && in->aux != OPTK_RED_MAX) {
      cg_fail(cg, "REDUCE with unknown kind %d", in->aux);
      return false;
    }
    return cg_check_index(cg, in, p->nred, "reduction");
  case IR_SLOT: case IR_SLOT_SET: return cg_check_index(cg, in, p->nslot, "slot");
  case IR_SSTATE: case IR_SSTATE_SET:
    return cg_check_index(cg, in, p->nsstates, "scalar state");
  case IR_LOAD: case IR_STORE:
    if (!cg_check_index(cg, in, p->nbufs, "buffer")) return false;
    if (cg_buffer_pos(p, st->op.a, in->index) == POS_BAD ||
        (in->op == IR_STORE && cg_buffer_pos(p, st->op.a, in->index) != POS_FULL)) {
      cg_fail(cg, "%s of buffer '%s' whose shape is not elementwise", CG_OPNAME[in->op],
              p->bufs[in->index].name);
      return false;
    }
    return true;
  case IR_RNG:
    if (in->aux < IR_RNG_UNIFORM || in->aux > IR_RNG_RADEMACHER || in->index < 0) {
      cg_fail(cg, "RNG with bad kind %d or site %d", in->aux, in->index);
      return false;
    }
    return true;
  default: return true;
  }
}

static bool cg_check_inst(Codegen *cg, const IrStage *st, int k, bool sweep) {
  const IrInst *in = &st->insts[k];
  if ((unsigned)in->op >= IR_OP_COUNT || !cg_op_known(in->op)) {
    cg_fail(cg, "instruction %d has an unknown opcode %d", k, (int)in->op);
    return false;
  }
  if (!cg_op_allowed(in->op, sweep)) {
    cg_fail(cg, "%s is not allowed in a %s stage", CG_OPNAME[in->op],
            sweep ? "SWEEP" : "SCALAR");
    return false;
  }
  for (int j = 0; j < CG_NARGS[in->op]; j++) {
    int a = in->args[j];
    if (a < 0 || a >= k || cg_is_effect(st->insts[a].op)) {
      cg_fail(cg, "instruction %d (%s): argument %d is not an earlier value", k,
              CG_OPNAME[in->op], a);
      return false;
    }
  }
  return cg_check_leaf(cg, st, in);
}

/* Function indices must be dense and each used once.  *count = max + 1. */
static bool cg_check_fn(Codegen *cg, const IrStage *st, unsigned char *used, int *count) {
  int fn = st->op.fn;
  if (fn >= 4096 || used[fn]) { /* 4096: far above any real plan, bounds `used` */
    cg_fail(cg, "%s function index %d used twice or too large",
            st->op.kind == OPTK_OP_SWEEP ? "SWEEP" : "SCALAR", fn);
    return false;
  }
  used[fn] = 1;
  if (fn + 1 > *count) *count = fn + 1;
  return true;
}

static bool cg_check_stage(Codegen *cg, const IrStage *st, unsigned char used[2][4096]) {
  if (st->op.kind != OPTK_OP_SCALAR && st->op.kind != OPTK_OP_SWEEP) return true;
  bool sweep = st->op.kind == OPTK_OP_SWEEP;
  if (sweep && st->compute != OPTK_F32 && st->compute != OPTK_F64) {
    cg_fail(cg, "SWEEP %d computes in an unknown type %d", st->op.fn, (int)st->compute);
    return false;
  }
  if (!cg_check_fn(cg, st, used[sweep], sweep ? &cg->nsweep : &cg->nscalar)) return false;
  for (int k = 0; k < st->ninsts; k++)
    if (!cg_check_inst(cg, st, k, sweep)) return false;
  return true;
}

static bool cg_check_dense(Codegen *cg, unsigned char used[2][4096]) {
  for (int i = 0; i < cg->nscalar; i++)
    if (!used[0][i]) cg_fail(cg, "SCALAR function %d is missing from the plan", i);
  for (int i = 0; i < cg->nsweep; i++)
    if (!used[1][i]) cg_fail(cg, "SWEEP function %d is missing from the plan", i);
  return cg->err.len == 0;
}

static bool cg_check_program(Codegen *cg) {
  const IrProgram *p = cg->prog;
  for (int i = 0; i < p->nbufs; i++)
    if ((unsigned)p->bufs[i].dtype > OPTK_BF16) {
      cg_fail(cg, "buffer '%s' has an unknown dtype", p->bufs[i].name);
      return false;
    }
  unsigned char (*used)[4096] = xcalloc(2, 4096);
  bool ok = true;
  for (int i = 0; ok && i < p->nstages; i++) ok = cg_check_stage(cg, &p->stages[i], used);
  for (int i = 0; ok && i < p->ninit_stages; i++)
    ok = cg_check_stage(cg, &p->init_stages[i], used);
  ok = ok && cg_check_dense(cg, used);
  free(used);
  return ok;
}

/* ---- small emitters ------------------------------------------------------ */

static LLVMTypeRef cg_vty(LLVMTypeRef t, int w) { return w == 1 ? t : LLVMVectorType(t, w); }

LLVMValueRef cg_splat(Codegen *cg, LLVMValueRef v, int w) {
  if (w == 1) return v;
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), w);
  LLVMValueRef undef = LLVMGetPoison(vt);
  LLVMValueRef one = LLVMBuildInsertElement(cg->b, undef, v, LLVMConstInt(cg->i32, 0, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(cg->i32, w));
  return LLVMBuildShuffleVector(cg->b, one, undef, mask, "");
}

LLVMValueRef cg_fconst(Codegen *cg, LLVMTypeRef st, int w, double v) {
  return cg_splat(cg, LLVMConstReal(st, v), w);
}

LLVMValueRef cg_iconst(Codegen *cg, int w, uint64_t v) {
  return cg_splat(cg, LLVMConstInt(cg->i64, v, 0), w);
}

LLVMValueRef cg_call_intrinsic(Codegen *cg, const char *name, LLVMTypeRef ty,
                                      LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, &ty, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, &ty, 1);
  return LLVMBuildCall2(cg->b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef cg_unary_intrinsic(Codegen *cg, const char *name, LLVMValueRef x) {
  return cg_call_intrinsic(cg, name, LLVMTypeOf(x), &x, 1);
}

LLVMValueRef cg_binary_intrinsic(Codegen *cg, const char *name, LLVMValueRef x,
                                        LLVMValueRef y) {
  LLVMValueRef args[2] = {x, y};
  return cg_call_intrinsic(cg, name, LLVMTypeOf(x), args, 2);
}

/* A libm function applied lane by lane (tanh, log1p: no LLVM intrinsic). */
LLVMValueRef cg_libm(Codegen *cg, const char *name64, LLVMValueRef x) {
  LLVMTypeRef vt = LLVMTypeOf(x);
  bool vec = LLVMGetTypeKind(vt) == LLVMVectorTypeKind;
  LLVMTypeRef st = vec ? LLVMGetElementType(vt) : vt;
  char name[32];
  snprintf(name, sizeof name, "%s%s", name64, st == cg->f32 ? "f" : "");
  LLVMTypeRef fty = LLVMFunctionType(st, &st, 1, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
  if (!fn) fn = LLVMAddFunction(cg->mod, name, fty);
  if (!vec) return LLVMBuildCall2(cg->b, fty, fn, &x, 1, "");
  LLVMValueRef out = LLVMGetPoison(vt);
  for (unsigned l = 0; l < LLVMGetVectorSize(vt); l++) {
    LLVMValueRef lane = LLVMConstInt(cg->i32, l, 0);
    LLVMValueRef e = LLVMBuildExtractElement(cg->b, x, lane, "");
    e = LLVMBuildCall2(cg->b, fty, fn, &e, 1, "");
    out = LLVMBuildInsertElement(cg->b, out, e, lane, "");
  }
  return out;
}

static LLVMValueRef cg_bool(Codegen *cg, LLVMValueRef cond, LLVMTypeRef ty) {
  return LLVMBuildUIToFP(cg->b, cond, ty, "");
}

static LLVMValueRef cg_nonzero(Codegen *cg, LLVMValueRef x) {
  return LLVMBuildFCmp(cg->b, LLVMRealUNE, x, LLVMConstNull(LLVMTypeOf(x)), "");
}

LLVMValueRef cg_one_like(Codegen *cg, LLVMValueRef x, double v) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return LLVMConstReal(ty, v);
  return cg_fconst(cg, LLVMGetElementType(ty), (int)LLVMGetVectorSize(ty), v);
}

/* x^e for a constant integer e, as the interpreter does it: base = x (or
 * 1/x for e < 0), then square-and-multiply from the lowest bit. */
static LLVMValueRef cg_powi(Codegen *cg, LLVMValueRef x, int32_t exponent) {
  int64_t e = exponent < 0 ? -(int64_t)exponent : exponent;
  LLVMValueRef base = exponent < 0 ? LLVMBuildFDiv(cg->b, cg_one_like(cg, x, 1.0), x, "") : x;
  LLVMValueRef r = NULL;
  for (; e; e >>= 1) {
    if (e & 1) r = r ? LLVMBuildFMul(cg->b, r, base, "") : base;
    if (e > 1) base = LLVMBuildFMul(cg->b, base, base, "");
  }
  return r ? r : cg_one_like(cg, x, 1.0);
}

/* (x > 0) - (x < 0), NaN stays NaN (so sign(-0) is +0, as in the interpreter). */
/* x > 0 ? 1 : x < 0 ? -1 : x is NaN ? x : +0: three compares and three
 * blends (masked moves on AVX-512). */
static LLVMValueRef cg_sign(Codegen *cg, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  LLVMValueRef zero = LLVMConstNull(ty);
  LLVMValueRef rest = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, ""), x, zero, "");
  LLVMValueRef neg = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, x, zero, ""),
                                     cg_one_like(cg, x, -1.0), rest, "");
  return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, zero, ""),
                         cg_one_like(cg, x, 1.0), neg, "");
}

static LLVMValueRef cg_compare(Codegen *cg, IrOp op, LLVMValueRef a, LLVMValueRef b) {
  LLVMRealPredicate p = op == IR_LT ? LLVMRealOLT : op == IR_LE ? LLVMRealOLE
                      : op == IR_GT ? LLVMRealOGT : op == IR_GE ? LLVMRealOGE
                      : op == IR_EQ ? LLVMRealOEQ : LLVMRealUNE;
  return cg_bool(cg, LLVMBuildFCmp(cg->b, p, a, b, ""), LLVMTypeOf(a));
}

static LLVMValueRef cg_logic(Codegen *cg, IrOp op, LLVMValueRef a, LLVMValueRef b) {
  LLVMTypeRef ty = LLVMTypeOf(a);
  if (op == IR_NOT)
    return cg_bool(cg, LLVMBuildFCmp(cg->b, LLVMRealOEQ, a, LLVMConstNull(ty), ""), ty);
  LLVMValueRef x = cg_nonzero(cg, a), y = cg_nonzero(cg, b);
  LLVMValueRef r = op == IR_AND ? LLVMBuildAnd(cg->b, x, y, "") : LLVMBuildOr(cg->b, x, y, "");
  return cg_bool(cg, r, ty);
}

/* Arithmetic shared by scalar and sweep stages; v: argument values. */
static LLVMValueRef cg_arith(Codegen *cg, const IrInst *in, LLVMValueRef *v) {
  LLVMBuilderRef b = cg->b;
  switch (in->op) {
  case IR_NEG: return LLVMBuildFNeg(b, v[0], "");
  case IR_ADD: return LLVMBuildFAdd(b, v[0], v[1], "");
  case IR_SUB: return LLVMBuildFSub(b, v[0], v[1], "");
  case IR_MUL: return LLVMBuildFMul(b, v[0], v[1], "");
  case IR_DIV: return LLVMBuildFDiv(b, v[0], v[1], "");
  case IR_MOD: return LLVMBuildFRem(b, v[0], v[1], ""); /* fmod */
  case IR_FMA: return cg_call_intrinsic(cg, "llvm.fma", LLVMTypeOf(v[0]), v, 3);
  case IR_POW: return cg_pow(cg, v[0], v[1]);
  case IR_POWI: return cg_powi(cg, v[0], in->index);
  case IR_SQRT: return cg_unary_intrinsic(cg, "llvm.sqrt", v[0]);
  case IR_RSQRT:
    return LLVMBuildFDiv(b, cg_one_like(cg, v[0], 1.0), cg_unary_intrinsic(cg, "llvm.sqrt", v[0]), "");
  case IR_EXP: return cg_exp(cg, v[0]);
  case IR_LOG: return cg_log(cg, v[0]);
  case IR_LOG1P: return cg_log1p(cg, v[0]);
  case IR_TANH: return cg_tanh(cg, v[0]);
  case IR_SIGMOID: {
    LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(b, v[0], ""));
    LLVMValueRef one = cg_one_like(cg, v[0], 1.0);
    return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
  }
  case IR_ABS: return cg_unary_intrinsic(cg, "llvm.fabs", v[0]);
  case IR_SIGN: return cg_sign(cg, v[0]);
  case IR_MIN: return cg_binary_intrinsic(cg, "llvm.minimum", v[0], v[1]);
  case IR_MAX: return cg_binary_intrinsic(cg, "llvm.maximum", v[0], v[1]);
  case IR_LT: case IR_LE: case IR_GT: case IR_GE: case IR_EQ: case IR_NE:
    return cg_compare(cg, in->op, v[0], v[1]);
  case IR_AND: case IR_OR: case IR_NOT: return cg_logic(cg, in->op, v[0], v[1]);
  case IR_SELECT: return LLVMBuildSelect(b, cg_nonzero(cg, v[0]), v[1], v[2], "");
  default: unreachable_msg("cg_arith: %s is not arithmetic", CG_OPNAME[in->op]);
  }
}

/* Field of a ctx struct at a byte offset. */
static LLVMValueRef cg_field_ptr(Codegen *cg, LLVMValueRef base, size_t off) {
  LLVMValueRef idx = LLVMConstInt(cg->i64, off, 0);
  return LLVMBuildGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), base, &idx, 1, "");
}

static LLVMValueRef cg_field(Codegen *cg, LLVMValueRef base, size_t off, LLVMTypeRef ty) {
  return LLVMBuildLoad2(cg->b, ty, cg_field_ptr(cg, base, off), "");
}

static LLVMValueRef cg_elem(Codegen *cg, LLVMTypeRef ty, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildGEP2(cg->b, ty, base, &i, 1, "");
}

static LLVMValueRef cg_const_index(Codegen *cg, int i) {
  return LLVMConstInt(cg->i64, (unsigned long long)i, 0);
}

/* f32 -> bf16 bits, round to nearest even, NaN kept quiet (optk_f32_to_bf16). */
static LLVMValueRef cg_to_bf16(Codegen *cg, LLVMValueRef f, int w) {
  LLVMBuilderRef b = cg->b;
  LLVMTypeRef it = cg_vty(cg->i32, w);
#define K32(v) cg_splat(cg, LLVMConstInt(cg->i32, (v), 0), w)
  LLVMValueRef u = LLVMBuildBitCast(b, f, it, "");
  LLVMValueRef hi = LLVMBuildLShr(b, u, K32(16), "");
  LLVMValueRef isnan = LLVMBuildICmp(b, LLVMIntUGT, LLVMBuildAnd(b, u, K32(0x7fffffffu), ""),
                                     K32(0x7f800000u), "");
  LLVMValueRef quiet = LLVMBuildOr(b, hi, K32(0x40), "");
  LLVMValueRef rnd = LLVMBuildAdd(b, K32(0x7fff), LLVMBuildAnd(b, hi, K32(1), ""), "");
  LLVMValueRef r = LLVMBuildLShr(b, LLVMBuildAdd(b, u, rnd, ""), K32(16), "");
#undef K32
  return LLVMBuildTrunc(b, LLVMBuildSelect(b, isnan, quiet, r, ""), cg_vty(cg->i16, w), "");
}

static LLVMValueRef cg_from_bf16(Codegen *cg, LLVMValueRef h, int w) {
  LLVMValueRef u = LLVMBuildZExt(cg->b, h, cg_vty(cg->i32, w), "");
  u = LLVMBuildShl(cg->b, u, cg_splat(cg, LLVMConstInt(cg->i32, 16, 0), w), "");
  return LLVMBuildBitCast(cg->b, u, cg_vty(cg->f32, w), "");
}

/* A double rounded to a scalar state's dtype and back. */
static LLVMValueRef cg_round_double(Codegen *cg, LLVMValueRef x, OptkDType dt) {
  if (dt == OPTK_F64) return x;
  LLVMValueRef f = LLVMBuildFPTrunc(cg->b, x, cg->f32, "");
  if (dt == OPTK_BF16) f = cg_from_bf16(cg, cg_to_bf16(cg, f, 1), 1);
  return LLVMBuildFPExt(cg->b, f, cg->f64, "");
}

static LLVMValueRef cg_convert(Codegen *cg, LLVMValueRef x, LLVMTypeRef to) {
  LLVMTypeRef from = LLVMTypeOf(x);
  if (from == to) return x;
  unsigned fb = LLVMGetTypeKind(from) == LLVMVectorTypeKind
                    ? LLVMGetTypeKind(LLVMGetElementType(from)) : LLVMGetTypeKind(from);
  return fb == LLVMFloatTypeKind ? LLVMBuildFPExt(cg->b, x, to, "")
                                 : LLVMBuildFPTrunc(cg->b, x, to, "");
}

static LLVMValueRef cg_add_function(Codegen *cg, const char *fmt, int k, LLVMTypeRef fty) {
  char name[48];
  snprintf(name, sizeof name, fmt, k);
  LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
  LLVMSetVisibility(fn, LLVMHiddenVisibility);
  unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(cg->ctx, kind, 0));
  LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
  return fn;
}

/* ---- SCALAR stages --------------------------------------------------------- */

static LLVMValueRef cg_scalar_array(Codegen *cg, LLVMValueRef ctx, size_t off, int i) {
  LLVMValueRef base = cg_field(cg, ctx, off, cg->ptr);
  return cg_elem(cg, cg->f64, base, cg_const_index(cg, i));
}

static LLVMValueRef cg_scalar_leaf(Codegen *cg, LLVMValueRef ctx, const IrInst *in) {
  LLVMTypeRef d = cg->f64;
  switch (in->op) {
  case IR_CONST: return LLVMConstReal(d, in->imm);
  case IR_STEP: return cg_field(cg, ctx, offsetof(OptkScalarCtx, t), d);
  case IR_LOSS: return cg_field(cg, ctx, offsetof(OptkScalarCtx, f), d);
  case IR_NUMEL: return cg_field(cg, ctx, offsetof(OptkScalarCtx, n), d);
  case IR_ROWS: return cg_field(cg, ctx, offsetof(OptkScalarCtx, rows), d);
  case IR_COLS: return cg_field(cg, ctx, offsetof(OptkScalarCtx, cols), d);
  case IR_HYPER:
    return LLVMBuildLoad2(cg->b, d, cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, hyper), in->index), "");
  case IR_RED:
    return LLVMBuildLoad2(cg->b, d, cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, red), in->index), "");
  case IR_SLOT:
    return LLVMBuildLoad2(cg->b, d, cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, slot), in->index), "");
  case IR_SSTATE:
    return LLVMBuildLoad2(cg->b, d, cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, sstate), in->index), "");
  default: return NULL;
  }
}

/* Scalar states are read as they were at stage entry: their stores are
 * collected and done at the end. */
static void cg_scalar_stage(Codegen *cg, const IrStage *st) {
  LLVMTypeRef params[1] = {cg->ptr};
  LLVMValueRef fn = cg_add_function(cg, "optk_scalar_%d", st->op.fn,
                                    LLVMFunctionType(cg->voidt, params, 1, 0));
  cg->scalar_fns[st->op.fn] = fn;
  LLVMValueRef ctx = LLVMGetParam(fn, 0);
  LLVMValueRef *val = xcalloc((size_t)st->ninsts + 1, sizeof *val);
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    LLVMValueRef a[3] = {NULL, NULL, NULL};
    for (int j = 0; j < CG_NARGS[in->op]; j++) a[j] = val[in->args[j]];
    if (in->op == IR_SLOT_SET)
      LLVMBuildStore(cg->b, a[0], cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, slot), in->index));
    else if (in->op == IR_SSTATE_SET)
      val[k] = cg_round_double(cg, a[0], cg->prog->sstates[in->index].dtype);
    else if (!(val[k] = cg_scalar_leaf(cg, ctx, in)))
      val[k] = cg_arith(cg, in, a);
  }
  for (int k = 0; k < st->ninsts; k++)
    if (st->insts[k].op == IR_SSTATE_SET)
      LLVMBuildStore(cg->b, val[k], cg_scalar_array(cg, ctx, offsetof(OptkScalarCtx, sstate),
                                                    st->insts[k].index));
  LLVMBuildRetVoid(cg->b);
  free(val);
}

/* ---- SWEEP stages ------------------------------------------------------------ */

typedef struct Sweep {
  Codegen *cg;
  const IrStage *st;
  LLVMValueRef fn, ctx, end;
  LLVMTypeRef ct;      /* compute type (scalar) */
  int w;               /* lanes of the vector loop */
  LLVMValueRef *base;  /* [nbufs] base pointers */
  LLVMValueRef *slot;  /* [nslot] slots in the compute type, or NULL */
  LLVMValueRef n, rows, cols, step, partial, blk;
  LLVMValueRef *key;   /* [ninsts] RNG keys of RNG instructions */
  LLVMValueRef *acc;   /* [ninsts] accumulator allocas of REDUCE instructions */
  LLVMValueRef *scope, *noalias; /* [nbufs] metadata */
  LLVMValueRef accs;   /* [nacc x <8 x double>]: the tail's accumulators
                          (its parameter), the caller's copy for the call */
  LLVMValueRef tail;   /* the scalar remainder function (see sw_tail) */
  LLVMValueRef wide;         /* cols >= w where sw_lanes is needed, or NULL */
  LLVMValueRef inv_cols;     /* 1.0f / cols, for sw_lanes_narrow */
  LLVMValueRef r0, r1, c0;   /* the current body's rows and first column */
  LLVMValueRef first;        /* and its lanes in row r0 (sw_lanes_wide) */
  int nacc;
  bool is_tail;        /* accumulators live in accs, not in allocas */
  bool has_red;
} Sweep;

static void cg_optnone(Codegen *cg, LLVMValueRef fn);

static LLVMBasicBlockRef sw_block(Sweep *s, const char *name) {
  return LLVMAppendBasicBlockInContext(s->cg->ctx, s->fn, name);
}

static LLVMTypeRef sw_storage_type(Sweep *s, int buf) {
  switch (s->cg->prog->bufs[buf].dtype) {
  case OPTK_F64: return s->cg->f64;
  case OPTK_BF16: return s->cg->i16;
  default: return s->cg->f32;
  }
}

static void sw_tag(Sweep *s, LLVMValueRef mem, int buf) {
  LLVMSetAlignment(mem, 1);
  LLVMSetMetadata(mem, s->cg->md_scope, s->scope[buf]);
  if (s->noalias[buf]) LLVMSetMetadata(mem, s->cg->md_noalias, s->noalias[buf]);
}

static LLVMValueRef sw_to_compute(Sweep *s, LLVMValueRef raw, int buf, int w) {
  if (s->cg->prog->bufs[buf].dtype == OPTK_BF16) raw = cg_from_bf16(s->cg, raw, w);
  return cg_convert(s->cg, raw, cg_vty(s->ct, w));
}

/* One element (w == 1) at position pos. */
static LLVMValueRef sw_load_one(Sweep *s, int buf, LLVMValueRef pos) {
  LLVMTypeRef sty = sw_storage_type(s, buf);
  LLVMValueRef mem = LLVMBuildLoad2(s->cg->b, sty, cg_elem(s->cg, sty, s->base[buf], pos), "");
  sw_tag(s, mem, buf);
  return mem;
}

/* <0, 1, ..., w - 1> of integer type t. */
static LLVMValueRef cg_iota(Codegen *cg, LLVMTypeRef t, int w) {
  LLVMValueRef iota[16];
  for (int l = 0; l < w; l++) iota[l] = LLVMConstInt(t, (unsigned)l, 0);
  return LLVMConstVector(iota, (unsigned)w);
}

/* Lane rows (pos POS_ROW) or columns (POS_COL) of a wide domain as
 * <w x i64> (see sw_lanes). */
static LLVMValueRef sw_lane_rowcol(Sweep *s, CgPos pos, int w) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  if (pos == POS_ROW)
    return LLVMBuildSelect(b, s->first, cg_splat(cg, s->r0, w), cg_splat(cg, s->r1, w), "");
  LLVMValueRef c = LLVMBuildAdd(b, cg_splat(cg, s->c0, w), cg_iota(cg, cg->i64, w), "");
  LLVMValueRef back = LLVMBuildSelect(b, s->first, cg_iconst(cg, w, 0), cg_splat(cg, s->cols, w), "");
  return LLVMBuildSub(b, c, back, "");
}

static LLVMValueRef sw_position(Sweep *s, CgPos pos, LLVMValueRef idx, int w) {
  LLVMBuilderRef b = s->cg->b;
  switch (pos) {
  case POS_ROW: return LLVMBuildSDiv(b, idx, cg_splat(s->cg, s->cols, w), "");
  case POS_COL: return LLVMBuildSRem(b, idx, cg_splat(s->cg, s->cols, w), "");
  case POS_ONE: return cg_iconst(s->cg, w, 0);
  default: return idx;
  }
}

/* llvm.masked.load of w lanes of buffer buf from element `at` where
 * `mask`, the other lanes from `pass`. */
static LLVMValueRef sw_masked_load(Sweep *s, int buf, int w, LLVMValueRef at, LLVMValueRef mask,
                                   LLVMValueRef pass) {
  Codegen *cg = s->cg;
  LLVMTypeRef sty = sw_storage_type(s, buf), vty = LLVMVectorType(sty, (unsigned)w);
  LLVMTypeRef tys[2] = {vty, cg->ptr};
  unsigned id = LLVMLookupIntrinsicID("llvm.masked.load", 16);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, tys, 2);
  LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, tys, 2);
  LLVMValueRef args[4] = {cg_elem(cg, sty, s->base[buf], at), LLVMConstInt(cg->i32, 1, 0), mask, pass};
  LLVMValueRef v = LLVMBuildCall2(cg->b, fty, fn, args, 4, "");
  LLVMSetMetadata(v, cg->md_scope, s->scope[buf]);
  if (s->noalias[buf]) LLVMSetMetadata(v, cg->md_noalias, s->noalias[buf]);
  return v;
}

/* Lane l of the result is lane idx[l] of v (every idx[l] in [0, w)):
 * written as w extracts and inserts, the form LLVM's x86 back end turns
 * into one vpermps/vpermpd (AVX-512; vpermps for 8 floats on AVX2); other
 * targets move the lanes one by one. */
static LLVMValueRef cg_permute(Codegen *cg, LLVMValueRef v, LLVMValueRef idx, int w) {
  LLVMBuilderRef b = cg->b;
  if (cg->vector_bits == 512 &&
      ((w == 16 && LLVMGetElementType(LLVMTypeOf(v)) == cg->f32) ||
       (w == 8 && LLVMGetElementType(LLVMTypeOf(v)) == cg->f64))) {
    bool f32 = w == 16;
    const char *name = f32 ? "llvm.x86.avx512.permvar.sf.512" : "llvm.x86.avx512.permvar.df.512";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, NULL, 0);
    LLVMValueRef args[2] = {v, f32 ? idx : LLVMBuildSExt(b, idx, cg_vty(cg->i64, w), "")};
    return LLVMBuildCall2(b, fty, fn, args, 2, "");
  }
  LLVMValueRef out = LLVMGetPoison(LLVMTypeOf(v));
  for (int l = 0; l < w; l++) {
    LLVMValueRef lane = LLVMConstInt(cg->i32, (unsigned)l, 0);
    LLVMValueRef e = LLVMBuildExtractElement(b, v, LLVMBuildExtractElement(b, idx, lane, ""), "");
    out = LLVMBuildInsertElement(b, out, e, lane, "");
  }
  return out;
}

/* Whether instruction `in` of the stage reads lane rows or columns: a row
 * or column broadcast's load, row() or col(). */
static bool sw_is_rowcol(const Sweep *s, const IrInst *in) {
  if (in->op == IR_ROW_INDEX || in->op == IR_COL_INDEX) return true;
  if (in->op != IR_LOAD) return false;
  CgPos pos = cg_buffer_pos(s->cg->prog, s->st->op.a, in->index);
  return pos == POS_ROW || pos == POS_COL;
}

/* The lanes of a wide domain (cols >= w): they span at most two rows, lanes
 * l < k = cols - c0 columns c0 + l of row r0, the others columns
 * c0 + l - cols of row r0 + 1.  A row broadcast is two scalar loads and a
 * select, a column broadcast two masked contiguous loads. */
static LLVMValueRef sw_lanes_wide(Sweep *s, const IrInst *in, int w) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  if (!s->first) {
    LLVMValueRef k = LLVMBuildSub(b, s->cols, s->c0, "");
    LLVMValueRef wrap = LLVMBuildICmp(b, LLVMIntSLT, k, cg_const_index(cg, w), "");
    s->r1 = LLVMBuildAdd(b, s->r0, LLVMBuildZExt(b, wrap, cg->i64, ""), "r1");
    k = LLVMBuildTrunc(b, LLVMBuildSelect(b, wrap, k, cg_const_index(cg, w), ""), cg->i32, "");
    s->first = LLVMBuildICmp(b, LLVMIntSLT, cg_iota(cg, cg->i32, w), cg_splat(cg, k, w), "");
  }
  if (in->op != IR_LOAD)
    return LLVMBuildSIToFP(b, sw_lane_rowcol(s, in->op == IR_ROW_INDEX ? POS_ROW : POS_COL, w),
                           cg_vty(s->ct, w), "");
  int buf = in->index;
  LLVMValueRef v;
  if (cg_buffer_pos(cg->prog, s->st->op.a, buf) == POS_ROW) {
    v = LLVMBuildSelect(b, s->first, cg_splat(cg, sw_load_one(s, buf, s->r0), w),
                        cg_splat(cg, sw_load_one(s, buf, s->r1), w), "");
  } else {
    v = sw_masked_load(s, buf, w, s->c0, s->first,
                       LLVMGetPoison(LLVMVectorType(sw_storage_type(s, buf), (unsigned)w)));
    LLVMValueRef wrapped = LLVMBuildSub(b, s->c0, s->cols, "");
    v = sw_masked_load(s, buf, w, wrapped, LLVMBuildNot(b, s->first, ""), v);
  }
  return sw_to_compute(s, v, buf, w);
}

/* The lanes of a narrow domain (cols < w): lane l is element c0 + l of
 * the rows from r0 on, row r0 + q and column c0 + l - q cols with
 * q = (c0 + l) / cols < w.  c0 + l < 2w, so (c0 + l + 0.5) * (1 / cols) in
 * float is at least 0.5 / cols away from an integer and exact after
 * truncation.  A row broadcast is the vector of w elements from row r0
 * permuted by q, a column broadcast the vector from column 0 permuted by
 * the lane columns; both may reach past the buffer's end into the 64
 * bytes the runtime allocates after it (docs/abi.md, "Buffers"), lanes no
 * index picks.  No gathers: 5x slower than the permutes here. */
static LLVMValueRef sw_lanes_narrow(Sweep *s, const IrInst *in, int w, LLVMValueRef *q,
                                    LLVMValueRef *c) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  if (!*q) {
    LLVMValueRef x = LLVMBuildAdd(b, cg_splat(cg, LLVMBuildTrunc(b, s->c0, cg->i32, ""), w),
                                  cg_iota(cg, cg->i32, w), "");
    LLVMValueRef xf = LLVMBuildSIToFP(b, x, cg_vty(cg->f32, w), "");
    xf = LLVMBuildFAdd(b, xf, cg_fconst(cg, cg->f32, w, 0.5), "");
    xf = LLVMBuildFMul(b, xf, cg_splat(cg, s->inv_cols, w), "");
    *q = LLVMBuildFPToSI(b, xf, cg_vty(cg->i32, w), "q");
    LLVMValueRef qc = LLVMBuildMul(b, *q, cg_splat(cg, LLVMBuildTrunc(b, s->cols, cg->i32, ""), w), "");
    *c = LLVMBuildSub(b, x, qc, "c");
  }
  LLVMTypeRef vt = cg_vty(s->ct, w);
  if (in->op == IR_ROW_INDEX) {
    LLVMValueRef q64 = LLVMBuildSExt(b, *q, cg_vty(cg->i64, w), "");
    return LLVMBuildSIToFP(b, LLVMBuildAdd(b, cg_splat(cg, s->r0, w), q64, ""), vt, "");
  }
  if (in->op == IR_COL_INDEX) return LLVMBuildSIToFP(b, *c, vt, "");
  int buf = in->index;
  bool row = cg_buffer_pos(cg->prog, s->st->op.a, buf) == POS_ROW;
  LLVMTypeRef sty = sw_storage_type(s, buf);
  LLVMValueRef from = row ? s->r0 : cg_const_index(cg, 0);
  LLVMValueRef win = LLVMBuildLoad2(b, LLVMVectorType(sty, (unsigned)w),
                                    cg_elem(cg, sty, s->base[buf], from), "");
  sw_tag(s, win, buf);
  return cg_permute(cg, sw_to_compute(s, win, buf, w), row ? *q : *c, w);
}

/* Every lane-row or -column value of a vector body (sw_is_rowcol) into
 * out[k], in the compute type, computed up front: one division for the
 * body's row r0 and column c0, then a branch on s->wide (loop-invariant,
 * taken the same way every trip) to sw_lanes_wide or sw_lanes_narrow.
 * One body serves every shape: the narrow arm costs about 0.5 ms of
 * compile time per sweep, a second vector body would cost as much again
 * as the first. */
static void sw_lanes(Sweep *s, int w, LLVMValueRef i, LLVMValueRef *out) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  const IrStage *st = s->st;
  s->r0 = LLVMBuildSDiv(b, i, s->cols, "r0");
  s->c0 = LLVMBuildSub(b, i, LLVMBuildMul(b, s->r0, s->cols, ""), "c0");
  LLVMBasicBlockRef wide = sw_block(s, "wide"), narrow = sw_block(s, "narrow");
  LLVMBasicBlockRef join = sw_block(s, "lanes");
  LLVMBuildCondBr(b, s->wide, wide, narrow);
  LLVMValueRef *alt = xcalloc((size_t)st->ninsts + 1, sizeof *alt);
  LLVMPositionBuilderAtEnd(b, wide);
  s->first = NULL;
  for (int k = 0; k < st->ninsts; k++)
    if (sw_is_rowcol(s, &st->insts[k])) out[k] = sw_lanes_wide(s, &st->insts[k], w);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, narrow);
  LLVMValueRef q = NULL, c = NULL;
  for (int k = 0; k < st->ninsts; k++)
    if (sw_is_rowcol(s, &st->insts[k])) alt[k] = sw_lanes_narrow(s, &st->insts[k], w, &q, &c);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
  for (int k = 0; k < st->ninsts; k++) {
    if (!out[k]) continue;
    LLVMValueRef phi = LLVMBuildPhi(b, LLVMTypeOf(out[k]), "");
    LLVMValueRef vals[2] = {out[k], alt[k]};
    LLVMBasicBlockRef from[2] = {wide, narrow};
    LLVMAddIncoming(phi, vals, from, 2);
    out[k] = phi;
  }
  free(alt);
}

/* Buffer buf's lanes at elements [i, i + w); row and column broadcasts of
 * a vector body come from sw_lanes. */
static LLVMValueRef sw_load(Sweep *s, int buf, int w, LLVMValueRef i) {
  Codegen *cg = s->cg;
  CgPos pos = cg_buffer_pos(cg->prog, s->st->op.a, buf);
  LLVMTypeRef sty = sw_storage_type(s, buf);
  LLVMValueRef raw;
  if (w == 1 || pos == POS_ONE) {
    raw = cg_splat(cg, sw_load_one(s, buf, sw_position(s, pos, i, 1)), w);
  } else {
    raw = LLVMBuildLoad2(cg->b, LLVMVectorType(sty, w), cg_elem(cg, sty, s->base[buf], i), "");
    sw_tag(s, raw, buf);
  }
  return sw_to_compute(s, raw, buf, w);
}

static void sw_store(Sweep *s, int buf, int w, LLVMValueRef i, LLVMValueRef v) {
  Codegen *cg = s->cg;
  OptkDType dt = cg->prog->bufs[buf].dtype;
  if (dt == OPTK_BF16) v = cg_to_bf16(cg, cg_convert(cg, v, cg_vty(cg->f32, w)), w);
  else v = cg_convert(cg, v, cg_vty(dt == OPTK_F64 ? cg->f64 : cg->f32, w));
  LLVMValueRef mem =
      LLVMBuildStore(cg->b, v, cg_elem(cg, sw_storage_type(s, buf), s->base[buf], i));
  sw_tag(s, mem, buf);
}

/* splitmix64's finaliser on i64 or <w x i64> (optk_mix64). */
static LLVMValueRef cg_mix64(Codegen *cg, LLVMValueRef x, int w) {
  LLVMBuilderRef b = cg->b;
  x = LLVMBuildXor(b, x, LLVMBuildLShr(b, x, cg_iconst(cg, w, 30), ""), "");
  x = LLVMBuildMul(b, x, cg_iconst(cg, w, 0xbf58476d1ce4e5b9ull), "");
  x = LLVMBuildXor(b, x, LLVMBuildLShr(b, x, cg_iconst(cg, w, 27), ""), "");
  x = LLVMBuildMul(b, x, cg_iconst(cg, w, 0x94d049bb133111ebull), "");
  return LLVMBuildXor(b, x, LLVMBuildLShr(b, x, cg_iconst(cg, w, 31), ""), "");
}

/* optk_rng_key(seed, step, tensor_id, site), once per call site at entry. */
static LLVMValueRef sw_rng_key(Sweep *s, int site) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  LLVMValueRef seed = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, seed), cg->i64);
  LLVMValueRef tensor = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, tensor_id), cg->i64);
  LLVMValueRef k = cg_mix64(cg, LLVMBuildXor(b, seed, cg_iconst(cg, 1, 0x9e3779b97f4a7c15ull), ""), 1);
  LLVMValueRef x = LLVMBuildMul(b, s->step, cg_iconst(cg, 1, 0xd1b54a32d192ed03ull), "");
  k = cg_mix64(cg, LLVMBuildXor(b, k, x, ""), 1);
  x = LLVMBuildMul(b, tensor, cg_iconst(cg, 1, 0xaef17502108ef2d9ull), "");
  k = cg_mix64(cg, LLVMBuildXor(b, k, x, ""), 1);
  x = cg_iconst(cg, 1, (uint64_t)(uint32_t)site * 0x9e3779b97f4a7c15ull);
  return cg_mix64(cg, LLVMBuildXor(b, k, x, ""), 1);
}

static LLVMValueRef cg_u24_to_double(Codegen *cg, LLVMValueRef bits, int w) {
  LLVMValueRef d = LLVMBuildUIToFP(cg->b, bits, cg_vty(cg->f64, w), "");
  return d;
}

/* sqrt(-2 log u1) * cos(2 pi u2) in double (optk_normal_uniforms). */
static LLVMValueRef cg_normal(Codegen *cg, LLVMValueRef x, int w) {
  LLVMBuilderRef b = cg->b;
  LLVMValueRef scale = cg_fconst(cg, cg->f64, w, 1.0 / 16777216.0);
  LLVMValueRef hi = cg_u24_to_double(cg, LLVMBuildLShr(b, x, cg_iconst(cg, w, 40), ""), w);
  LLVMValueRef u1 = LLVMBuildFMul(b, LLVMBuildFAdd(b, hi, cg_fconst(cg, cg->f64, w, 1.0), ""), scale, "");
  LLVMValueRef mid = LLVMBuildAnd(b, LLVMBuildLShr(b, x, cg_iconst(cg, w, 16), ""),
                                  cg_iconst(cg, w, 0xffffffu), "");
  LLVMValueRef u2 = LLVMBuildFMul(b, cg_u24_to_double(cg, mid, w), scale, "");
  LLVMValueRef l = cg_unary_intrinsic(cg, "llvm.log", u1);
  LLVMValueRef r = cg_unary_intrinsic(cg, "llvm.sqrt",
                                      LLVMBuildFMul(b, cg_fconst(cg, cg->f64, w, -2.0), l, ""));
  LLVMValueRef a = LLVMBuildFMul(b, cg_fconst(cg, cg->f64, w, 6.283185307179586), u2, "");
  return LLVMBuildFMul(b, r, cg_unary_intrinsic(cg, "llvm.cos", a), "");
}

static LLVMValueRef sw_rng(Sweep *s, const IrInst *in, LLVMValueRef key, int w, LLVMValueRef idxv) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  LLVMValueRef ctr = LLVMBuildMul(b, idxv, cg_iconst(cg, w, 0x9e3779b97f4a7c15ull), "");
  LLVMValueRef x = cg_mix64(cg, LLVMBuildAdd(b, cg_splat(cg, key, w), ctr, ""), w);
  LLVMValueRef d;
  if (in->aux == IR_RNG_UNIFORM) {
    d = cg_u24_to_double(cg, LLVMBuildLShr(b, x, cg_iconst(cg, w, 40), ""), w);
    d = LLVMBuildFMul(b, d, cg_fconst(cg, cg->f64, w, 1.0 / 16777216.0), "");
  } else if (in->aux == IR_RNG_RADEMACHER) {
    LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, x, cg_iconst(cg, w, 0), "");
    d = LLVMBuildSelect(b, neg, cg_fconst(cg, cg->f64, w, -1.0), cg_fconst(cg, cg->f64, w, 1.0), "");
  } else {
    d = cg_normal(cg, x, w);
  }
  return cg_convert(cg, d, cg_vty(s->ct, w));
}

/* Adds (or maxes) w values, as doubles, into the 8 accumulators: a vector
 * step starts at a multiple of 8 from the block start, so lane l of each
 * group of 8 feeds accumulator l; a scalar step feeds accumulator `lane`. */
static void sw_reduce(Sweep *s, int k, int w, LLVMValueRef v, LLVMValueRef lane) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  bool is_max = s->st->insts[k].aux == OPTK_RED_MAX;
  const char *maxfn = "llvm.maximum";
  LLVMTypeRef at = LLVMVectorType(cg->f64, OPTK_LANES);
  LLVMValueRef acc = LLVMBuildLoad2(b, at, s->acc[k], "");
  LLVMValueRef vd = cg_convert(cg, v, cg_vty(cg->f64, w));
  if (w == 1) {
    LLVMValueRef a = LLVMBuildExtractElement(b, acc, lane, "");
    a = is_max ? cg_binary_intrinsic(cg, maxfn, a, vd) : LLVMBuildFAdd(b, a, vd, "");
    acc = LLVMBuildInsertElement(b, acc, a, lane, "");
  }
  for (int h = 0; w > 1 && h < w / OPTK_LANES; h++) {
    LLVMValueRef part = vd;
    if (w != OPTK_LANES) {
      LLVMValueRef mask[OPTK_LANES];
      for (int l = 0; l < OPTK_LANES; l++)
        mask[l] = LLVMConstInt(cg->i32, (unsigned)(h * OPTK_LANES + l), 0);
      part = LLVMBuildShuffleVector(b, vd, LLVMGetPoison(LLVMTypeOf(vd)),
                                    LLVMConstVector(mask, OPTK_LANES), "");
    }
    acc = is_max ? cg_binary_intrinsic(cg, maxfn, acc, part) : LLVMBuildFAdd(b, acc, part, "");
  }
  LLVMBuildStore(b, acc, s->acc[k]);
}

static LLVMValueRef sw_leaf(Sweep *s, const IrInst *in, int k, int w, LLVMValueRef idxv) {
  Codegen *cg = s->cg;
  LLVMTypeRef vt = cg_vty(s->ct, w);
  switch (in->op) {
  case IR_CONST: return cg_fconst(cg, s->ct, w, in->imm);
  case IR_NUMEL: return LLVMBuildSIToFP(cg->b, cg_splat(cg, s->n, w), vt, "");
  case IR_ROWS: return LLVMBuildSIToFP(cg->b, cg_splat(cg, s->rows, w), vt, "");
  case IR_COLS: return LLVMBuildSIToFP(cg->b, cg_splat(cg, s->cols, w), vt, "");
  case IR_STEP: return LLVMBuildUIToFP(cg->b, cg_splat(cg, s->step, w), vt, "");
  case IR_SLOT: return cg_splat(cg, s->slot[in->index], w);
  case IR_RNG: return sw_rng(s, in, s->key[k], w, idxv);
  case IR_ROW_INDEX: /* a vector body's come from sw_lanes */
    return LLVMBuildSIToFP(cg->b, sw_position(s, POS_ROW, idxv, w), vt, "");
  case IR_COL_INDEX:
    return LLVMBuildSIToFP(cg->b, sw_position(s, POS_COL, idxv, w), vt, "");
  default: return NULL;
  }
}

/* The stage's instructions for elements [i, i + w). */
static void sw_body(Sweep *s, int w, LLVMValueRef i, LLVMValueRef lane) {
  Codegen *cg = s->cg;
  const IrStage *st = s->st;
  LLVMValueRef idxv = cg_splat(cg, i, w);
  if (w > 1) {
    LLVMValueRef steps[16];
    for (int l = 0; l < w; l++) steps[l] = LLVMConstInt(cg->i64, (unsigned)l, 0);
    idxv = LLVMBuildAdd(cg->b, idxv, LLVMConstVector(steps, (unsigned)w), "");
  }
  LLVMValueRef *val = xcalloc((size_t)st->ninsts + 1, sizeof *val);
  LLVMValueRef *lanes = xcalloc((size_t)st->ninsts + 1, sizeof *lanes);
  if (w > 1 && s->wide) sw_lanes(s, w, i, lanes);
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    LLVMValueRef a[3] = {NULL, NULL, NULL};
    for (int j = 0; j < CG_NARGS[in->op]; j++) a[j] = val[in->args[j]];
    if (lanes[k]) val[k] = lanes[k];
    else if (in->op == IR_LOAD) val[k] = sw_load(s, in->index, w, i);
    else if (in->op == IR_STORE) sw_store(s, in->index, w, i, a[0]);
    else if (in->op == IR_REDUCE) sw_reduce(s, k, w, a[0], lane);
    else if (!(val[k] = sw_leaf(s, in, k, w, idxv))) val[k] = cg_arith(cg, in, a);
  }
  free(lanes);
  free(val);
}

static void sw_alias_metadata(Sweep *s, int fn) {
  Codegen *cg = s->cg;
  int nb = cg->prog->nbufs;
  char name[64];
  snprintf(name, sizeof name, "optk_sweep_%d", fn);
  LLVMMetadataRef dom_name = LLVMMDStringInContext2(cg->ctx, name, strlen(name));
  LLVMMetadataRef domain = LLVMMDNodeInContext2(cg->ctx, &dom_name, 1);
  LLVMMetadataRef *scopes = xcalloc((size_t)nb + 1, sizeof *scopes);
  for (int i = 0; i < nb; i++) {
    snprintf(name, sizeof name, "optk_sweep_%d.buf%d", fn, i);
    LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(cg->ctx, name, strlen(name)), domain};
    scopes[i] = LLVMMDNodeInContext2(cg->ctx, ops, 2);
    s->scope[i] = LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, &scopes[i], 1));
  }
  LLVMMetadataRef *others = xcalloc((size_t)nb + 1, sizeof *others);
  for (int i = 0; i < nb && nb > 1; i++) {
    int m = 0;
    for (int j = 0; j < nb; j++)
      if (j != i) others[m++] = scopes[j];
    s->noalias[i] = LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, others, (size_t)m));
  }
  free(others);
  free(scopes);
}

/* Whether the stage needs lane rows or columns (sw_lanes). */
static bool sw_uses_rowcol(const Sweep *s) {
  for (int k = 0; k < s->st->ninsts; k++)
    if (sw_is_rowcol(s, &s->st->insts[k])) return true;
  return false;
}

/* Loads everything loop-invariant: sizes, base pointers, slots, RNG keys. */
static void sw_entry(Sweep *s) {
  Codegen *cg = s->cg;
  s->n = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, n), cg->i64);
  s->rows = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, rows), cg->i64);
  s->cols = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, cols), cg->i64);
  s->step = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, step), cg->i64);
  s->partial = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, partial), cg->ptr);
  if (s->w > 1 && sw_uses_rowcol(s)) {
    s->wide = LLVMBuildICmp(cg->b, LLVMIntSGE, s->cols, cg_const_index(cg, s->w), "wide");
    s->inv_cols = LLVMBuildFDiv(cg->b, LLVMConstReal(cg->f32, 1.0),
                                LLVMBuildSIToFP(cg->b, s->cols, cg->f32, ""), "inv_cols");
  }
  LLVMValueRef bufs = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, buf), cg->ptr);
  LLVMValueRef slots = cg_field(cg, s->ctx, offsetof(OptkSweepCtx, slot), cg->ptr);
  for (int k = 0; k < s->st->ninsts; k++) {
    const IrInst *in = &s->st->insts[k];
    if ((in->op == IR_LOAD || in->op == IR_STORE) && !s->base[in->index])
      s->base[in->index] = LLVMBuildLoad2(cg->b, cg->ptr,
                                          cg_elem(cg, cg->ptr, bufs, cg_const_index(cg, in->index)), "");
    if (in->op == IR_SLOT && !s->slot[in->index]) {
      LLVMValueRef d = LLVMBuildLoad2(cg->b, cg->f64,
                                      cg_elem(cg, cg->f64, slots, cg_const_index(cg, in->index)), "");
      s->slot[in->index] = cg_convert(cg, d, s->ct);
    }
    if (in->op == IR_RNG) s->key[k] = sw_rng_key(s, in->index);
    if (in->op == IR_REDUCE) {
      /* The main function's stay allocas, so that they live in registers
       * through the vector loop; sw_call_tail copies them around the call. */
      LLVMTypeRef at = LLVMVectorType(cg->f64, OPTK_LANES);
      s->acc[k] = s->is_tail ? cg_elem(cg, at, s->accs, cg_const_index(cg, s->nacc))
                             : LLVMBuildAlloca(cg->b, at, "acc");
      s->nacc++;
      s->has_red = true;
    }
  }
}

/* Reductions of the stage (REDUCE instructions). */
static int sw_count_acc(const IrStage *st) {
  int n = 0;
  for (int k = 0; k < st->ninsts; k++) n += st->insts[k].op == IR_REDUCE;
  return n;
}

static void sw_init_acc(Sweep *s) {
  for (int k = 0; k < s->st->ninsts; k++) {
    if (!s->acc[k]) continue;
    double v = s->st->insts[k].aux == OPTK_RED_MAX ? -__builtin_inf() : 0.0;
    LLVMBuildStore(s->cg->b, cg_fconst(s->cg, s->cg->f64, OPTK_LANES, v), s->acc[k]);
  }
}

/* ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) into partial[blk * nred + r]. */
static void sw_flush_acc(Sweep *s) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  LLVMValueRef blockno = LLVMBuildLShr(b, s->blk, LLVMConstInt(cg->i64, 12, 0), "");
  _Static_assert(OPTK_BLOCK == 1 << 12, "block index is blk >> 12");
  for (int k = 0; k < s->st->ninsts; k++) {
    if (!s->acc[k]) continue;
    bool is_max = s->st->insts[k].aux == OPTK_RED_MAX;
    LLVMValueRef acc = LLVMBuildLoad2(b, LLVMVectorType(cg->f64, OPTK_LANES), s->acc[k], "");
    LLVMValueRef t[OPTK_LANES];
    for (int l = 0; l < OPTK_LANES; l++)
      t[l] = LLVMBuildExtractElement(b, acc, LLVMConstInt(cg->i32, (unsigned)l, 0), "");
    for (int width = OPTK_LANES; width > 1; width /= 2)
      for (int l = 0; l < width / 2; l++)
        t[l] = is_max ? cg_binary_intrinsic(cg, "llvm.maximum", t[2 * l], t[2 * l + 1])
                      : LLVMBuildFAdd(b, t[2 * l], t[2 * l + 1], "");
    LLVMValueRef at = LLVMBuildMul(b, blockno, cg_const_index(cg, cg->prog->nred), "");
    at = LLVMBuildAdd(b, at, cg_const_index(cg, s->st->insts[k].index), "");
    LLVMBuildStore(b, t[0], cg_elem(cg, cg->f64, s->partial, at));
  }
}

/* x through an empty asm statement: the same register and no instruction,
 * but nothing the optimisers can see through.  On the vector loop's
 * counter it leaves Loop Strength Reduction no induction variable to
 * work on: our loops address every array as base + 4i, which x86 folds
 * into each load and store, so LSR found nothing to improve and cost
 * 10-15% of a rule's JIT time (-disable-lsr measures the same; that is
 * a process-wide option, and the host program's LLVM is not ours). */
static LLVMValueRef cg_opaque(Codegen *cg, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMTypeRef fty = LLVMFunctionType(t, &t, 1, 0);
  LLVMValueRef as = LLVMGetInlineAsm(fty, "", 0, "=r,0", 4, 0, 0, LLVMInlineAsmDialectATT, 0);
  return LLVMBuildCall2(cg->b, fty, as, &x, 1, "");
}

/* True when a step of w elements from i stays within bend. */
static LLVMValueRef sw_more(Sweep *s, LLVMValueRef i, LLVMValueRef bend, int w) {
  LLVMBuilderRef b = s->cg->b;
  if (w == 1) return LLVMBuildICmp(b, LLVMIntSLT, i, bend, "");
  LLVMValueRef next = LLVMBuildNSWAdd(b, i, cg_const_index(s->cg, w), ""); /* i < end <= n */
  return LLVMBuildICmp(b, LLVMIntSLE, next, bend, "");
}

/* Software prefetch, CG_PREFETCH_BYTES ahead on each array the vector
 * loop streams, once per vector step (on AVX-512 one cache line of f32),
 * in sweeps with reductions only (docs/performance.md, "What changed in
 * the eighth session").
 * Their vector loop ends every OPTK_BLOCK elements to write the block's
 * partials, and each ending (a mispredicted exit and the horizontal sums)
 * lets the memory streams run dry; prefetches 2 KiB ahead keep lines in
 * flight across it.  LAMB's norms sweep: 4-5% faster on one thread at
 * 16M elements (2 threads: 0-4%); 1 KiB and 3 KiB helped less or not
 * at all, 4 KiB and 8 KiB were slower than none.  In the sweeps without reductions, which run
 * uninterrupted through a chunk, the same prefetches were as often
 * slower as faster (SGD -4%, Lion +1.6-7%), so they have none.  A prefetch
 * is a hint and never faults: the address may pass the array's end (a
 * GEP without inbounds). */
enum { CG_PREFETCH_BYTES = 2048 };

static void sw_prefetch(Sweep *s, LLVMValueRef i) {
  Codegen *cg = s->cg;
  const IrStage *st = s->st;
  bool *done = xcalloc((size_t)cg->prog->nbufs + 1, sizeof *done);
  for (int k = 0; k < st->ninsts; k++) {
    const IrInst *in = &st->insts[k];
    if (in->op != IR_LOAD && in->op != IR_STORE) continue;
    if (done[in->index] || cg_buffer_pos(cg->prog, st->op.a, in->index) != POS_FULL) continue;
    done[in->index] = true;
    LLVMTypeRef sty = sw_storage_type(s, in->index);
    OptkDType dt = cg->prog->bufs[in->index].dtype;
    int ahead = CG_PREFETCH_BYTES / (dt == OPTK_F64 ? 8 : dt == OPTK_BF16 ? 2 : 4);
    LLVMValueRef at = LLVMBuildAdd(cg->b, i, cg_const_index(cg, ahead), "");
    LLVMValueRef args[4] = {cg_elem(cg, sty, s->base[in->index], at),
                            LLVMConstInt(cg->i32, 0, 0),  /* read */
                            LLVMConstInt(cg->i32, 3, 0),  /* keep in every cache level */
                            LLVMConstInt(cg->i32, 1, 0)}; /* data */
    cg_call_intrinsic(cg, "llvm.prefetch", cg->ptr, args, 4);
  }
  free(done);
}

/* One loop over [i, bend) with step w, then `after`; emitted rotated (a
 * guard, then the body with its test at the bottom: one branch a trip). */
static void sw_loop(Sweep *s, LLVMValueRef ivar, LLVMValueRef bend, int w, LLVMBasicBlockRef after) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  LLVMBasicBlockRef body = sw_block(s, w > 1 ? "vbody" : "sbody");
  LLVMValueRef go = sw_more(s, LLVMBuildLoad2(b, cg->i64, ivar, "i0"), bend, w);
  LLVMBuildCondBr(b, go, body, after);
  LLVMPositionBuilderAtEnd(b, body);
  LLVMValueRef i = LLVMBuildLoad2(b, cg->i64, ivar, "i");
  if (w > 1) i = cg_opaque(cg, i);
  if (w > 1 && s->has_red) sw_prefetch(s, i);
  LLVMValueRef next = LLVMBuildNSWAdd(b, i, cg_const_index(cg, w), "");
  LLVMValueRef lane = NULL;
  if (w == 1)
    lane = LLVMBuildAnd(b, LLVMBuildSub(b, i, s->blk, ""), cg_const_index(cg, OPTK_LANES - 1), "");
  sw_body(s, w, i, lane);
  LLVMBuildStore(b, next, ivar);
  LLVMBuildCondBr(b, sw_more(s, next, bend, w), body, after);
}

/* tail(ctx, i, bend, accs) with the accumulators copied into accs and back. */
static void sw_call_tail(Sweep *s, LLVMValueRef i, LLVMValueRef bend) {
  Codegen *cg = s->cg;
  LLVMTypeRef at = LLVMVectorType(cg->f64, OPTK_LANES);
  for (int k = 0, n = 0; k < s->st->ninsts; k++)
    if (s->acc[k])
      LLVMBuildStore(cg->b, LLVMBuildLoad2(cg->b, at, s->acc[k], ""),
                     cg_elem(cg, at, s->accs, cg_const_index(cg, n++)));
  LLVMValueRef args[4] = {s->ctx, i, bend, s->accs};
  LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(s->tail), s->tail, args, 4, "");
  for (int k = 0, n = 0; k < s->st->ninsts; k++)
    if (s->acc[k])
      LLVMBuildStore(cg->b, LLVMBuildLoad2(cg->b, at, cg_elem(cg, at, s->accs, cg_const_index(cg, n++)), ""),
                     s->acc[k]);
}

/* for (blk = begin; blk < end; blk = bend) { bend = min(blk + BLOCK, end);
 *   vector loop; scalar loop; partials } with reductions; without, the
 *   two loops over [begin, end) once. */
static void sw_loops(Sweep *s, LLVMValueRef begin) {
  Codegen *cg = s->cg;
  LLVMBuilderRef b = cg->b;
  LLVMValueRef blkvar = LLVMBuildAlloca(b, cg->i64, "blk"), ivar = LLVMBuildAlloca(b, cg->i64, "i");
  LLVMBuildStore(b, begin, blkvar);
  LLVMBasicBlockRef bhead = sw_block(s, "bhead"), bbody = sw_block(s, "bbody");
  LLVMBasicBlockRef mid = sw_block(s, "tail"), bdone = sw_block(s, "bdone"), exit = sw_block(s, "exit");
  LLVMBuildBr(b, bhead);
  LLVMPositionBuilderAtEnd(b, bhead);
  s->blk = LLVMBuildLoad2(b, cg->i64, blkvar, "blk");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, s->blk, s->end, ""), bbody, exit);
  LLVMPositionBuilderAtEnd(b, bbody);
  LLVMValueRef bend = s->end;
  if (s->has_red) {
    LLVMValueRef lim = LLVMBuildAdd(b, s->blk, cg_const_index(cg, OPTK_BLOCK), "");
    bend = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, lim, s->end, ""), lim, s->end, "bend");
  }
  sw_init_acc(s);
  LLVMBuildStore(b, s->blk, ivar);
  sw_loop(s, ivar, bend, s->w, mid);
  LLVMPositionBuilderAtEnd(b, mid);
  if (s->tail) { /* a scalar sweep (w 1) has no remainder */
    LLVMValueRef i = LLVMBuildLoad2(b, cg->i64, ivar, "");
    LLVMBasicBlockRef call = sw_block(s, "calltail");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, i, bend, ""), call, bdone);
    LLVMPositionBuilderAtEnd(b, call);
    sw_call_tail(s, i, bend);
  }
  LLVMBuildBr(b, bdone);
  LLVMPositionBuilderAtEnd(b, bdone);
  if (!s->has_red) {
    LLVMBuildBr(b, exit);
  } else {
    sw_flush_acc(s);
    LLVMBuildStore(b, bend, blkvar);
    LLVMBuildBr(b, bhead);
  }
  LLVMPositionBuilderAtEnd(b, exit);
  LLVMBuildRetVoid(b);
}

static int sw_width(Codegen *cg, OptkDType compute) {
  int lanes = cg->vector_bits / (compute == OPTK_F64 ? 64 : 32);
  return lanes < OPTK_LANES ? OPTK_LANES : lanes;
}

static void sw_alloc(Sweep *s) {
  int nb = s->cg->prog->nbufs, ni = s->st->ninsts;
  s->base = xcalloc((size_t)nb + 1, sizeof *s->base);
  s->slot = xcalloc((size_t)s->cg->prog->nslot + 1, sizeof *s->slot);
  s->key = xcalloc((size_t)ni + 1, sizeof *s->key);
  s->acc = xcalloc((size_t)ni + 1, sizeof *s->acc);
}

static void sw_release(Sweep *s) {
  free(s->base), free(s->slot), free(s->key), free(s->acc);
}

/* The scalar remainder of a sweep, void tail(ctx, i, end, accs): elements
 * [i, end) of one block, fewer than the vector width, accumulated
 * into the caller's accumulators (lane i % OPTK_LANES: blocks start at
 * multiples of OPTK_BLOCK).  Its own function, compiled optnone: it runs
 * for a few elements per tensor, and optimising a second copy of the
 * sweep's body cost as much compile time as the vector loop itself. */
static LLVMValueRef sw_tail(const Sweep *main) {
  Codegen *cg = main->cg;
  LLVMTypeRef params[4] = {cg->ptr, cg->i64, cg->i64, cg->ptr};
  Sweep t = {.cg = cg, .st = main->st, .ct = main->ct, .w = 1, .scope = main->scope,
             .noalias = main->noalias, .is_tail = true};
  t.fn = cg_add_function(cg, "optk_sweep_%d.tail", main->st->op.fn,
                         LLVMFunctionType(cg->voidt, params, 4, 0));
  LLVMSetLinkage(t.fn, cg->layer == CG_LAYER_ALL ? LLVMInternalLinkage : LLVMExternalLinkage);
  LLVMSetVisibility(t.fn, LLVMDefaultVisibility);
  cg_optnone(cg, t.fn);
  sw_alloc(&t);
  t.ctx = LLVMGetParam(t.fn, 0);
  t.end = LLVMGetParam(t.fn, 2);
  t.accs = LLVMGetParam(t.fn, 3);
  sw_entry(&t);
  t.blk = cg_const_index(cg, 0);
  LLVMValueRef ivar = LLVMBuildAlloca(cg->b, cg->i64, "i");
  LLVMBuildStore(cg->b, LLVMGetParam(t.fn, 1), ivar);
  LLVMBasicBlockRef exit = sw_block(&t, "exit");
  sw_loop(&t, ivar, t.end, 1, exit);
  LLVMPositionBuilderAtEnd(cg->b, exit);
  LLVMBuildRetVoid(cg->b);
  sw_release(&t);
  return t.fn;
}

/* The scalar tail of sweep `main` that the plain layer defines. */
static LLVMValueRef sw_tail_declaration(const Sweep *main) {
  Codegen *cg = main->cg;
  LLVMTypeRef params[4] = {cg->ptr, cg->i64, cg->i64, cg->ptr};
  char name[48];
  snprintf(name, sizeof name, "optk_sweep_%d.tail", main->st->op.fn);
  return LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->voidt, params, 4, 0));
}

/* A sweep function.  The init plan's and those over a vector domain
 * (`scalar`: cg_sweep_small) are one scalar loop compiled optnone: they
 * run once per tensor, or over rows or cols elements, and a vector loop
 * plus a tail function cost two functions' compile time. */
static void cg_sweep_stage(Codegen *cg, const IrStage *st, bool scalar) {
  LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i64};
  int nb = cg->prog->nbufs;
  Sweep s = {.cg = cg, .st = st, .ct = st->compute == OPTK_F64 ? cg->f64 : cg->f32};
  s.w = scalar ? 1 : sw_width(cg, st->compute);
  s.scope = xcalloc((size_t)nb + 1, sizeof *s.scope);
  s.noalias = xcalloc((size_t)nb + 1, sizeof *s.noalias);
  sw_alias_metadata(&s, st->op.fn);
  if (!scalar && cg->layer == CG_LAYER_OPT) {
    s.tail = sw_tail_declaration(&s);
  } else if (!scalar) {
    s.tail = sw_tail(&s);
  }
  if (cg->layer == CG_LAYER_PLAIN && !scalar) { /* the tail alone; the sweep is the other layer's */
    free(s.scope), free(s.noalias);
    return;
  }
  s.fn = cg_add_function(cg, "optk_sweep_%d", st->op.fn, LLVMFunctionType(cg->voidt, params, 3, 0));
  cg->sweep_fns[st->op.fn] = s.fn;
  if (s.w * (st->compute == OPTK_F64 ? 64 : 32) >= 512)
    LLVMAddAttributeAtIndex(s.fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(cg->ctx, "min-legal-vector-width", 22, "512", 3));
  s.ctx = LLVMGetParam(s.fn, 0);
  s.end = LLVMGetParam(s.fn, 2);
  sw_alloc(&s);
  int nacc = sw_count_acc(st);
  s.accs = LLVMBuildAlloca(cg->b, LLVMArrayType(LLVMVectorType(cg->f64, OPTK_LANES),
                                                 (unsigned)(nacc ? nacc : 1)), "accs");
  sw_entry(&s);
  sw_loops(&s, LLVMGetParam(s.fn, 1));
  sw_release(&s);
  free(s.scope), free(s.noalias);
}

/* ---- the descriptor ------------------------------------------------------------ */

static LLVMValueRef cg_global_const(Codegen *cg, LLVMValueRef init, const char *name) {
  LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
  return g;
}

static LLVMValueRef cg_cstring(Codegen *cg, const char *s) {
  if (!s) return LLVMConstNull(cg->ptr);
  return cg_global_const(cg, LLVMConstStringInContext2(cg->ctx, s, strlen(s), 0), ".str");
}

static LLVMValueRef cg_u32(Codegen *cg, uint32_t v) { return LLVMConstInt(cg->i32, v, 0); }
static LLVMValueRef cg_u8(Codegen *cg, unsigned v) {
  return LLVMConstInt(LLVMInt8TypeInContext(cg->ctx), v, 0);
}

/* A private constant array, or null for an empty one. */
static LLVMValueRef cg_array(Codegen *cg, LLVMTypeRef elem, LLVMValueRef *items, int n,
                             const char *name) {
  if (n == 0) return LLVMConstNull(cg->ptr);
  return cg_global_const(cg, LLVMConstArray2(elem, items, (uint64_t)n), name);
}

static LLVMTypeRef cg_struct(Codegen *cg, LLVMTypeRef *fields, int n) {
  return LLVMStructTypeInContext(cg->ctx, fields, (unsigned)n, 0);
}

static LLVMValueRef cg_hypers(Codegen *cg, LLVMTypeRef *ty) {
  LLVMTypeRef f[] = {cg->ptr, cg->f64, cg->f64, cg->f64, cg->i32, cg->i32};
  *ty = cg_struct(cg, f, 6);
  const IrProgram *p = cg->prog;
  LLVMValueRef *items = xcalloc((size_t)p->nhypers + 1, sizeof *items);
  for (int i = 0; i < p->nhypers; i++) {
    const IrHyper *h = &p->hypers[i];
    LLVMValueRef v[] = {cg_cstring(cg, h->name), LLVMConstReal(cg->f64, h->def),
                        LLVMConstReal(cg->f64, h->lo), LLVMConstReal(cg->f64, h->hi),
                        cg_u32(cg, h->flags), cg_u32(cg, 0)};
    items[i] = LLVMConstNamedStruct(*ty, v, 6);
  }
  LLVMValueRef g = cg_array(cg, *ty, items, p->nhypers, "optk.hypers");
  free(items);
  return g;
}

static LLVMValueRef cg_buffers(Codegen *cg, LLVMTypeRef *ty) {
  LLVMTypeRef i8 = LLVMInt8TypeInContext(cg->ctx);
  LLVMTypeRef f[] = {cg->ptr, i8, i8, i8, i8, cg->i32};
  *ty = cg_struct(cg, f, 6);
  const IrProgram *p = cg->prog;
  LLVMValueRef *items = xcalloc((size_t)p->nbufs + 1, sizeof *items);
  for (int i = 0; i < p->nbufs; i++) {
    const IrBuffer *bf = &p->bufs[i];
    LLVMValueRef v[] = {cg_cstring(cg, bf->name), cg_u8(cg, bf->role), cg_u8(cg, bf->dtype),
                        cg_u8(cg, bf->dim0), cg_u8(cg, bf->dim1), cg_u32(cg, bf->count_hyper)};
    items[i] = LLVMConstNamedStruct(*ty, v, 6);
  }
  LLVMValueRef g = cg_array(cg, *ty, items, p->nbufs, "optk.bufs");
  free(items);
  return g;
}

static LLVMValueRef cg_sstates(Codegen *cg, LLVMTypeRef *ty, LLVMValueRef *init) {
  LLVMTypeRef i8 = LLVMInt8TypeInContext(cg->ctx);
  LLVMTypeRef f[] = {cg->ptr, i8, LLVMArrayType2(i8, 7)};
  *ty = cg_struct(cg, f, 3);
  const IrProgram *p = cg->prog;
  LLVMValueRef *items = xcalloc((size_t)p->nsstates + 1, sizeof *items);
  LLVMValueRef *inits = xcalloc((size_t)p->nsstates + 1, sizeof *inits);
  for (int i = 0; i < p->nsstates; i++) {
    LLVMValueRef v[] = {cg_cstring(cg, p->sstates[i].name), cg_u8(cg, p->sstates[i].dtype),
                        LLVMConstNull(f[2])};
    items[i] = LLVMConstNamedStruct(*ty, v, 3);
    inits[i] = LLVMConstReal(cg->f64, p->sstates[i].init);
  }
  LLVMValueRef g = cg_array(cg, *ty, items, p->nsstates, "optk.sstates");
  *init = cg_array(cg, cg->f64, inits, p->nsstates, "optk.sstate_init");
  free(items);
  free(inits);
  return g;
}

static LLVMValueRef cg_ops(Codegen *cg, const IrStage *stages, int n, LLVMTypeRef *ty,
                           const char *name) {
  LLVMTypeRef i16 = cg->i16;
  LLVMTypeRef f[] = {i16, i16, i16, i16, cg->i32, cg->i32, cg->i32, cg->i32};
  *ty = cg_struct(cg, f, 8);
  LLVMValueRef *items = xcalloc((size_t)n + 1, sizeof *items);
  for (int i = 0; i < n; i++) {
    const OptkOp *o = &stages[i].op;
    LLVMValueRef v[] = {LLVMConstInt(i16, o->kind, 0), LLVMConstInt(i16, o->fn, 0),
                        LLVMConstInt(i16, o->scope, 0), LLVMConstInt(i16, o->flags, 0),
                        LLVMConstInt(cg->i32, (uint32_t)o->a, 0), LLVMConstInt(cg->i32, (uint32_t)o->b, 0),
                        LLVMConstInt(cg->i32, (uint32_t)o->c, 0), LLVMConstInt(cg->i32, (uint32_t)o->d, 0)};
    items[i] = LLVMConstNamedStruct(*ty, v, 8);
  }
  LLVMValueRef g = cg_array(cg, *ty, items, n, name);
  free(items);
  return g;
}

static bool cg_check_layout(Codegen *cg, LLVMTypeRef ty, size_t host_size, const char *what) {
  unsigned long long sz = LLVMABISizeOfType(cg->td, ty);
  if (sz == host_size) return true;
  cg_fail(cg, "target layout of %s (%llu bytes) differs from the host's (%zu bytes)", what,
          sz, host_size);
  return false;
}

static LLVMTypeRef cg_descriptor_type(Codegen *cg) {
  LLVMTypeRef f[28];
  int n = 0;
  for (int i = 0; i < 4; i++) f[n++] = cg->i32;
  f[n++] = cg->ptr, f[n++] = cg->ptr;
  for (int i = 0; i < 10; i++) f[n++] = cg->i32;
  for (int i = 0; i < 8; i++) f[n++] = cg->ptr;
  for (int i = 0; i < 4; i++) f[n++] = cg->i32;
  return cg_struct(cg, f, n);
}

static void cg_descriptor(Codegen *cg, const char *sha) {
  const IrProgram *p = cg->prog;
  LLVMTypeRef th, tb, ts, to, dty = cg_descriptor_type(cg);
  LLVMValueRef sinit, hy = cg_hypers(cg, &th), bu = cg_buffers(cg, &tb);
  LLVMValueRef ss = cg_sstates(cg, &ts, &sinit);
  LLVMValueRef ops = cg_ops(cg, p->stages, p->nstages, &to, "optk.ops");
  LLVMValueRef iops = cg_ops(cg, p->init_stages, p->ninit_stages, &to, "optk.init_ops");
  if (!cg_check_layout(cg, th, sizeof(OptkHyper), "OptkHyper") ||
      !cg_check_layout(cg, tb, sizeof(OptkBuffer), "OptkBuffer") ||
      !cg_check_layout(cg, ts, sizeof(OptkScalarState), "OptkScalarState") ||
      !cg_check_layout(cg, to, sizeof(OptkOp), "OptkOp") ||
      !cg_check_layout(cg, dty, sizeof(OptkDescriptor), "OptkDescriptor"))
    return;
  LLVMValueRef sf = cg_array(cg, cg->ptr, cg->scalar_fns, cg->nscalar, "optk.scalar_fns");
  LLVMValueRef wf = cg_array(cg, cg->ptr, cg->sweep_fns, cg->nsweep, "optk.sweep_fns");
  LLVMValueRef v[] = {
      cg_u32(cg, OPTK_MAGIC), cg_u32(cg, OPTK_ABI_VERSION), cg_u32(cg, sizeof(OptkDescriptor)),
      cg_u32(cg, p->needs), cg_cstring(cg, p->name), cg_cstring(cg, sha),
      cg_u32(cg, (uint32_t)p->nhypers), cg_u32(cg, (uint32_t)p->nbufs),
      cg_u32(cg, (uint32_t)p->nsstates), cg_u32(cg, (uint32_t)p->nred),
      cg_u32(cg, (uint32_t)p->nslot), cg_u32(cg, (uint32_t)p->nstages),
      cg_u32(cg, (uint32_t)p->ninit_stages), cg_u32(cg, (uint32_t)cg->nscalar),
      cg_u32(cg, (uint32_t)cg->nsweep), cg_u32(cg, 0), hy, bu, ss, sinit, ops, iops, sf, wf,
      cg_u32(cg, (uint32_t)p->sweeps), cg_u32(cg, (uint32_t)p->bytes_per_element),
      cg_u32(cg, (uint32_t)p->state_bytes_per_element), cg_u32(cg, (uint32_t)p->scratch_buffers)};
  LLVMValueRef g = LLVMAddGlobal(cg->mod, dty, OPTK_DESCRIPTOR_SYMBOL);
  LLVMSetInitializer(g, LLVMConstNamedStruct(dty, v, sizeof v / sizeof v[0]));
  LLVMSetGlobalConstant(g, 1);
  LLVMSetVisibility(g, LLVMDefaultVisibility);
}

/* ---- driver ------------------------------------------------------------------- */

void cg_types(Codegen *cg) {
  LLVMContextRef c = cg->ctx;
  cg->i1 = LLVMInt1TypeInContext(c);
  cg->i16 = LLVMInt16TypeInContext(c);
  cg->i32 = LLVMInt32TypeInContext(c);
  cg->i64 = LLVMInt64TypeInContext(c);
  cg->f32 = LLVMFloatTypeInContext(c);
  cg->f64 = LLVMDoubleTypeInContext(c);
  cg->ptr = LLVMPointerTypeInContext(c, 0);
  cg->voidt = LLVMVoidTypeInContext(c);
  cg->md_scope = LLVMGetMDKindIDInContext(c, "alias.scope", 11);
  cg->md_noalias = LLVMGetMDKindIDInContext(c, "noalias", 7);
}

/* Functions that run once per tensor per step (SCALAR stages: a few dozen
 * double operations) or once per tensor (the init plan's sweeps) are
 * compiled `optnone`: LLVM's fast instruction selector and no IR or
 * machine optimisation, whatever the -O level.  Each function costs LLVM's
 * optimising back end a fixed ~0.5 ms however small it is; this cut Adam's
 * -O2 compile by a fifth.  Results are unchanged (no pass changes a
 * rounding); only the step's sweeps, where the time goes, are optimised. */
static void cg_optnone(Codegen *cg, LLVMValueRef fn) {
  const char *attrs[] = {"optnone", "noinline"};
  for (int i = 0; i < 2; i++) {
    unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
  }
}

/* A function another part defines: declared under the same name. */
static void cg_declare_stage(Codegen *cg, const IrStage *st) {
  bool sweep = st->op.kind == OPTK_OP_SWEEP;
  LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i64};
  char name[48];
  snprintf(name, sizeof name, sweep ? "optk_sweep_%d" : "optk_scalar_%d", st->op.fn);
  LLVMValueRef fn = LLVMAddFunction(cg->mod, name,
                                    LLVMFunctionType(cg->voidt, params, sweep ? 3 : 1, 0));
  (sweep ? cg->sweep_fns : cg->scalar_fns)[st->op.fn] = fn;
}

/* local->field = a new array of n elements, element i ctx->field[map[i]]. */
static void cg_remap_array(Codegen *cg, LLVMValueRef ctx, LLVMValueRef local, size_t off,
                           LLVMTypeRef elem, const int *map, int n) {
  LLVMBuilderRef b = cg->b;
  LLVMValueRef from = cg_field(cg, ctx, off, cg->ptr);
  LLVMValueRef to = LLVMBuildAlloca(b, LLVMArrayType2(elem, (unsigned)n), "remap");
  for (int i = 0; i < n; i++)
    LLVMBuildStore(b, LLVMBuildLoad2(b, elem, cg_elem(cg, elem, from, cg_const_index(cg, map[i])), ""),
                   cg_elem(cg, elem, to, cg_const_index(cg, i)));
  LLVMBuildStore(b, to, cg_field_ptr(cg, local, off));
}

/* A renamed twin (codegen.h, CgTwins): optk_sweep_N(ctx, begin, end)
 * copies *ctx, puts its own buffers, slots and partials where its
 * original's code reads them, and calls that code.  optnone: it runs
 * once per chunk. */
static void cg_renamed_twin(Codegen *cg, const IrStage *st) {
  int f = st->op.fn, of = cg->twins->of[f];
  const int *bmap = cg->twins->buf_map[f], *smap = cg->twins->slot_map[f];
  LLVMBuilderRef b = cg->b;
  LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i64};
  LLVMTypeRef fty = LLVMFunctionType(cg->voidt, params, 3, 0);
  LLVMValueRef fn = cg_add_function(cg, "optk_sweep_%d", f, fty);
  cg->sweep_fns[f] = fn;
  cg_optnone(cg, fn);
  LLVMValueRef ctx = LLVMGetParam(fn, 0);
  LLVMTypeRef cty = LLVMArrayType2(LLVMInt8TypeInContext(cg->ctx), sizeof(OptkSweepCtx));
  LLVMValueRef local = LLVMBuildAlloca(b, cty, "ctx");
  LLVMSetAlignment(local, 8);
  LLVMBuildMemCpy(b, local, 8, ctx, 8, LLVMConstInt(cg->i64, sizeof(OptkSweepCtx), 0));
  if (bmap) cg_remap_array(cg, ctx, local, offsetof(OptkSweepCtx, buf), cg->ptr, bmap, cg->prog->nbufs);
  if (smap) cg_remap_array(cg, ctx, local, offsetof(OptkSweepCtx, slot), cg->f64, smap, cg->prog->nslot);
  if (cg->twins->red_shift[f]) {
    LLVMValueRef partial = cg_field(cg, ctx, offsetof(OptkSweepCtx, partial), cg->ptr);
    partial = cg_elem(cg, cg->f64, partial, cg_const_index(cg, cg->twins->red_shift[f]));
    LLVMBuildStore(b, partial, cg_field_ptr(cg, local, offsetof(OptkSweepCtx, partial)));
  }
  LLVMValueRef args[3] = {local, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2)};
  LLVMBuildCall2(b, fty, cg->sweep_fns[of], args, 3, "");
  LLVMBuildRetVoid(b);
}

static void cg_stages(Codegen *cg, const IrStage *stages, int n, bool init) {
  for (int i = 0; i < n; i++) {
    const IrStage *st = &stages[i];
    bool sweep = st->op.kind == OPTK_OP_SWEEP;
    if (!sweep && st->op.kind != OPTK_OP_SCALAR) continue;
    bool twin = sweep && !init && cg->twins->of[st->op.fn] != st->op.fn;
    if (twin && !cg_twin_renamed(cg->twins, st->op.fn)) continue; /* see cg_build_part */
    bool plain = !sweep || twin || init || cg_sweep_small(cg->prog, st); /* optnone */
    bool here = cg_split_defines(cg->split, cg->part, sweep, st->op.fn);
    if (cg->layer == CG_LAYER_PLAIN && !plain) {
      cg_declare_stage(cg, st); /* for renamed twins; the tail is this layer's */
      if (!cg->split || cg->split->plain_part == cg->part) cg_sweep_stage(cg, st, false);
    } else if (!here || (cg->layer == CG_LAYER_OPT && plain)) {
      cg_declare_stage(cg, st);
    } else if (twin) {
      cg_renamed_twin(cg, st);
    } else if (!sweep) {
      cg_scalar_stage(cg, st);
      cg_optnone(cg, cg->scalar_fns[st->op.fn]);
    } else {
      cg_sweep_stage(cg, st, plain);
      if (plain) cg_optnone(cg, cg->sweep_fns[st->op.fn]);
    }
  }
}

/* The IR pass pipeline of each -O level.  Sweeps are emitted as explicit
 * vector loops, so LLVM's loop and SLP vectorizers, unrolling and the
 * rest of default<O2> find nothing to do and cost 2-3x the compile time
 * (measured with `make bench`'s JIT clock, kernels equally fast): -O1 and
 * -O2 run the scalar clean-up that does matter (SROA, CSE, instcombine,
 * CFG simplification, LICM of the slot conversions, GVN, DCE); -O3 runs
 * LLVM's whole default<O3>. */
const char *cg_pipeline(int opt_level) {
  if (opt_level <= 0) return "default<O0>";
  if (opt_level >= 3) return "default<O3>";
  return "function(sroa,early-cse<memssa>,instcombine,simplifycfg,loop-mssa(licm),gvn,dce)";
}

static bool cg_verify_and_optimise(Codegen *cg, LLVMTargetMachineRef tm, int opt_level) {
  char *msg = NULL;
  if (LLVMVerifyModule(cg->mod, LLVMReturnStatusAction, &msg)) {
    cg_fail(cg, "generated LLVM IR does not verify: %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return false;
  }
  LLVMDisposeMessage(msg);
  const char *pipeline = cg_pipeline(opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e = LLVMRunPasses(cg->mod, pipeline, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (!e) return true;
  char *em = LLVMGetErrorMessage(e);
  cg_fail(cg, "LLVM passes failed: %s", em);
  LLVMDisposeErrorMessage(em);
  return false;
}

static void cg_set_target(Codegen *cg, LLVMTargetMachineRef tm) {
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(cg->mod, triple);
  LLVMDisposeMessage(triple);
  cg->td = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(cg->mod, cg->td);
  cg->vector_bits = cg_vector_bits(tm);
}

/* Whether the module defines any function. */
static bool cg_defines_some(LLVMModuleRef mod) {
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) return true;
  return false;
}

LLVMModuleRef cg_build_part(const IrProgram *prog, const CgSplit *split, int part, CgLayer layer,
                            LLVMContextRef ctx, LLVMTargetMachineRef tm, int opt_level,
                            char **err) {
  if (opt_level <= 0) layer = CG_LAYER_ALL; /* everything is compiled alike */
  Codegen cg = {.ctx = ctx, .prog = prog, .split = split, .part = part, .layer = layer};
  CgTwins own_twins = {0};
  const char *name = prog->name ? prog->name : "optimizer";
  cg.mod = LLVMModuleCreateWithNameInContext(name, ctx);
  cg.b = LLVMCreateBuilderInContext(ctx);
  cg_types(&cg);
  cg_set_target(&cg, tm);
  if (cg_check_program(&cg)) {
    cg.scalar_fns = xcalloc((size_t)cg.nscalar + 1, sizeof *cg.scalar_fns);
    cg.sweep_fns = xcalloc((size_t)cg.nsweep + 1, sizeof *cg.sweep_fns);
    /* The plan has them already; a whole-program module finds its own. */
    if (!split) cg_sweep_twins(prog, cg.nsweep, &own_twins);
    cg.twins = split ? &split->twins : &own_twins;
    cg_stages(&cg, prog->stages, prog->nstages, false);
    cg_stages(&cg, prog->init_stages, prog->ninit_stages, true);
    for (int f = 0; f < cg.nsweep; f++) /* twins on the same buffers share one function */
      if (!cg_twin_renamed(cg.twins, f)) cg.sweep_fns[f] = cg.sweep_fns[cg.twins->of[f]];
    if (part == 0 && layer != CG_LAYER_PLAIN) cg_descriptor(&cg, prog->source_sha256);
    if (!cg.err.len) cg_verify_and_optimise(&cg, tm, layer == CG_LAYER_PLAIN ? 0 : opt_level);
  }
  free(cg.scalar_fns);
  free(cg.sweep_fns);
  if (!split) cg_twins_free(&own_twins);
  LLVMDisposeBuilder(cg.b);
  LLVMDisposeTargetData(cg.td);
  if (!cg.err.len && (layer != CG_LAYER_PLAIN || cg_defines_some(cg.mod))) return cg.mod;
  if (!cg.err.len) {
    LLVMDisposeModule(cg.mod);
    return NULL;
  }
  LLVMDisposeModule(cg.mod);
  *err = str_take(&cg.err);
  return NULL;
}

LLVMModuleRef cg_build_module(const IrProgram *prog, LLVMContextRef ctx,
                              LLVMTargetMachineRef tm, int opt_level, char **err) {
  return cg_build_part(prog, NULL, 0, CG_LAYER_ALL, ctx, tm, opt_level, err);
}

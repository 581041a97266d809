/* codegen_math.c: f32 transcendentals for generated sweeps.
 *
 * exp, log, pow, tanh and log1p of f32 values are computed in double with
 * polynomials (relative error below 3e-13, pow 1e-11, for every f32
 * argument), then rounded once to f32: the correctly rounded result except
 * when the exact value lies within that bound of a rounding tie
 * (docs/abi.md).  They vectorise, where libm's expf/logf/powf would be one
 * call per lane.  f64 values keep libm for bit-exactness with the
 * interpreter.  No fast-math flags: every step rounds as written.
 *
 * Sweeps do not emit these sequences inline: they call the math library
 * (codegen_math.h), whose functions are the sequences on <W x float> (the
 * vector loop) and on float (the scalar tail, optnone), built here once
 * per JIT engine or AOT module.  LLVM's back end spent most of a pow
 * sweep's compile time on the inline polynomials, once per sweep.  Only
 * the init plan's sweeps, compiled optnone, keep the vector sequences
 * inline (cg_math_call says why).
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <string.h>

#include "codegen_internal.h"

static LLVMValueRef cg_d(Codegen *cg, LLVMValueRef like, double v) {
  return cg_one_like(cg, like, v);
}

static LLVMValueRef cg_i64like(Codegen *cg, LLVMValueRef like, uint64_t v) {
  LLVMTypeRef ty = LLVMTypeOf(like);
  int w = LLVMGetTypeKind(ty) == LLVMVectorTypeKind ? (int)LLVMGetVectorSize(ty) : 1;
  return cg_iconst(cg, w, v);
}

static LLVMTypeRef cg_i64_type_like(Codegen *cg, LLVMValueRef like) {
  LLVMTypeRef ty = LLVMTypeOf(like);
  return LLVMGetTypeKind(ty) == LLVMVectorTypeKind ? LLVMVectorType(cg->i64, LLVMGetVectorSize(ty))
                                                    : cg->i64;
}

/* c[0] + x * (c[1] + x * (... + x * c[n-1])) */
static LLVMValueRef cg_horner(Codegen *cg, LLVMValueRef x, const double *c, int n) {
  LLVMValueRef r = cg_d(cg, x, c[n - 1]);
  for (int i = n - 2; i >= 0; i--)
    r = LLVMBuildFAdd(cg->b, cg_d(cg, x, c[i]), LLVMBuildFMul(cg->b, x, r, ""), "");
  return r;
}

/* e^x in double for x in the range that matters to f32 results: x is
 * clamped to [-110, 100] (beyond, the f32 result is 0 or inf anyway),
 * n = rint(x / ln 2), r = x - n ln 2 (Cody-Waite, two parts), Taylor to
 * degree 10 on |r| <= 0.347 (truncation < 3e-13), times 2^n by exponent
 * arithmetic.  NaN stays NaN. */
static LLVMValueRef cg_exp_f64(Codegen *cg, LLVMValueRef x) {
  LLVMBuilderRef b = cg->b;
  static const double taylor[11] = {1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                    1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800};
  LLVMValueRef xc = cg_binary_intrinsic(cg, "llvm.minnum", x, cg_d(cg, x, 100.0));
  xc = cg_binary_intrinsic(cg, "llvm.maxnum", xc, cg_d(cg, x, -110.0));
  LLVMValueRef n = cg_unary_intrinsic(cg, "llvm.rint",
                                      LLVMBuildFMul(b, xc, cg_d(cg, x, 1.4426950408889634), ""));
  LLVMValueRef r = LLVMBuildFSub(b, xc, LLVMBuildFMul(b, n, cg_d(cg, x, 0.6931471803691238), ""), "");
  r = LLVMBuildFSub(b, r, LLVMBuildFMul(b, n, cg_d(cg, x, 1.9082149292705877e-10), ""), "");
  LLVMValueRef poly = cg_horner(cg, r, taylor, 11);
  LLVMValueRef ni = LLVMBuildFPToSI(b, n, cg_i64_type_like(cg, x), "");
  LLVMValueRef bits = LLVMBuildShl(b, LLVMBuildAdd(b, ni, cg_i64like(cg, x, 1023), ""),
                                   cg_i64like(cg, x, 52), "");
  LLVMValueRef scale = LLVMBuildBitCast(b, bits, LLVMTypeOf(x), "");
  LLVMValueRef res = LLVMBuildFMul(b, poly, scale, "");
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), x, res, "");
}

/* log x in double for x widened from f32 (so every positive x is a normal
 * double): x = 2^e m with m in [sqrt(2)/2, sqrt(2)), f = m - 1 (exact),
 * s = f / (2 + f), log m = 2s + s z (2/3 + 2/5 z + ... + 2/15 z^6) with
 * z = s^2 <= 0.0295 (truncation < 1e-13), plus e ln 2 in two parts.
 * log 0 = -inf, log inf = inf, negative x gives NaN, NaN stays NaN. */
static LLVMValueRef cg_log_f64(Codegen *cg, LLVMValueRef x) {
  LLVMBuilderRef b = cg->b;
  static const double atanh[7] = {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15};
  LLVMTypeRef it = cg_i64_type_like(cg, x);
  LLVMValueRef bits = LLVMBuildBitCast(b, x, it, "");
  LLVMValueRef e = LLVMBuildSub(b, LLVMBuildLShr(b, bits, cg_i64like(cg, x, 52), ""),
                                cg_i64like(cg, x, 1023), "");
  LLVMValueRef mb = LLVMBuildOr(b, LLVMBuildAnd(b, bits, cg_i64like(cg, x, 0x000fffffffffffffull), ""),
                                cg_i64like(cg, x, 0x3ff0000000000000ull), "");
  LLVMValueRef m = LLVMBuildBitCast(b, mb, LLVMTypeOf(x), "");
  LLVMValueRef big = LLVMBuildFCmp(b, LLVMRealOGT, m, cg_d(cg, x, 1.4142135623730951), "");
  m = LLVMBuildSelect(b, big, LLVMBuildFMul(b, m, cg_d(cg, x, 0.5), ""), m, "");
  e = LLVMBuildAdd(b, e, LLVMBuildZExt(b, big, it, ""), "");
  LLVMValueRef f = LLVMBuildFSub(b, m, cg_d(cg, x, 1.0), "");
  LLVMValueRef s = LLVMBuildFDiv(b, f, LLVMBuildFAdd(b, cg_d(cg, x, 2.0), f, ""), "");
  LLVMValueRef z = LLVMBuildFMul(b, s, s, "");
  LLVMValueRef tail = LLVMBuildFMul(b, LLVMBuildFMul(b, s, z, ""), cg_horner(cg, z, atanh, 7), "");
  LLVMValueRef logm = LLVMBuildFAdd(b, LLVMBuildFMul(b, s, cg_d(cg, x, 2.0), ""), tail, "");
  LLVMValueRef ed = LLVMBuildSIToFP(b, e, LLVMTypeOf(x), "");
  LLVMValueRef lo = LLVMBuildFAdd(b, LLVMBuildFMul(b, ed, cg_d(cg, x, 1.9082149292705877e-10), ""), logm, "");
  LLVMValueRef r = LLVMBuildFAdd(b, LLVMBuildFMul(b, ed, cg_d(cg, x, 0.6931471803691238), ""), lo, "");
  r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOEQ, x, cg_d(cg, x, __builtin_inf()), ""), x, r, "");
  r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOEQ, x, cg_d(cg, x, 0.0), ""),
                      cg_d(cg, x, -__builtin_inf()), r, "");
  r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, cg_d(cg, x, 0.0), ""),
                      cg_d(cg, x, __builtin_nan("")), r, "");
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), x, r, "");
}

static LLVMTypeRef cg_f64_type_like(Codegen *cg, LLVMValueRef like) {
  LLVMTypeRef ty = LLVMTypeOf(like);
  return LLVMGetTypeKind(ty) == LLVMVectorTypeKind ? LLVMVectorType(cg->f64, LLVMGetVectorSize(ty))
                                                    : cg->f64;
}

static bool cg_is_f32(Codegen *cg, LLVMValueRef v) {
  LLVMTypeRef ty = LLVMTypeOf(v);
  if (LLVMGetTypeKind(ty) == LLVMVectorTypeKind) ty = LLVMGetElementType(ty);
  return ty == cg->f32;
}

static LLVMValueRef cg_expf_inline(Codegen *cg, LLVMValueRef x) {
  LLVMValueRef d = LLVMBuildFPExt(cg->b, x, cg_f64_type_like(cg, x), "");
  return LLVMBuildFPTrunc(cg->b, cg_exp_f64(cg, d), LLVMTypeOf(x), "");
}

static LLVMValueRef cg_logf_inline(Codegen *cg, LLVMValueRef x) {
  LLVMValueRef d = LLVMBuildFPExt(cg->b, x, cg_f64_type_like(cg, x), "");
  return LLVMBuildFPTrunc(cg->b, cg_log_f64(cg, d), LLVMTypeOf(x), "");
}

/* tanh of f32 values in double: for |x| >= 2^-10,
 * sign(x) (1 - 2 / (e^(2|x|) + 1)) (cancellation costs at most 2^11 ulps
 * of double, ~3e-13 relative); below, x - x^3/3 + 2x^5/15 - 17x^7/315
 * (truncation < 1e-25 relative). */
static LLVMValueRef cg_tanh_f64(Codegen *cg, LLVMValueRef x) {
  LLVMBuilderRef b = cg->b;
  static const double series[4] = {1, -1.0 / 3, 2.0 / 15, -17.0 / 315};
  LLVMValueRef ax = cg_unary_intrinsic(cg, "llvm.fabs", x);
  LLVMValueRef e = cg_exp_f64(cg, LLVMBuildFMul(b, ax, cg_d(cg, x, 2.0), ""));
  LLVMValueRef q = LLVMBuildFDiv(b, cg_d(cg, x, 2.0), LLVMBuildFAdd(b, e, cg_d(cg, x, 1.0), ""), "");
  LLVMValueRef big = cg_call_intrinsic(cg, "llvm.copysign", LLVMTypeOf(x),
                                       (LLVMValueRef[]){LLVMBuildFSub(b, cg_d(cg, x, 1.0), q, ""), x}, 2);
  LLVMValueRef small = LLVMBuildFMul(b, x, cg_horner(cg, LLVMBuildFMul(b, x, x, ""), series, 4), "");
  LLVMValueRef tiny = LLVMBuildFCmp(b, LLVMRealOLT, ax, cg_d(cg, x, 0x1p-10), "");
  return LLVMBuildSelect(b, tiny, small, big, "");
}

/* log1p of f32 values in double: 1 + x is exact in double for
 * |x| >= 2^-29, so log(1 + x) there; below 2^-10 the series
 * x - x^2/2 + x^3/3 - x^4/4 (truncation < 2e-13 relative). */
static LLVMValueRef cg_log1p_f64(Codegen *cg, LLVMValueRef x) {
  LLVMBuilderRef b = cg->b;
  static const double series[4] = {1, -1.0 / 2, 1.0 / 3, -1.0 / 4};
  LLVMValueRef big = cg_log_f64(cg, LLVMBuildFAdd(b, cg_d(cg, x, 1.0), x, ""));
  LLVMValueRef small = LLVMBuildFMul(b, x, cg_horner(cg, x, series, 4), "");
  LLVMValueRef ax = cg_unary_intrinsic(cg, "llvm.fabs", x);
  LLVMValueRef tiny = LLVMBuildFCmp(b, LLVMRealOLT, ax, cg_d(cg, x, 0x1p-10), "");
  return LLVMBuildSelect(b, tiny, small, big, "");
}

static LLVMValueRef cg_tanhf_inline(Codegen *cg, LLVMValueRef x) {
  LLVMValueRef d = LLVMBuildFPExt(cg->b, x, cg_f64_type_like(cg, x), "");
  return LLVMBuildFPTrunc(cg->b, cg_tanh_f64(cg, d), LLVMTypeOf(x), "");
}

static LLVMValueRef cg_log1pf_inline(Codegen *cg, LLVMValueRef x) {
  LLVMValueRef d = LLVMBuildFPExt(cg->b, x, cg_f64_type_like(cg, x), "");
  return LLVMBuildFPTrunc(cg->b, cg_log1p_f64(cg, d), LLVMTypeOf(x), "");
}

/* True in any lane. */
static LLVMValueRef cg_any(Codegen *cg, LLVMValueRef mask) {
  LLVMTypeRef ty = LLVMTypeOf(mask);
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return mask;
  LLVMTypeRef it = LLVMIntTypeInContext(cg->ctx, LLVMGetVectorSize(ty));
  LLVMValueRef bits = LLVMBuildBitCast(cg->b, mask, it, "");
  return LLVMBuildICmp(cg->b, LLVMIntNE, bits, LLVMConstNull(it), "");
}

/* Lanes where exp(y log x) is not pow's answer: x <= 0, or x or y not finite. */
static LLVMValueRef cg_pow_special(Codegen *cg, LLVMValueRef x, LLVMValueRef y) {
  LLVMBuilderRef b = cg->b;
  LLVMValueRef inf = cg_one_like(cg, x, __builtin_inf());
  LLVMValueRef m = LLVMBuildFCmp(b, LLVMRealULE, x, LLVMConstNull(LLVMTypeOf(x)), "");
  m = LLVMBuildOr(b, m, LLVMBuildFCmp(b, LLVMRealUEQ, x, inf, ""), "");
  LLVMValueRef ay = cg_unary_intrinsic(cg, "llvm.fabs", y);
  return LLVMBuildOr(b, m, LLVMBuildFCmp(b, LLVMRealUEQ, ay, inf, ""), "");
}

static void cg_fn_attr(Codegen *cg, LLVMValueRef fn, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

/* Functions that pass 512-bit vectors say so, as the sweeps do: on
 * targets that prefer 256-bit vectors (skylake-avx512) a function without
 * the attribute would take a <16 x float> in two registers, its caller
 * pass it in one. */
static void cg_vector_width_attr(Codegen *cg, LLVMValueRef fn, LLVMTypeRef vt) {
  if (LLVMGetTypeKind(vt) != LLVMVectorTypeKind || LLVMGetVectorSize(vt) * 32 < 512) return;
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(cg->ctx, "min-legal-vector-width", 22, "512", 3));
}

/* for (l = 0; l < n; l++) x[l] = powf(x[l], y[l]); return x; on the
 * function's vector arguments, spilled to the stack. */
static void cg_powf_lanes_body(Codegen *cg, LLVMValueRef fn, LLVMTypeRef vt) {
  LLVMBuilderRef b = cg->b;
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "lane");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, fn, "done");
  LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef xs = LLVMBuildAlloca(b, vt, "x"), ys = LLVMBuildAlloca(b, vt, "y");
  LLVMBuildStore(b, LLVMGetParam(fn, 0), xs);
  LLVMBuildStore(b, LLVMGetParam(fn, 1), ys);
  LLVMBuildBr(b, body);
  LLVMPositionBuilderAtEnd(b, body);
  LLVMValueRef l = LLVMBuildPhi(b, cg->i64, "l");
  LLVMValueRef px = LLVMBuildGEP2(b, cg->f32, xs, &l, 1, "");
  LLVMValueRef py = LLVMBuildGEP2(b, cg->f32, ys, &l, 1, "");
  LLVMValueRef r = cg_binary_intrinsic(cg, "llvm.pow", LLVMBuildLoad2(b, cg->f32, px, ""),
                                       LLVMBuildLoad2(b, cg->f32, py, ""));
  LLVMBuildStore(b, r, px);
  LLVMValueRef next = LLVMBuildAdd(b, l, LLVMConstInt(cg->i64, 1, 0), "");
  LLVMValueRef zero = LLVMConstInt(cg->i64, 0, 0);
  LLVMAddIncoming(l, (LLVMValueRef[]){zero, next}, (LLVMBasicBlockRef[]){entry, body}, 2);
  LLVMValueRef n = LLVMConstInt(cg->i64, LLVMGetVectorSize(vt), 0);
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, next, n, ""), body, done);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRet(b, LLVMBuildLoad2(b, vt, xs, ""));
}

/* The module's `optk.powf.vN` (N = lanes, created on first use; the math
 * library's powf calls it): internal, never inlined, powf of each lane
 * pair in a loop, compiled without optimisation (only lanes with x <= 0
 * or infinities reach it).  One call instead of N inline libm calls, each
 * with vector spills around it. */
static LLVMValueRef cg_powf_lanes_fn(Codegen *cg, LLVMTypeRef vt, LLVMTypeRef *fty) {
  char name[32];
  snprintf(name, sizeof name, "optk.powf.v%u", LLVMGetVectorSize(vt));
  LLVMTypeRef params[2] = {vt, vt};
  *fty = LLVMFunctionType(vt, params, 2, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
  if (fn) return fn;
  fn = LLVMAddFunction(cg->mod, name, *fty);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  const char *attrs[] = {"noinline", "nounwind", "optnone"};
  for (int i = 0; i < 3; i++) cg_fn_attr(cg, fn, attrs[i]);
  cg_vector_width_attr(cg, fn, vt);
  LLVMBasicBlockRef back = LLVMGetInsertBlock(cg->b);
  cg_powf_lanes_body(cg, fn, vt);
  LLVMPositionBuilderAtEnd(cg->b, back);
  return fn;
}

/* libm's powf of every lane (scalars: one call). */
static LLVMValueRef cg_powf_libm(Codegen *cg, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef vt = LLVMTypeOf(x);
  if (LLVMGetTypeKind(vt) != LLVMVectorTypeKind) return cg_binary_intrinsic(cg, "llvm.pow", x, y);
  LLVMTypeRef fty;
  LLVMValueRef fn = cg_powf_lanes_fn(cg, vt, &fty);
  return LLVMBuildCall2(cg->b, fty, fn, (LLVMValueRef[]){x, y}, 2, "");
}

/* f32 pow: exp(y log x) in double where that is pow; special lanes (see
 * cg_pow_special) take libm's powf, on a branch taken only when a vector
 * holds one.  Every lane's result depends on its own inputs alone. */
static LLVMValueRef cg_powf_inline(Codegen *cg, LLVMValueRef x, LLVMValueRef y) {
  LLVMBuilderRef b = cg->b;
  LLVMTypeRef dt = cg_f64_type_like(cg, x);
  LLVMValueRef l = cg_log_f64(cg, LLVMBuildFPExt(b, x, dt, ""));
  LLVMValueRef prod = LLVMBuildFMul(b, LLVMBuildFPExt(b, y, dt, ""), l, "");
  LLVMValueRef fast = LLVMBuildFPTrunc(b, cg_exp_f64(cg, prod), LLVMTypeOf(x), "");
  LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
  LLVMValueRef fn = LLVMGetBasicBlockParent(from);
  LLVMBasicBlockRef slow = LLVMAppendBasicBlockInContext(cg->ctx, fn, "powf.slow");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(cg->ctx, fn, "powf.join");
  LLVMValueRef special = cg_pow_special(cg, x, y);
  LLVMBuildCondBr(b, cg_any(cg, special), slow, join);
  LLVMPositionBuilderAtEnd(b, slow);
  LLVMValueRef libm = cg_powf_libm(cg, x, y);
  libm = LLVMBuildSelect(b, special, libm, fast, "");
  LLVMBasicBlockRef slow_end = LLVMGetInsertBlock(b);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
  LLVMValueRef phi = LLVMBuildPhi(b, LLVMTypeOf(x), "pow");
  LLVMValueRef vals[2] = {fast, libm};
  LLVMBasicBlockRef blocks[2] = {from, slow_end};
  LLVMAddIncoming(phi, vals, blocks, 2);
  return phi;
}


/* ---- the math library ---------------------------------------------------- */

static const char *const CG_MATH_NAME[CG_MATH_COUNT] = {"expf", "logf", "powf", "tanhf", "log1pf"};
static const char CG_MATH_PREFIX[] = "optk.math.";

static int cg_math_arity(CgMathFn f) { return f == CG_MATH_POW ? 2 : 1; }

static void cg_math_name(char *buf, size_t cap, CgMathFn f, unsigned lanes) {
  snprintf(buf, cap, "%s%s.v%u", CG_MATH_PREFIX, CG_MATH_NAME[f], lanes);
}

static unsigned cg_lanes(LLVMTypeRef t) {
  return LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetVectorSize(t) : 1;
}

/* Library function f on values of type vt (float or a vector of it),
 * declared in cg->mod on first use: it touches no memory the caller
 * sees, so calls may be moved, merged and dropped like the arithmetic
 * they stand for. */
static LLVMValueRef cg_math_fn(Codegen *cg, CgMathFn f, LLVMTypeRef vt) {
  char name[48];
  cg_math_name(name, sizeof name, f, cg_lanes(vt));
  LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
  if (fn) return fn;
  LLVMTypeRef params[2] = {vt, vt};
  fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(vt, params, (unsigned)cg_math_arity(f), 0));
  const char *attrs[] = {"nounwind", "willreturn", "memory"}; /* memory(none) */
  for (int i = 0; i < 3; i++) cg_fn_attr(cg, fn, attrs[i]);
  cg_vector_width_attr(cg, fn, vt);
  return fn;
}

static LLVMValueRef cg_math_inline(Codegen *cg, CgMathFn f, LLVMValueRef x, LLVMValueRef y) {
  switch (f) {
  case CG_MATH_EXP: return cg_expf_inline(cg, x);
  case CG_MATH_LOG: return cg_logf_inline(cg, x);
  case CG_MATH_POW: return cg_powf_inline(cg, x, y);
  case CG_MATH_TANH: return cg_tanhf_inline(cg, x);
  default: return cg_log1pf_inline(cg, x);
  }
}

/* f(x) or pow(x, y) in f32: a call of the library.  Optimisation changes
 * one thing in these sequences, a signalling NaN argument of exp or log
 * comes back unquieted (fptrunc of fpext folds away), so optnone code
 * must run them unoptimised: scalars only occur in optnone code (scalar
 * tails, init sweeps and vector-domain sweeps, which are scalar loops)
 * and the scalar functions are optnone too. */
static LLVMValueRef cg_math_call(Codegen *cg, CgMathFn f, LLVMValueRef x, LLVMValueRef y) {
  LLVMValueRef fn = cg_math_fn(cg, f, LLVMTypeOf(x));
  LLVMValueRef args[2] = {x, y};
  return LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)cg_math_arity(f), "");
}

LLVMValueRef cg_exp(Codegen *cg, LLVMValueRef x) {
  if (!cg_is_f32(cg, x)) return cg_unary_intrinsic(cg, "llvm.exp", x);
  return cg_math_call(cg, CG_MATH_EXP, x, NULL);
}

LLVMValueRef cg_log(Codegen *cg, LLVMValueRef x) {
  if (!cg_is_f32(cg, x)) return cg_unary_intrinsic(cg, "llvm.log", x);
  return cg_math_call(cg, CG_MATH_LOG, x, NULL);
}

LLVMValueRef cg_pow(Codegen *cg, LLVMValueRef x, LLVMValueRef y) {
  if (!cg_is_f32(cg, x)) return cg_binary_intrinsic(cg, "llvm.pow", x, y);
  return cg_math_call(cg, CG_MATH_POW, x, y);
}

LLVMValueRef cg_tanh(Codegen *cg, LLVMValueRef x) {
  if (!cg_is_f32(cg, x)) return cg_libm(cg, "tanh", x);
  return cg_math_call(cg, CG_MATH_TANH, x, NULL);
}

LLVMValueRef cg_log1p(Codegen *cg, LLVMValueRef x) {
  if (!cg_is_f32(cg, x)) return cg_libm(cg, "log1p", x);
  return cg_math_call(cg, CG_MATH_LOG1P, x, NULL);
}

static unsigned cg_math_bit(IrOp op) {
  switch (op) {
  case IR_EXP: case IR_SIGMOID: return 1u << CG_MATH_EXP;
  case IR_LOG: return 1u << CG_MATH_LOG;
  case IR_POW: return 1u << CG_MATH_POW;
  case IR_TANH: return 1u << CG_MATH_TANH;
  case IR_LOG1P: return 1u << CG_MATH_LOG1P;
  default: return 0;
  }
}

/* Only f32 sweeps compute in f32; a step sweep's vector loop calls the
 * W-lane function, its scalar tail (and the scalar loops of init and
 * vector-domain sweeps) the scalar one.  Both are asked for. */
static unsigned cg_math_used_by(const IrStage *stages, int n) {
  unsigned fns = 0;
  for (int i = 0; i < n; i++) {
    if (stages[i].op.kind != OPTK_OP_SWEEP || stages[i].compute != OPTK_F32) continue;
    for (int k = 0; k < stages[i].ninsts; k++) fns |= cg_math_bit(stages[i].insts[k].op);
  }
  return fns;
}

unsigned cg_math_used(const IrProgram *prog) {
  return cg_math_used_by(prog->stages, prog->nstages) |
         cg_math_used_by(prog->init_stages, prog->ninit_stages);
}

/* The lanes of f32 sweeps on tm (codegen.c, sw_width). */
static unsigned cg_math_lanes(LLVMTargetMachineRef tm) {
  int lanes = cg_vector_bits(tm) / 32;
  return lanes < OPTK_LANES ? OPTK_LANES : (unsigned)lanes;
}

/* f's definition on vt (a vector or float): params in, the sequence,
 * its result out.  Never inlined (in an AOT module the callers are
 * optimised already); the scalar form, which the optnone scalar tails
 * call, optnone as they are (see cg_math_call). */
static void cg_math_define(Codegen *cg, CgMathFn f, LLVMTypeRef vt) {
  LLVMValueRef fn = cg_math_fn(cg, f, vt);
  cg_fn_attr(cg, fn, "noinline");
  if (cg_lanes(vt) == 1) cg_fn_attr(cg, fn, "optnone");
  LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
  LLVMValueRef y = cg_math_arity(f) == 2 ? LLVMGetParam(fn, 1) : NULL;
  LLVMBuildRet(cg->b, cg_math_inline(cg, f, LLVMGetParam(fn, 0), y));
}

static void cg_math_types(Codegen *cg, LLVMContextRef ctx) {
  cg->ctx = ctx;
  cg_types(cg);
}

static int cg_math_optimise(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, char **err) {
  char *msg = NULL;
  Str s = {0};
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    str_printf(&s, "the math library does not verify: %s", msg ? msg : "");
  } else {
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(mod, cg_pipeline(opt_level), tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
      char *em = LLVMGetErrorMessage(e);
      str_printf(&s, "LLVM passes failed on the math library: %s", em);
      LLVMDisposeErrorMessage(em);
    }
  }
  LLVMDisposeMessage(msg);
  if (!s.len) return 0;
  *err = str_take(&s);
  return -1;
}

LLVMModuleRef cg_math_library(LLVMContextRef ctx, LLVMTargetMachineRef tm, int opt_level,
                              unsigned fns, char **err) {
  Codegen cg = {0};
  cg_math_types(&cg, ctx);
  cg.mod = LLVMModuleCreateWithNameInContext("optk.math", ctx);
  cg.b = LLVMCreateBuilderInContext(ctx);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(cg.mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(cg.mod, td);
  LLVMDisposeTargetData(td);
  LLVMTypeRef vt = LLVMVectorType(cg.f32, cg_math_lanes(tm));
  for (int f = 0; f < CG_MATH_COUNT; f++) {
    if (!(fns & (1u << f))) continue;
    cg_math_define(&cg, (CgMathFn)f, vt);
    cg_math_define(&cg, (CgMathFn)f, cg.f32);
  }
  LLVMDisposeBuilder(cg.b);
  if (!cg_math_optimise(cg.mod, tm, opt_level, err)) return cg.mod;
  LLVMDisposeModule(cg.mod);
  return NULL;
}

/* The library function (of `lanes` lanes) a declaration names, or -1. */
static int cg_math_declared(LLVMValueRef fn, unsigned lanes) {
  size_t len;
  const char *name = LLVMGetValueName2(fn, &len);
  if (!LLVMIsDeclaration(fn) || strncmp(name, CG_MATH_PREFIX, sizeof CG_MATH_PREFIX - 1) != 0)
    return -1;
  for (int f = 0; f < CG_MATH_COUNT; f++) {
    char want[48];
    cg_math_name(want, sizeof want, (CgMathFn)f, lanes);
    if (strcmp(name, want) == 0) return f;
  }
  return -1;
}

int cg_math_link(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, char **err) {
  unsigned lanes = cg_math_lanes(tm), fns = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
    int k = cg_math_declared(f, lanes);
    if (k < 0) k = cg_math_declared(f, 1);
    if (k >= 0) fns |= 1u << k;
  }
  if (!fns) return 0;
  LLVMModuleRef lib = cg_math_library(LLVMGetModuleContext(mod), tm, opt_level, fns, err);
  if (!lib) return -1;
  if (LLVMLinkModules2(mod, lib)) { /* takes lib */
    *err = xstrdup("cannot link the math library into the module");
    return -1;
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *name = LLVMGetValueName2(f, &len);
    if (!LLVMIsDeclaration(f) && strncmp(name, CG_MATH_PREFIX, sizeof CG_MATH_PREFIX - 1) == 0)
      LLVMSetLinkage(f, LLVMInternalLinkage);
  }
  return 0;
}

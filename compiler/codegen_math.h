/* codegen_math.h: the math library of generated code (codegen_math.c).
 *
 * f32 sweeps compute exp, log, pow, tanh and log1p with polynomials in
 * double (docs/abi.md, "Numerics and fast-math").  They are not emitted
 * inline in every sweep but once per module or JIT engine as the
 * functions of the math library, `optk.math.<fn>.v<W>` (`expf`, `logf`,
 * `powf`, `tanhf`, `log1pf`), taking and returning <W x float> (W = the
 * f32 sweeps' lanes: the vector loop) or float (W = 1: the scalar tail);
 * sweeps call them.  The JIT compiles the functions it needs once per
 * engine into its main JITDylib, and rule modules only declare them
 * (jit.c); a module of its own (AOT) defines those it declares, internal
 * (cg_math_link).  Each function's body is the sequence the sweeps
 * emitted inline before, instruction for instruction, so results are
 * the same bits.
 */
#ifndef OPTC_CODEGEN_MATH_H
#define OPTC_CODEGEN_MATH_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "ir.h"

typedef enum CgMathFn { CG_MATH_EXP, CG_MATH_LOG, CG_MATH_POW, CG_MATH_TANH, CG_MATH_LOG1P,
                        CG_MATH_COUNT } CgMathFn;

/* Bit 1 << f for each library function f that prog's code calls, in both
 * widths (sigmoid calls exp). */
unsigned cg_math_used(const IrProgram *prog);

/* A module defining the library functions of `fns` (cg_math_used bits),
 * for tm's vector width and for scalars, external, verified and optimised
 * at opt_level.  NULL and *err on failure. */
LLVMModuleRef cg_math_library(LLVMContextRef ctx, LLVMTargetMachineRef tm, int opt_level,
                              unsigned fns, char **err);

/* Defines in mod, with internal linkage, every library function mod
 * declares (after mod's own optimisation: the definitions come
 * optimised).  0, or -1 and *err. */
int cg_math_link(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, char **err);

#endif

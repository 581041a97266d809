/* lower.h: from the checked AST (sema.h) to the function-level IR.
 *
 * lower_program fills the tables of `prog` (name, needs, hypers, buffers
 * p, g and one per tensor state, scalar states with their constant
 * initial values) and produces two IrFuncs: `body`, the update block as
 * SSA in program order (ir_func.h), and `init`, the state initialisation
 * (a STORE per tensor state, an SSTATE_SET per scalar state whose initial
 * value is not a constant).  Defs are inlined with shapes taken from the
 * IR values of their arguments; `repeat` is unrolled; `if` without a
 * barrier inside becomes SELECTs, `if`/`every` with one becomes an
 * FN_IF block (docs/ir.md).  Returns the number of errors reported.
 */
#ifndef OPTC_LOWER_H
#define OPTC_LOWER_H

#include "ir_func.h"
#include "sema.h"

/* Unrolled `repeat` iterations allowed in one update: far more than any
 * real rule (Newton-Schulz uses 5); bounds the IR on junk input. */
enum { LOWER_MAX_UNROLL = 10000 };
/* Instructions in one lowered body: bounds memory on junk input. */
enum { LOWER_MAX_INSTS = 1 << 20 };
/* Defs inlined inside each other: far beyond real rules; bounds the
 * recursion of lowering (each level may nest FRONT_MAX_DEPTH deep). */
enum { LOWER_MAX_INLINE = 64 };

int lower_program(IrProgram *prog, IrFunc *body, IrFunc *init, const SemaProgram *sp,
                  DiagSink *diags);

#endif

/* sched_scratch.h: scratch-buffer reuse over a scheduled program
 * (sched_scratch.c; docs/ir_scheduled.md "Scratch reuse").  sched_build
 * runs it after both plans are built; tests run it on hand-built plans. */
#ifndef OPTC_SCHED_SCRATCH_H
#define OPTC_SCHED_SCRATCH_H

#include "ir.h"

/* Gives scratch buffers whose live ranges do not overlap (in the step
 * plan and in the init plan) one physical buffer, drops scratch buffers
 * no op uses, renumbers the rest scratch0, scratch1, ... in order of first
 * use, and rewrites every reference.  Leaves the program unchanged when it
 * holds an op kind it does not know.  Returns the number of scratch
 * buffers removed. */
int sched_reuse_scratch(IrProgram *prog);

#endif

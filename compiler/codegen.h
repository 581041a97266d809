/* codegen.h: optc's LLVM back end (codegen.c, jit.c, aot.c).
 *
 * cg_build_module turns a scheduled IrProgram (ir.h) into an LLVM module
 * that defines the kernel ABI of runtime/include/optk.h: one function per
 * SCALAR and SWEEP stage and the exported constant `optk_descriptor`.
 * The module is verified and optimised with the new pass manager
 * ("default<ON>").  jit.c runs it in-process through ORC LLJIT; aot.c
 * emits object code or assembly and links shared libraries; their
 * LLVM-free interface is back.h.
 *
 * Only codegen*.c, jit.c and aot.c see the LLVM C API; everything else uses the
 * interface of back.h.  Errors come back as heap strings (*err, caller
 * frees); nothing prints.  docs/abi.md describes the generated code.
 */
#ifndef OPTC_CODEGEN_H
#define OPTC_CODEGEN_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "back.h"

/* Initialises LLVM's native target once per process (thread-safe). */
void cg_init_llvm(void);

/* A target machine for the host triple (position-independent code, which
 * both the JIT and shared libraries use).  NULL and *err on failure. */
LLVMTargetMachineRef cg_target_machine(const CgTarget *t, char **err);

/* Builds, verifies and optimises the module of `prog` in `ctx` for `tm`.
 * Returns NULL and *err when the program cannot be compiled. */
LLVMModuleRef cg_build_module(const IrProgram *prog, LLVMContextRef ctx,
                              LLVMTargetMachineRef tm, int opt_level, char **err);

/* ---- parallel code generation (codegen_split.c, jit.c) ---------------------
 * A program's SCALAR and SWEEP functions may be spread over several parts,
 * each a module of its own built, optimised and compiled to an object on
 * its own thread.  A part defines its functions (and their internal
 * helpers) and declares the others under the same names, `optk_scalar_N`
 * and `optk_sweep_N`; part 0 also holds the descriptor.  The linker
 * resolves the declarations. */
enum {
  CG_MAX_PARTS = 8,
  CG_SPLIT_MIN_COST = 60, /* least estimated work worth a part (codegen_split.c) */
};

/* Twins: step sweeps that compute the same thing (the same effects of
 * the same computations, up to the order of instructions and of
 * commutative operands), as the unrolled iterations of a `repeat` give,
 * or as Shampoo's left and right factors do on their own buffers.
 * twin.of[f] is the first sweep function whose code sweep f runs (f
 * itself when none); only that one's code is emitted.  A twin on the same
 * buffers, slots and reductions is listed by the descriptor under its
 * original's function; a renamed twin (buf_map, slot_map or red_shift
 * set) gets a small optnone function of its own that passes the
 * original's code a context with its own buffers, slots and partials in
 * the original's places (codegen.c, cg_renamed_twin).  Renaming keeps
 * every buffer's dtype and its position against the domain (element i,
 * row, column, element 0), so the original's code reads and writes the
 * twin's buffers at the same places.  Init sweeps are never twins. */
typedef struct CgTwins {
  int nsweep;
  int *of;        /* [nsweep] */
  int **buf_map;  /* [nsweep]: NULL, or [nbufs]: the buffer the twin passes where `of` has b */
  int **slot_map; /* [nsweep]: NULL, or [nslot] */
  int *red_shift; /* [nsweep]: the twin's reduction ids are `of`'s plus this */
} CgTwins;

void cg_sweep_twins(const IrProgram *prog, int nsweep, CgTwins *t);
void cg_twins_free(CgTwins *t);
/* Whether sweep f is a renamed twin (emitted as a function of its own). */
bool cg_twin_renamed(const CgTwins *t, int f);

typedef struct CgSplit {
  int nparts;                  /* 1: one module holds everything */
  int nscalar, nsweep;
  unsigned char *scalar_part;  /* [nscalar]: the part defining SCALAR function i */
  unsigned char *sweep_part;   /* [nsweep] */
  CgTwins twins;               /* cg_sweep_twins */
  int plain_part;              /* at -O1 and above, the part whose plain layer
                                  (CgLayer) holds every optnone function and
                                  every tail: one module for them all */
} CgSplit;

/* Whether a step sweep runs over a vector domain, a matrix buffer of
 * dims (X, ONE) or (ONE, X) (Adafactor's mean(R)): rows or cols elements
 * per tensor, against the parameter's rows x cols.  Such sweeps are
 * compiled like the init plan's (optnone, one scalar loop): an optimised
 * sweep costs 1.5-4 ms of compile time, and they take microseconds. */
bool cg_sweep_small(const IrProgram *prog, const IrStage *st);

/* Assigns the functions of `prog` to at most max_parts parts, balancing
 * their estimated compile time at opt_level; fewer parts when there is
 * not enough work.  Free with cg_split_free. */
void cg_split_plan(const IrProgram *prog, int max_parts, int opt_level, CgSplit *s);
void cg_split_free(CgSplit *s);
/* Whether `part` defines SCALAR (sweep false) or SWEEP function fn; with
 * s NULL or one part, every function; a twin on the same buffers, none. */
bool cg_split_defines(const CgSplit *s, int part, bool sweep, int fn);

/* A part's functions in one module, or in two compiled apart: the
 * optimised sweeps and the descriptor (CG_LAYER_OPT), and everything
 * compiled optnone (CG_LAYER_PLAIN: SCALAR stages, sweeps' scalar tails,
 * small-domain and init sweeps, renamed twins), which the JIT compiles
 * with a target machine at CodeGenOptLevel::None: the fast register
 * allocator and none of the optimising back end's machine passes, which
 * optnone functions otherwise still go through (docs/abi.md, "JIT code
 * generation in parts").  Each module declares what the other defines;
 * a tail defined in the plain module is external, `optk_sweep_N.tail`. */
typedef enum CgLayer { CG_LAYER_ALL, CG_LAYER_OPT, CG_LAYER_PLAIN } CgLayer;

/* cg_build_module for one part of `split` (NULL: the whole program), the
 * functions of one layer (opt_level <= 0: CG_LAYER_ALL only); NULL with
 * *err NULL when that layer has no function. */
LLVMModuleRef cg_build_part(const IrProgram *prog, const CgSplit *split, int part, CgLayer layer,
                            LLVMContextRef ctx, LLVMTargetMachineRef tm, int opt_level,
                            char **err);

#endif

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

#endif

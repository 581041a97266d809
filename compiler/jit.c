/* jit.c: runs a scheduled IrProgram in-process through ORC LLJIT.
 *
 * Each JitModule owns one LLJIT instance (and with it the JIT'd code, the
 * thread-safe context and the module), so freeing it releases everything:
 * thousands of compile/free cycles leave memory flat (tests/unit/
 * back_jit_leak.c).  The target machine carries the host CPU name and
 * features (or the caller's), so generated sweeps use the host's vectors.
 * Symbols the code calls (libm's tanh, log1p, exp...) resolve against the
 * running process.
 */
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "codegen.h"

struct JitModule {
  LLVMOrcLLJITRef jit;
  const OptkDescriptor *desc;
};

static int jit_error(LLVMErrorRef e, const char *what, char **err) {
  char *msg = LLVMGetErrorMessage(e);
  Str s = {0};
  str_printf(&s, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  *err = str_take(&s);
  return -1;
}

static void jit_dispose(LLVMOrcLLJITRef jit) {
  LLVMErrorRef e = LLVMOrcDisposeLLJIT(jit);
  if (e) LLVMConsumeError(e); /* nothing left to report it to */
}

/* An LLJIT whose target machine is a copy of t's (host CPU by default). */
static int jit_create_lljit(const CgTarget *t, LLVMOrcLLJITRef *out, char **err) {
  LLVMTargetMachineRef tm = cg_target_machine(t, err);
  if (!tm) return -1;
  LLVMOrcJITTargetMachineBuilderRef jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm);
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
  LLVMErrorRef e = LLVMOrcCreateLLJIT(out, builder);
  if (e) return jit_error(e, "cannot create the JIT", err);
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
      &gen, LLVMOrcLLJITGetGlobalPrefix(*out), NULL, NULL);
  if (e) {
    jit_dispose(*out);
    return jit_error(e, "cannot search the process for symbols", err);
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(*out), gen);
  return 0;
}

/* Builds the module in a fresh thread-safe context and hands both to jit. */
static int jit_add_program(LLVMOrcLLJITRef jit, const IrProgram *prog, const CgTarget *t,
                           char **err) {
  LLVMTargetMachineRef tm = cg_target_machine(t, err);
  if (!tm) return -1;
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef mod = cg_build_module(prog, LLVMOrcThreadSafeContextGetContext(tsc), tm,
                                      t->opt_level, err);
  LLVMDisposeTargetMachine(tm);
  if (!mod) {
    LLVMOrcDisposeThreadSafeContext(tsc);
    return -1;
  }
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */
  LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return jit_error(e, "cannot add the module to the JIT", err);
  }
  return 0;
}

int jit_compile(const IrProgram *prog, const CgTarget *t, JitModule **out, char **err) {
  *out = NULL;
  LLVMOrcLLJITRef jit;
  if (jit_create_lljit(t, &jit, err)) return -1;
  if (jit_add_program(jit, prog, t, err)) {
    jit_dispose(jit);
    return -1;
  }
  LLVMOrcExecutorAddress addr = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(jit, &addr, OPTK_DESCRIPTOR_SYMBOL);
  if (e) {
    jit_dispose(jit);
    return jit_error(e, "cannot materialise the optimizer", err);
  }
  JitModule *jm = xcalloc(1, sizeof *jm);
  jm->jit = jit;
  jm->desc = (const OptkDescriptor *)(uintptr_t)addr;
  *out = jm;
  return 0;
}

const OptkDescriptor *jit_descriptor(const JitModule *jm) { return jm ? jm->desc : NULL; }

void jit_free(JitModule *jm) {
  if (!jm) return;
  jit_dispose(jm->jit);
  free(jm);
}

/* jit.c: runs a scheduled IrProgram in-process through ORC LLJIT.
 *
 * Compiles share JIT engines.  An engine is one LLJIT plus the target
 * machine modules are built for, for one (cpu, features, -O level); the
 * target machines carry the host CPU name and features (or the caller's),
 * so generated sweeps use the host's vectors.  Creating an engine costs
 * about 1.5 ms (two target machines, their subtargets, the LLJIT and its
 * process-symbol generator), a quarter of compiling a small rule, so
 * engines outlive the compiles that made them:
 * - a compile takes an idle engine of its key, or makes one, and holds it
 *   alone while it builds and materialises (target machines are not
 *   thread-safe); compiles on different threads use different engines;
 * - each module lives in the engine's main JITDylib under a resource
 *   tracker of its own, its functions internal and its descriptor renamed
 *   `optk_descriptor.<serial>`, so modules never clash; jit_free removes
 *   the tracker, which releases the module's code and data, and the
 *   symbol-pool entries it left (memory stays flat over thousands of
 *   compile/free cycles: tests/unit/back_jit_leak.c);
 * - an engine with no live module and not in use is disposed when another
 *   idle engine of its key exists, so at most one idle engine per key is
 *   kept (reachable from the pool, for the next compile).
 * The pool is the back end's one piece of process-wide mutable state,
 * guarded by jit_pool_lock.  Symbols the code calls (libm's tanh, powf...)
 * resolve against the running process.
 */
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "codegen.h"

typedef struct JitEngine {
  LLVMOrcLLJITRef jit;
  LLVMTargetMachineRef tm; /* modules are built (and IR-optimised) for it */
  char *cpu, *features;    /* the key; NULL: the host's */
  int opt_level;
  bool busy;               /* a compile holds it */
  int users;               /* live JitModules */
  unsigned long serial;    /* names the next descriptor */
  struct JitEngine *next;
} JitEngine;

struct JitModule {
  JitEngine *eng;
  LLVMOrcResourceTrackerRef rt;
  const OptkDescriptor *desc;
};

static pthread_mutex_t jit_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static JitEngine *jit_pool; /* guarded by jit_pool_lock */

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

/* ---- engines ------------------------------------------------------------- */

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

static void jit_engine_free(JitEngine *e) {
  if (!e) return;
  if (e->jit) jit_dispose(e->jit);
  if (e->tm) LLVMDisposeTargetMachine(e->tm);
  free(e->cpu);
  free(e->features);
  free(e);
}

static JitEngine *jit_engine_new(const CgTarget *t, char **err) {
  JitEngine *e = xcalloc(1, sizeof *e);
  e->cpu = t->cpu ? xstrdup(t->cpu) : NULL;
  e->features = t->features ? xstrdup(t->features) : NULL;
  e->opt_level = t->opt_level;
  e->tm = cg_target_machine(t, err);
  if (!e->tm || jit_create_lljit(t, &e->jit, err)) {
    jit_engine_free(e);
    return NULL;
  }
  return e;
}

static bool jit_same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool jit_engine_fits(const JitEngine *e, const CgTarget *t) {
  return e->opt_level == t->opt_level && jit_same_str(e->cpu, t->cpu) &&
         jit_same_str(e->features, t->features);
}

/* Takes an idle engine for t, or makes one; NULL and *err on failure. */
static JitEngine *jit_acquire(const CgTarget *t, char **err) {
  pthread_mutex_lock(&jit_pool_lock);
  JitEngine *e = jit_pool;
  while (e && (e->busy || !jit_engine_fits(e, t))) e = e->next;
  if (e) e->busy = true;
  pthread_mutex_unlock(&jit_pool_lock);
  if (e) return e;
  e = jit_engine_new(t, err);
  if (!e) return NULL;
  e->busy = true;
  pthread_mutex_lock(&jit_pool_lock);
  e->next = jit_pool;
  jit_pool = e;
  pthread_mutex_unlock(&jit_pool_lock);
  return e;
}

/* With the lock held: unlinks e and returns it when it is unused and
 * another idle engine of its key stays in the pool; NULL otherwise. */
static JitEngine *jit_prune_locked(JitEngine *e) {
  if (e->busy || e->users > 0) return NULL;
  bool twin = false;
  for (JitEngine *o = jit_pool; o && !twin; o = o->next)
    twin = o != e && !o->busy && o->opt_level == e->opt_level &&
           jit_same_str(o->cpu, e->cpu) && jit_same_str(o->features, e->features);
  if (!twin) return NULL;
  JitEngine **link = &jit_pool;
  while (*link != e) link = &(*link)->next;
  *link = e->next;
  return e;
}

/* Ends a compile's hold on e; `added`: it left a live module there. */
static void jit_release(JitEngine *e, bool added) {
  pthread_mutex_lock(&jit_pool_lock);
  e->busy = false;
  if (added) e->users++;
  JitEngine *dead = jit_prune_locked(e);
  pthread_mutex_unlock(&jit_pool_lock);
  jit_engine_free(dead);
}

/* ---- compiling -------------------------------------------------------------- */

/* JIT-only symbol names: functions internal (only the descriptor refers to
 * them), the descriptor `optk_descriptor.<serial>`, written into name. */
static void jit_localise(LLVMModuleRef mod, unsigned long serial, char *name, size_t cap) {
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) {
      LLVMSetLinkage(f, LLVMInternalLinkage);
      LLVMSetVisibility(f, LLVMDefaultVisibility);
    }
  snprintf(name, cap, "%s.%lu", OPTK_DESCRIPTOR_SYMBOL, serial);
  LLVMValueRef g = LLVMGetNamedGlobal(mod, OPTK_DESCRIPTOR_SYMBOL);
  if (g) LLVMSetValueName2(g, name, strlen(name));
}

/* Builds the module in a fresh thread-safe context and hands both to the
 * engine under a new resource tracker (*rt); its descriptor is `name`. */
static int jit_add_program(JitEngine *e, const IrProgram *prog, LLVMOrcResourceTrackerRef *rt,
                           char *name, size_t cap, char **err) {
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef mod = cg_build_module(prog, LLVMOrcThreadSafeContextGetContext(tsc), e->tm,
                                      e->opt_level, err);
  if (!mod) {
    LLVMOrcDisposeThreadSafeContext(tsc);
    return -1;
  }
  jit_localise(mod, e->serial++, name, cap);
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */
  *rt = LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(e->jit));
  LLVMErrorRef er = LLVMOrcLLJITAddLLVMIRModuleWithRT(e->jit, *rt, tsm);
  if (er) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return jit_error(er, "cannot add the module to the JIT", err);
  }
  return 0;
}

/* Removes a module's code and data from its engine. */
static void jit_remove(LLVMOrcResourceTrackerRef rt) {
  LLVMErrorRef er = LLVMOrcResourceTrackerRemove(rt);
  if (er) LLVMConsumeError(er); /* nothing left to report it to */
  LLVMOrcReleaseResourceTracker(rt);
}

int jit_compile(const IrProgram *prog, const CgTarget *t, JitModule **out, char **err) {
  *out = NULL;
  JitEngine *e = jit_acquire(t, err);
  if (!e) return -1;
  LLVMOrcResourceTrackerRef rt = NULL;
  char name[64];
  if (jit_add_program(e, prog, &rt, name, sizeof name, err)) {
    if (rt) jit_remove(rt);
    jit_release(e, false);
    return -1;
  }
  LLVMOrcExecutorAddress addr = 0;
  LLVMErrorRef er = LLVMOrcLLJITLookup(e->jit, &addr, name);
  if (er) {
    jit_remove(rt);
    jit_release(e, false);
    return jit_error(er, "cannot materialise the optimizer", err);
  }
  JitModule *jm = xcalloc(1, sizeof *jm);
  jm->eng = e;
  jm->rt = rt;
  jm->desc = (const OptkDescriptor *)(uintptr_t)addr;
  jit_release(e, true);
  *out = jm;
  return 0;
}

const OptkDescriptor *jit_descriptor(const JitModule *jm) { return jm ? jm->desc : NULL; }

void jit_free(JitModule *jm) {
  if (!jm) return;
  JitEngine *e = jm->eng;
  jit_remove(jm->rt);
  free(jm);
  pthread_mutex_lock(&jit_pool_lock);
  e->users--;
  if (!e->busy) /* no compile can be interning symbols in e now */
    LLVMOrcSymbolStringPoolClearDeadEntries(
        LLVMOrcExecutionSessionGetSymbolStringPool(LLVMOrcLLJITGetExecutionSession(e->jit)));
  JitEngine *dead = jit_prune_locked(e);
  pthread_mutex_unlock(&jit_pool_lock);
  jit_engine_free(dead);
}

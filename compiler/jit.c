/* jit.c: runs a scheduled IrProgram in-process through ORC LLJIT.
 *
 * A program is compiled in parts (codegen.h, "Parallel code generation";
 * the plan in codegen_split.c): each part is a module built, optimised and
 * compiled to an object on a thread of its own, part 0 on the caller's;
 * the objects are added to the JIT and linked when the descriptor is
 * looked up.  Rules with little work stay in one part.
 *
 * Compiles share JIT engines.  An engine is one LLJIT plus the target
 * machines parts are built with, for one (cpu, features, -O level); the
 * target machines carry the host CPU name and features (or the caller's),
 * so generated sweeps use the host's vectors.  Creating an engine costs
 * about 1.5 ms (a target machine, its subtarget, the LLJIT and its
 * process-symbol generator), a quarter of compiling a small rule, so
 * engines outlive the compiles that made them:
 * - a compile takes an idle engine of its key, or makes one, and holds it
 *   alone while it builds and materialises (target machines are not
 *   thread-safe: part k uses the engine's k-th, made on first use);
 *   compiles on different threads use different engines;
 * - each compile's objects live in the engine's main JITDylib under a
 *   resource tracker of their own, with the compile's serial in every
 *   name that leaves its part (`optk_sweep_N.<serial>`,
 *   `optk_descriptor.<serial>`) and everything else internal, so
 *   compiles never clash; jit_free removes the tracker, which releases
 *   the code and data, and the symbol-pool entries it left (memory stays
 *   flat over thousands of compile/free cycles: tests/unit/back_jit_leak.c);
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
#include <unistd.h>

#include "codegen.h"
#include "codegen_math.h"

typedef struct JitEngine {
  LLVMOrcLLJITRef jit;
  /* tms[k] builds, optimises and compiles part k of a program (codegen.h
   * "Parallel code generation"); tms[0] exists from the start, the others
   * are made on first use.  Target machines are not thread-safe: one per
   * compiling thread. */
  LLVMTargetMachineRef tms[CG_MAX_PARTS];
  /* The same at CodeGenOptLevel::None for the optnone functions
   * (CG_LAYER_PLAIN), made on first use: one plain layer a compile. */
  LLVMTargetMachineRef tm0;
  char *cpu, *features;    /* the key; NULL: the host's */
  int opt_level;
  bool busy;               /* a compile holds it */
  int users;               /* live JitModules */
  unsigned long serial;    /* names the next descriptor */
  unsigned math;           /* math library functions in the main JITDylib (cg_math_used bits) */
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
  for (int k = 0; k < CG_MAX_PARTS; k++)
    if (e->tms[k]) LLVMDisposeTargetMachine(e->tms[k]);
  if (e->tm0) LLVMDisposeTargetMachine(e->tm0);
  free(e->cpu);
  free(e->features);
  free(e);
}

static JitEngine *jit_engine_new(const CgTarget *t, char **err) {
  JitEngine *e = xcalloc(1, sizeof *e);
  e->cpu = t->cpu ? xstrdup(t->cpu) : NULL;
  e->features = t->features ? xstrdup(t->features) : NULL;
  e->opt_level = t->opt_level;
  e->tms[0] = cg_target_machine(t, err);
  if (!e->tms[0] || jit_create_lljit(t, &e->jit, err)) {
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

/* Threads that compile one program: the caller's, or one per online CPU
 * (at most JIT_AUTO_THREADS) when it does not say. */
enum { JIT_AUTO_THREADS = 4 };

static int jit_threads(const CgTarget *t) {
  if (t->threads > 0) return t->threads < CG_MAX_PARTS ? t->threads : CG_MAX_PARTS;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > JIT_AUTO_THREADS ? JIT_AUTO_THREADS : (int)n;
}

/* optk_scalar_N or optk_sweep_N (a function the descriptor lists) or a
 * sweep's tail, optk_sweep_N.tail. */
static bool jit_is_stage_fn(const char *name) {
  const char *rest = strncmp(name, "optk_scalar_", 12) == 0  ? name + 12
                     : strncmp(name, "optk_sweep_", 11) == 0 ? name + 11
                                                              : NULL;
  if (!rest || *rest < '0' || *rest > '9') return false;
  while (*rest >= '0' && *rest <= '9') rest++;
  return !*rest || (strcmp(rest, ".tail") == 0 && strncmp(name, "optk_sweep_", 11) == 0);
}

/* JIT-only symbol names and linkage for a module of part `part`
 * (`alone`: the program's only module):
 * - alone: every function internal (only the descriptor refers to them);
 * - else: stage functions and tails are named `<name>.<serial>` in every
 *   module and external where defined (another module may call them or
 *   list them: the descriptor, a renamed twin, a sweep's tail); the math
 *   library's functions are declarations and keep their names;
 * - the descriptor (part 0) is `optk_descriptor.<serial>`, written into
 *   name.  Serials make every compile's names unique in the engine. */
static void jit_localise(LLVMModuleRef mod, int part, bool alone, unsigned long serial,
                         char *name, size_t cap) {
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *fname = LLVMGetValueName2(f, &len);
    bool stage = jit_is_stage_fn(fname);
    if (stage && !alone) {
      char renamed[64];
      snprintf(renamed, sizeof renamed, "%s.%lu", fname, serial);
      LLVMSetValueName2(f, renamed, strlen(renamed));
    }
    if (LLVMIsDeclaration(f)) continue;
    bool shared = stage && !alone;
    LLVMSetLinkage(f, shared ? LLVMExternalLinkage : LLVMInternalLinkage);
    LLVMSetVisibility(f, LLVMDefaultVisibility);
  }
  LLVMValueRef g = LLVMGetNamedGlobal(mod, OPTK_DESCRIPTOR_SYMBOL);
  if (part != 0 || !g) return;
  snprintf(name, cap, "%s.%lu", OPTK_DESCRIPTOR_SYMBOL, serial);
  LLVMSetValueName2(g, name, strlen(name));
}

/* One part's work: build, optimise and compile to an object in memory. */
typedef struct JitPart {
  const IrProgram *prog;
  const CgSplit *split;
  int part;
  LLVMTargetMachineRef tm, tm0; /* tm0: the plain layer's (JitEngine.tm0) */
  int opt_level;
  unsigned long serial;
  char descriptor[64];       /* part 0: the descriptor's name */
  LLVMMemoryBufferRef obj[2]; /* out: the object files of the two layers (or NULL) */
  char *err;                 /* out: why there is none */
} JitPart;

/* mod as an object file in memory, or NULL and *err ("cannot compile
 * WHAT: ..."); disposes of mod. */
static LLVMMemoryBufferRef jit_emit(LLVMTargetMachineRef tm, LLVMModuleRef mod, const char *what,
                                   char **err) {
  LLVMMemoryBufferRef obj = NULL;
  char *msg = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &obj)) {
    Str s = {0};
    str_printf(&s, "cannot compile %s: %s", what, msg ? msg : "unknown LLVM error");
    *err = str_take(&s);
    obj = NULL;
  }
  LLVMDisposeMessage(msg);
  LLVMDisposeModule(mod);
  return obj;
}

/* One layer of a part: build, optimise and compile to obj[k]. */
static void jit_layer_run(JitPart *jp, CgLayer layer, LLVMTargetMachineRef tm, int k) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod =
      cg_build_part(jp->prog, jp->split, jp->part, layer, ctx, tm, jp->opt_level, &jp->err);
  if (mod) {
    jit_localise(mod, jp->part, jp->split->nparts == 1 && layer == CG_LAYER_ALL, jp->serial,
                 jp->descriptor, sizeof jp->descriptor);
    jp->obj[k] = jit_emit(tm, mod, "the optimizer", &jp->err);
  }
  LLVMContextDispose(ctx);
}

/* A part's work: its optimised layer with tm and, in the plan's plain
 * part, every optnone function with tm0 (codegen.h, CgLayer); at -O0 one
 * module. */
static void *jit_part_run(void *arg) {
  JitPart *jp = arg;
  bool layered = jp->opt_level > 0;
  jit_layer_run(jp, layered ? CG_LAYER_OPT : CG_LAYER_ALL, jp->tm, 0);
  if (layered && !jp->err && jp->part == jp->split->plain_part)
    jit_layer_run(jp, CG_LAYER_PLAIN, jp->tm0, 1);
  return NULL;
}

/* Runs the parts of `split`, parts 1.. on threads of their own (or here,
 * when a thread cannot be started), part 0 on the calling thread. */
static void jit_run_parts(JitPart *parts, int n) {
  pthread_t th[CG_MAX_PARTS];
  bool started[CG_MAX_PARTS] = {false};
  for (int k = 1; k < n; k++) started[k] = pthread_create(&th[k], NULL, jit_part_run, &parts[k]) == 0;
  jit_part_run(&parts[0]);
  for (int k = 1; k < n; k++) {
    if (started[k]) pthread_join(th[k], NULL);
    else jit_part_run(&parts[k]);
  }
}

/* Compiles the math library functions of `fns` that e lacks with e's
 * first target machine and adds them to e's main JITDylib for good. */
static int jit_add_math(JitEngine *e, unsigned fns, char **err) {
  fns &= ~e->math;
  if (!fns) return 0;
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = cg_math_library(ctx, e->tms[0], e->opt_level, fns, err);
  LLVMMemoryBufferRef obj = mod ? jit_emit(e->tms[0], mod, "the math library", err) : NULL;
  LLVMContextDispose(ctx);
  if (!obj) return -1;
  LLVMErrorRef er = LLVMOrcLLJITAddObjectFile(e->jit, LLVMOrcLLJITGetMainJITDylib(e->jit), obj);
  if (er) return jit_error(er, "cannot add the math library to the JIT", err);
  e->math |= fns;
  return 0;
}

/* Compiles prog's parts into objects and adds them to the engine under a
 * new resource tracker (*rt); the descriptor's name goes to `name`. */
static int jit_add_program(JitEngine *e, const IrProgram *prog, int threads,
                           LLVMOrcResourceTrackerRef *rt, char *name, size_t cap, char **err) {
  if (jit_add_math(e, cg_math_used(prog), err)) return -1;
  CgSplit split;
  cg_split_plan(prog, threads, e->opt_level, &split);
  CgTarget t = {.cpu = e->cpu, .features = e->features, .opt_level = e->opt_level};
  CgTarget t0 = {.cpu = e->cpu, .features = e->features, .opt_level = 0};
  for (int k = 0; k < split.nparts && !*err; k++)
    if (!e->tms[k]) e->tms[k] = cg_target_machine(&t, err);
  if (e->opt_level > 0 && !*err && !e->tm0) e->tm0 = cg_target_machine(&t0, err);
  JitPart parts[CG_MAX_PARTS];
  unsigned long serial = e->serial++;
  for (int k = 0; k < split.nparts; k++)
    parts[k] = (JitPart){.prog = prog, .split = &split, .part = k, .tm = e->tms[k],
                         .tm0 = e->tm0, .opt_level = e->opt_level, .serial = serial};
  if (!*err) jit_run_parts(parts, split.nparts);
  for (int k = 0; k < split.nparts && !*err; k++)
    if (parts[k].err) *err = parts[k].err, parts[k].err = NULL;
  if (!*err) {
    *rt = LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(e->jit));
    snprintf(name, cap, "%s", parts[0].descriptor);
  }
  for (int k = 0; k < split.nparts; k++) {
    free(parts[k].err);
    for (int l = 0; l < 2; l++) {
      if (!parts[k].obj[l]) continue;
      if (*err) {
        LLVMDisposeMemoryBuffer(parts[k].obj[l]);
        continue;
      }
      LLVMErrorRef er = LLVMOrcLLJITAddObjectFileWithRT(e->jit, *rt, parts[k].obj[l]); /* takes it */
      if (er) jit_error(er, "cannot add the optimizer to the JIT", err);
    }
  }
  cg_split_free(&split);
  return *err ? -1 : 0;
}

/* Removes a module's code and data from its engine. */
static void jit_remove(LLVMOrcResourceTrackerRef rt) {
  LLVMErrorRef er = LLVMOrcResourceTrackerRemove(rt);
  if (er) LLVMConsumeError(er); /* nothing left to report it to */
  LLVMOrcReleaseResourceTracker(rt);
}

int jit_compile(const IrProgram *prog, const CgTarget *t, JitModule **out, char **err) {
  *out = NULL;
  *err = NULL;
  JitEngine *e = jit_acquire(t, err);
  if (!e) return -1;
  LLVMOrcResourceTrackerRef rt = NULL;
  char name[64];
  if (jit_add_program(e, prog, jit_threads(t), &rt, name, sizeof name, err)) {
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

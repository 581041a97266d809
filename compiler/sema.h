/* sema.h: semantic analysis of a parsed .opt file.
 *
 * sema_check resolves imports (relative to the importing file, then the
 * import paths; cycles and self-imports are errors), resolves every name,
 * infers types and shapes, checks the rules of docs/language.md, fills the
 * `ty`/`ref`/`call.builtin`/`call.def` annotations of the AST, evaluates
 * hyper defaults and ranges, and summarises what the optimizer needs from
 * the host.  Every error found is reported; the program is usable for
 * lowering only when sema_check returns 0.
 *
 * Besides expressions, sema sets `ty` on HYPER items (scalar) and STATE
 * items (the state's type: scalar, tensor or matrix(R, C)).  A syntax error
 * in the file or in an imported one ends the check after parsing.
 *
 * Defs are generic: a def's body is checked at each call with the
 * argument types of that call, so `ty` annotations inside def bodies are
 * those of the last call checked.  Lowering re-derives shapes from IR
 * values and must not rely on them.
 */
#ifndef OPTC_SEMA_H
#define OPTC_SEMA_H

#include "ast.h"

/* Built-in functions: X(id, name, min_args, max_args, class).
 * Classes: ELEM (elementwise math), RED (reduction to a scalar; may be
 * written group.NAME(...) for the whole group), RNG (random tensor shaped
 * like p), HOST (needs the host's objective, or a runtime primitive over
 * the whole group: the L-BFGS history), MAT (2-D parameters only). */
#define BUILTIN_FNS(X)                      \
  X(ABS, "abs", 1, 1, ELEM)                 \
  X(SIGN, "sign", 1, 1, ELEM)               \
  X(SQRT, "sqrt", 1, 1, ELEM)               \
  X(RSQRT, "rsqrt", 1, 1, ELEM)             \
  X(EXP, "exp", 1, 1, ELEM)                 \
  X(LOG, "log", 1, 1, ELEM)                 \
  X(LOG1P, "log1p", 1, 1, ELEM)             \
  X(TANH, "tanh", 1, 1, ELEM)               \
  X(SIGMOID, "sigmoid", 1, 1, ELEM)         \
  X(MIN, "min", 2, 2, ELEM)                 \
  X(MAX, "max", 2, 2, ELEM)                 \
  X(CLIP, "clip", 3, 3, ELEM)               \
  X(WHERE, "where", 3, 3, ELEM)             \
  X(SUM, "sum", 1, 1, RED)                  \
  X(MEAN, "mean", 1, 1, RED)                \
  X(DOT, "dot", 2, 2, RED)                  \
  X(NORM, "norm", 1, 1, RED)                \
  X(NORMINF, "norminf", 1, 1, RED)          \
  X(RADEMACHER, "rademacher", 0, 0, RNG)    \
  X(NORMAL, "normal", 0, 0, RNG)            \
  X(UNIFORM, "uniform", 0, 0, RNG)          \
  X(HVP, "hvp", 1, 1, HOST)                 \
  X(HESSIAN, "hessian", 0, 0, HOST)         \
  X(SOLVE, "solve", 2, 2, HOST)             \
  X(LINESEARCH, "linesearch", 2, 6, HOST)   \
  X(GNB, "gnb", 0, 0, HOST)                 \
  X(ROWMEAN, "rowmean", 1, 1, MAT)          \
  X(COLMEAN, "colmean", 1, 1, MAT)          \
  X(OUTER, "outer", 2, 2, MAT)              \
  X(INV_ROOT, "inv_root", 2, 3, MAT)        \
  X(EIGVECS, "eigvecs", 1, 1, MAT)          \
  X(TRANSPOSE, "transpose", 1, 1, MAT)      \
  X(LBFGS_DIRECTION, "lbfgs_direction", 2, 2, HOST) \
  X(HISTORY_PUSH, "history_push", 3, 3, HOST)

typedef enum BuiltinFn {
#define X(id, name, lo, hi, cls) BF_##id,
  BUILTIN_FNS(X)
#undef X
  BF_COUNT
} BuiltinFn;

typedef enum BuiltinClass { BC_ELEM, BC_RED, BC_RNG, BC_HOST, BC_MAT } BuiltinClass;

const char *builtin_name(BuiltinFn f);
BuiltinClass builtin_class(BuiltinFn f);
int builtin_lookup(const char *name); /* BuiltinFn or -1 */
/* The min_args and max_args columns of BUILTIN_FNS. */
void builtin_arity(BuiltinFn f, int *min_args, int *max_args);

typedef struct SemaOptions {
  const char *const *import_paths;
  int nimport_paths;
  /* Accept a library file: one with no `optimizer`, `update`, `hyper` or
   * `state` (only defs and imports), checked for its defs alone (`optc
   * check`).  Off: such a file lacks `optimizer` and `update` (errors). */
  bool library_ok;
} SemaOptions;

typedef struct SemaLocal {
  const char *name;
  Type ty;
  Span first; /* first assignment */
} SemaLocal;

typedef struct SemaProgram {
  AstModule *main;     /* the checked file (owned) */
  AstModule **imports; /* every imported module (owned), each once */
  int nimports;
  const char *name;    /* `optimizer NAME` */
  AstNode **hypers;    /* AST_HYPER nodes, REF_HYPER order */
  int nhypers;
  AstNode **states;    /* AST_STATE nodes, REF_STATE order */
  int nstates;
  AstNode **defs;      /* every visible AST_DEF (main and imports) */
  int ndefs;
  AstNode *update;     /* the AST_UPDATE node */
  SemaLocal *locals;   /* REF_LOCAL order */
  int nlocals;
  uint32_t needs;      /* OptkNeeds */
} SemaProgram;

/* Parses (through front_parse) and checks file `file` of `sm`.  Returns
 * the number of errors (0: `out` is fully annotated).  Always free `out`
 * with sema_program_free. */
int sema_check_file(SemaProgram *out, SrcMgr *sm, int file, DiagSink *diags,
                    const SemaOptions *opts);
void sema_program_free(SemaProgram *p);

#endif

/* sema_internal.h: shared state of the semantic analyser (sema*.c).
 *
 * sema.c drives: imports, item collection, hypers and states, warnings.
 * sema_types.c: Type helpers (printing, broadcasting, matrix views).
 * sema_expr.c: expressions, calls of built-ins and defs, def scanning.
 * sema_stmt.c: the update block (locals, flow of definedness, loops).
 * sema_const.c: constant folding (hyper defaults, repeat counts).
 *
 * Conventions: every check function reports through s->diags and goes on;
 * a TY_ERROR operand means "already reported", so nothing is said about
 * it again.  Nothing here allocates on the heap without freeing it in
 * sema_program_free or before returning.
 */
#ifndef OPTC_SEMA_INTERNAL_H
#define OPTC_SEMA_INTERNAL_H

#include "optk.h"
#include "sema.h"

/* Name tables: open addressing over arena strings.  A program can hold
 * any number of names (junk input has hundreds of thousands), so lookups
 * must not be linear. */
typedef struct SemaMapEntry {
  const char *key;
  int value;
} SemaMapEntry;

typedef struct SemaMap {
  SemaMapEntry *slots;
  int cap, len;
} SemaMap;

int sema_map_get(const SemaMap *m, const char *key); /* -1 if absent */
void sema_map_put(SemaMap *m, const char *key, int value);
void sema_map_free(SemaMap *m);

/* What a global name denotes.  Encoded in SemaMap values as kind * 2^24 +
 * index. */
typedef enum SemaSym { SYM_HYPER = 1, SYM_STATE = 2 } SemaSym;
enum { SEMA_SYM_SHIFT = 24 };

/* One memoised check of a def body: argument types -> result type. */
typedef struct SemaMemo {
  Type *args;
  Type result;
} SemaMemo;

typedef struct SemaDef {
  AstNode *node;
  int *callees; /* indices of defs called in the body */
  int ncallees, capcallees;
  bool bad;      /* name errors in the body: calls yield TY_ERROR */
  bool cyclic;   /* part of a recursion: calls yield TY_ERROR */
  bool visiting; /* its body is being checked right now */
  struct {
    SemaMemo *data;
    int len, cap;
  } memo;
} SemaDef;

/* Where an expression stands: what names and calls it may use. */
typedef enum SemaCtx {
  CTX_UPDATE, /* the update block */
  CTX_INIT,   /* a state's initial value */
  CTX_DEF     /* a def body */
} SemaCtx;

typedef struct SemaState {
  bool read, written;
} SemaState;

typedef struct SemaLocalUse {
  bool read; /* for the never-read warning */
} SemaLocalUse;

typedef struct Sema {
  SrcMgr *sm;
  DiagSink *diags;
  const SemaOptions *opts;
  SemaProgram *prog;
  SemaMap globals;  /* hypers and states */
  SemaMap defmap;   /* def name -> index into defs */
  SemaDef *defs;
  int ndefs;
  bool *hyper_used;
  SemaState *state_use;
  /* the update block */
  SemaMap localmap; /* name -> local index */
  SemaMap targets;  /* names assigned anywhere in update -> target_nodes */
  struct {
    AstNode **data; /* first ASSIGN of each name, in source order */
    int len, cap;
  } target_nodes;
  unsigned char *defined; /* [target_nodes.len]: local i assigned on this path */
  unsigned char *mark;    /* scratch of the same size, all 0 between uses */
  struct {
    int *data; /* locals that became defined, in order, to undo branches */
    int len, cap;
  } log;
  SemaLocalUse *local_use;
  int caplocals;
  /* expression context */
  SemaCtx ctx;
  SemaDef *cur_def;   /* CTX_DEF: the def whose body is checked */
  Type *param_types;  /* CTX_DEF: its parameters' types for this call */
  int def_depth;      /* nesting of def bodies being checked */
  int depth;          /* expression recursion depth */
  bool depth_reported;
  bool call_noted;    /* a def-call note was given for the latest error */
  bool ls_ok;         /* linesearch allowed at this call (statement level) */
  uint32_t needs;
  int first_errors; /* diags->nerrors when the check began */
  int parse_errors; /* syntax errors in imported files */
} Sema;

/* ---- types (sema_types.c) -------------------------------------------- */
Type ty_make(TyKind k);
Type ty_matrix(TyDim r, TyDim c);
Type ty_pending_identity(void);        /* I before its size is known */
bool ty_is_pending(Type t);
bool ty_is_error(Type t);
const char *ty_dim_name(TyDim d);
void ty_format(Str *out, Type t);      /* "scalar", "matrix(rows, 1)" */
const char *ty_text(Sema *s, Type t);  /* ty_format into the main arena */
Type ty_canon(Type t);                 /* matrix(rows, cols) -> tensor */
bool ty_same(Type a, Type b);          /* equal up to ty_canon */
bool ty_broadcast(Type a, Type b, Type *out);
/* A value of type `t` viewed as a matrix (tensor -> rows x cols; records
 * the 2-D need).  False for scalars, void and errors. */
bool ty_as_matrix(Sema *s, Type t, Type *out);
/* Records the 2-D need when `t` has a rows/cols dimension. */
void ty_note_need(Sema *s, Type t);
/* Sets e->ty (recording needs) and returns it. */
Type sema_set_ty(Sema *s, AstNode *e, Type t);
/* Replaces the pending identity type by `t` in e's subtree. */
void sema_resolve_pending(Sema *s, AstNode *e, Type t);

/* ---- names (sema_names.c) -------------------------------------------- */
int sema_builtin_var(const char *name); /* BuiltinVar or -1 */
/* The closest visible name to `name` within a small edit distance, or
 * NULL.  `calls`: look among functions (built-ins and defs) first. */
const char *sema_suggest(Sema *s, const char *name, bool calls);
/* Reports an unknown name or function with a suggestion. */
void sema_unknown(Sema *s, Span at, const char *name, bool call);

/* ---- expressions (sema_expr.c) --------------------------------------- */
Type sema_expr(Sema *s, AstNode *e);
/* sema_expr, then: the pending I is resolved against `want` when given
 * (kind != TY_ERROR), otherwise reported. */
Type sema_expr_settled(Sema *s, AstNode *e, Type want);
/* Reports an I whose size is unknown at `e`; returns TY_ERROR. */
Type sema_settle(Sema *s, AstNode *e, Type want);
/* Reports a call of `what` with an argument count outside [lo, hi]. */
bool sema_check_arity(Sema *s, AstNode *e, const char *what, int lo, int hi);
/* Name scan of every def body (unknown names, arity, call graph) and
 * recursion detection. */
void sema_scan_defs(Sema *s);

/* ---- statements (sema_stmt.c) ---------------------------------------- */
void sema_update(Sema *s, AstNode *update);
void sema_warn_unread_locals(Sema *s);

/* ---- constants (sema_const.c) ---------------------------------------- */
/* Folds a constant expression (numbers, inf, pi, arithmetic, elementwise
 * functions).  `what` names the place for the error ("the default of a
 * hyper").  Returns false after reporting. */
bool sema_fold(Sema *s, AstNode *e, const char *what, double *out);

#endif

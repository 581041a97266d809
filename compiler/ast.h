/* ast.h: the syntax tree of a .opt file.
 *
 * The parser builds it (grammar actions only build nodes, see parser.y);
 * sema resolves names and fills the `ty` and `ref` annotations; fmt prints
 * it back; lower turns the checked tree into IR.  All nodes, lists and
 * strings live in the Arena of the AstModule that owns them.  Every node
 * has the Span of the text it came from.
 *
 * Node kinds come from one X-macro table (AST_KINDS), which also feeds
 * ast_kind_name().  Operators come from AST_OPS with their spelling.
 */
#ifndef OPTC_AST_H
#define OPTC_AST_H

#include "diag.h"

#define AST_KINDS(X)                                                    \
  /* expressions */                                                     \
  X(NUM)       /* 1e-3: num.value, num.text as written               */ \
  X(NAME)      /* beta1: name.id                                      */ \
  X(UNARY)     /* -x, !x: unary.op, unary.operand                     */ \
  X(BINARY)    /* a + b: binary.op, binary.lhs, binary.rhs            */ \
  X(CALL)      /* sqrt(x), group.norm(g): call.callee, call.args,     */ \
               /*   call.group (true for the group. scope)            */ \
  X(TRANSPOSE) /* A.T: unary.operand                                  */ \
  /* statements */                                                      \
  X(ASSIGN)    /* m = ..., p -= ...: assign.target, assign.op, .value */ \
  X(IF)        /* if c { } else { }: if_.cond, if_.then_body,         */ \
               /*   if_.else_body (an `else if` is an else_body of one */ \
               /*   IF node; has_else says whether `else` was written)*/ \
  X(EVERY)     /* every k { }: loop.count, loop.body                  */ \
  X(REPEAT)    /* repeat 5 { }: loop.count, loop.body                 */ \
  X(EXPR_STMT) /* linesearch(d, wolfe): expr_stmt.expr (a CALL)       */ \
  /* items (top level) */                                               \
  X(OPTIMIZER) /* optimizer adamw: item.name                          */ \
  X(IMPORT)    /* import "common.opt": import.path                    */ \
  X(DEF)       /* def ema(x, y, b) = ...: def.name, def.params, .body */ \
  X(HYPER)     /* hyper lr = 1e-3 in [0, 1): hyper.*                  */ \
  X(STATE)     /* state m : matrix(rows, rows) bf16 = 0: state.*      */ \
  X(UPDATE)    /* update { ... }: update.body                         */

typedef enum AstKind {
#define X(k) AST_##k,
  AST_KINDS(X)
#undef X
  AST_KIND_COUNT
} AstKind;

/* Operators with their source spelling and, for binaries, their binding
 * power (higher binds tighter).  `^` is right-associative; unary minus
 * binds below `^` (-x^2 is -(x^2)) and above `*`. */
#define AST_OPS(X)          \
  X(ADD, "+", 4)            \
  X(SUB, "-", 4)            \
  X(MUL, "*", 5)            \
  X(DIV, "/", 5)            \
  X(MATMUL, "@", 5)         \
  X(POW, "^", 7)            \
  X(EQ, "==", 3)            \
  X(NE, "!=", 3)            \
  X(LT, "<", 3)             \
  X(LE, "<=", 3)            \
  X(GT, ">", 3)             \
  X(GE, ">=", 3)            \
  X(AND, "&&", 2)           \
  X(OR, "||", 1)            \
  X(NEG, "-", 6) /* unary */ \
  X(NOT, "!", 6) /* unary */ \
  X(PLUS, "+", 6) /* unary */

typedef enum AstOp {
#define X(name, text, prec) AST_OP_##name,
  AST_OPS(X)
#undef X
  AST_OP_COUNT
} AstOp;

/* Assignment operators: `=`, `+=`, `-=`, `*=`, `/=`. */
typedef enum AstAssignOp {
  AST_SET,
  AST_ADD_SET,
  AST_SUB_SET,
  AST_MUL_SET,
  AST_DIV_SET
} AstAssignOp;

/* Storage of a state. */
typedef enum AstDType { AST_DT_DEFAULT, AST_DT_F32, AST_DT_F64, AST_DT_BF16 } AstDType;

/* Kind of a state: shaped like p (default), one number per tensor, a
 * matrix whose dimensions are given by state.rows / state.cols, or an
 * L-BFGS history of up to state.rows (a hyper or a whole number) secant
 * pairs, which has no initial value (state.init is NULL). */
typedef enum AstStateKind {
  AST_STATE_TENSOR,
  AST_STATE_SCALAR,
  AST_STATE_MATRIX,
  AST_STATE_HISTORY
} AstStateKind;

/* ---- types (filled by sema) ------------------------------------------ */

/* A symbolic dimension: 1, the parameter's rows or cols, or its element
 * count n (used for dense Hessians: n x n). */
typedef enum TyDim { DIM_NONE, DIM_ONE, DIM_ROWS, DIM_COLS, DIM_N } TyDim;

/* TY_TENSOR: shaped like p (elementwise work).  TY_MATRIX: an R x C
 * matrix; a row vector is MATRIX(ONE, COLS), a column vector
 * MATRIX(ROWS, ONE).  For a 2-D parameter a TENSOR is also a
 * MATRIX(ROWS, COLS); sema converts where a matrix is expected. */
typedef enum TyKind { TY_ERROR, TY_SCALAR, TY_TENSOR, TY_MATRIX, TY_VOID } TyKind;

typedef struct Type {
  TyKind kind;
  TyDim rows, cols; /* TY_MATRIX only */
} Type;

/* What a NAME refers to, after sema. */
typedef enum RefKind {
  REF_NONE,
  REF_BUILTIN, /* ref.index: a BuiltinVar */
  REF_HYPER,   /* ref.index into AstModule.hypers (after imports merged) */
  REF_STATE,   /* ref.index into AstModule.states */
  REF_LOCAL,   /* ref.index: local variable number within the update */
  REF_PARAM    /* ref.index: parameter of the enclosing def */
} RefKind;

/* Built-in names: p g t f n rows cols, the identity I, and the constants
 * inf and pi. */
typedef enum BuiltinVar { BV_P, BV_G, BV_T, BV_F, BV_N, BV_ROWS, BV_COLS, BV_I, BV_INF, BV_PI } BuiltinVar;

typedef struct Ref {
  RefKind kind;
  int index;
} Ref;

/* ---- nodes ------------------------------------------------------------ */

typedef struct AstNode AstNode;

typedef struct AstList {
  AstNode **items;
  int len;
} AstList;

typedef struct AstParam {
  const char *name;
  Span span;
} AstParam;

struct AstNode {
  AstKind kind;
  Span span;
  Type ty;  /* expressions: type after sema */
  Ref ref;  /* NAME: what it names; ASSIGN: the target; CALL: see below */
  union {
    struct {
      double value;
      const char *text; /* spelling, kept by fmt */
      bool is_int;      /* written without '.', 'e' */
    } num;
    struct {
      const char *id;
    } name;
    struct {
      AstOp op;
      AstNode *operand;
    } unary;
    struct {
      AstOp op;
      AstNode *lhs, *rhs;
    } binary;
    struct {
      const char *callee;
      Span callee_span;
      AstList args;
      bool group; /* written as group.name(...): scope is the whole group */
      /* after sema: the builtin (a BuiltinFn, see sema.h) or the def */
      int builtin;        /* -1 when a def is called */
      AstNode *def;       /* the AST_DEF called, or NULL */
    } call;
    struct {
      const char *target;
      Span target_span;
      AstAssignOp op;
      AstNode *value;
    } assign;
    struct {
      AstNode *cond;
      AstList then_body, else_body;
      bool has_else;
      Span else_span; /* the `else` keyword (fmt places comments by it) */
    } if_;
    struct {
      AstNode *count;
      AstList body;
    } loop;
    struct {
      AstNode *expr;
    } expr_stmt;
    struct {
      const char *name;
      Span name_span;
    } item; /* OPTIMIZER */
    struct {
      const char *path; /* decoded string contents */
      int file;         /* after import resolution: SrcMgr index, or -1 */
    } import;
    struct {
      const char *name;
      Span name_span;
      AstParam *params;
      int nparams;
      AstNode *body;
    } def;
    struct {
      const char *name;
      Span name_span;
      AstNode *value;        /* default; sema folds it to `def_value` */
      AstNode *lo, *hi;      /* NULL when no range */
      bool lo_open, hi_open; /* '(' / ')' */
      double def_value, lo_value, hi_value; /* after sema */
    } hyper;
    struct {
      const char *name;
      Span name_span;
      AstStateKind skind;
      AstNode *rows, *cols; /* matrix(rows, cols) dimension expressions */
      AstDType dtype;
      AstNode *init;
    } state;
    struct {
      AstList body;
    } update;
  };
};

/* A comment, kept for fmt: `text` starts at '#' and excludes the newline.
 * `own_line` is true when only whitespace precedes it on its line. */
typedef struct AstComment {
  Span span;
  const char *text;
  bool own_line;
} AstComment;

/* One parsed file. */
typedef struct AstModule {
  Arena arena;
  int file;         /* SrcMgr index */
  AstList items;    /* in source order */
  AstComment *comments;
  int ncomments;
} AstModule;

const char *ast_kind_name(AstKind k);
const char *ast_op_text(AstOp op);
int ast_op_prec(AstOp op);
const char *ast_assign_op_text(AstAssignOp op);

/* Node constructors used by the parser (all arena-allocated). */
AstNode *ast_new(AstModule *m, AstKind kind, Span span);
void ast_list_push(AstModule *m, AstList *list, AstNode *node);

/* Structural equality ignoring spans and annotations (fmt round-trip
 * tests, search deduplication). */
bool ast_equal(const AstNode *a, const AstNode *b);
bool ast_list_equal(const AstList *a, const AstList *b);

/* S-expression dump for golden parse tests, e.g.
 * (assign m = (binary + (binary * (name beta1) (name m)) ...)) */
void ast_dump(Str *out, const AstModule *m);

void ast_module_free(AstModule *m);

#endif

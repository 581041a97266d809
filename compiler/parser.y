/* parser.y: the Bison grammar of .opt files.
 *
 * A pure, reentrant LALR(1) parser (api.pure full, prefix optc_yy, no
 * globals).  Grammar actions only build AST nodes in the module's arena;
 * every check of meaning lives in sema.c.  The only errors raised here are
 * syntax errors: Bison's (worded by report_syntax_error below), chained
 * comparisons, `.` not followed by `T`, and nesting past FRONT_MAX_DEPTH
 * (Bison's "memory exhausted").  Error recovery resynchronises at the end
 * of a statement or item (`error sep`) and at a block's closing brace, so
 * one run reports several errors.  Errors on a line where the lexer
 * already reported one are not repeated.  No %destructor is needed: every
 * semantic value lives in the arena, freed with the module.
 *
 * The grammar (EBNF; NEWLINE is a line break outside ( ) and [ ], dropped
 * before `else`):
 *
 *   file      = { sep } [ item { sep { sep } item } ] { sep } ;
 *   sep       = NEWLINE | ";" ;
 *   item      = "optimizer" NAME
 *             | "import" STRING
 *             | "def" NAME "(" [ NAME { "," NAME } ] ")" "=" expr
 *             | "hyper" NAME "=" expr [ "in" ( "[" | "(" ) expr "," expr ( "]" | ")" ) ]
 *             | "state" NAME [ ":" type ] "=" expr
 *             | "state" NAME ":" "history" "(" expr ")" [ dtype ]
 *             | "update" block ;
 *   type      = ( "tensor" | "scalar" | "matrix" "(" expr "," expr ")" ) [ dtype ]
 *             | dtype ;
 *   dtype     = "f32" | "f64" | "bf16" ;
 *   block     = "{" { sep } [ stmt { sep { sep } stmt } ] { sep } "}" ;
 *   stmt      = NAME ( "=" | "+=" | "-=" | "*=" | "/=" ) expr
 *             | call
 *             | if
 *             | "every" expr block
 *             | "repeat" expr block ;
 *   if        = "if" expr block [ "else" ( block | if ) ] ;
 *   expr      = and { "||" and } ;
 *   and       = cmp { "&&" cmp } ;
 *   cmp       = sum [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum ] ;   (no chains)
 *   sum       = term { ( "+" | "-" ) term } ;
 *   term      = unary { ( "*" | "/" | "@" ) unary } ;
 *   unary     = ( "-" | "+" | "!" ) unary | power ;
 *   power     = postfix [ "^" unary ] ;                     (right-assoc)
 *   postfix   = primary { "." "T" } ;
 *   primary   = NUMBER | NAME | call | "(" expr ")" ;
 *   call      = [ "group" "." ] NAME "(" [ expr { "," expr } ] ")" ;
 */

%define api.pure full
%define api.prefix {optc_yy}
%define api.token.prefix {TOK_}
%define api.location.type {Span}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {Parser *ps}

%code requires {
#include "lexer.h"

typedef struct ParseElse {
  bool has;
  Span at;
  AstList body;
} ParseElse;

typedef struct ParseType {
  AstStateKind kind;
  AstNode *rows, *cols;
  AstDType dtype;
} ParseType;

typedef struct ParseRange {
  AstNode *lo, *hi;
  bool lo_open, hi_open;
} ParseRange;

/* The parser's state: the lexer, the module under construction, and what
 * the error reporter needs. */
typedef struct Parser {
  Lexer lx;
  AstModule *m;
  DiagSink *diags;
  LexToken last;       /* the token read last: the lookahead at an error */
  int before_last;     /* the kind of the token before it */
  int closed_reported; /* offset of the bracket last reported unclosed, or -1 */
  bool deep_reported;  /* "nesting is deeper than" already said */
} Parser;
}

%code provides {
int optc_yyparse(Parser *ps);
}

%union {
  AstNode *node;
  const char *str;
  AstList list;
  int op;
  bool flag;
  ParseElse els;
  ParseType type;
  ParseRange range;
}

%code {
#include <string.h>

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
  do {                                                                \
    if (N) {                                                          \
      (Cur) = span_join(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));          \
    } else {                                                          \
      (Cur) = YYRHSLOC(Rhs, 0);                                       \
      (Cur).line = (Cur).end_line;                                    \
      (Cur).col = (Cur).end_col;                                      \
      (Cur).off = (Cur).end;                                          \
    }                                                                 \
  } while (0)

static int optc_yylex(OPTC_YYSTYPE *val, Span *loc, Parser *ps);
static void optc_yyerror(Span *loc, Parser *ps, const char *msg);

static AstNode *mk_binary(Parser *ps, AstOp op, AstNode *l, AstNode *r, Span at) {
  AstNode *n = ast_new(ps->m, AST_BINARY, at);
  n->binary.op = op;
  n->binary.lhs = l;
  n->binary.rhs = r;
  return n;
}

static AstNode *mk_unary(Parser *ps, AstKind kind, AstOp op, AstNode *x, Span at) {
  AstNode *n = ast_new(ps->m, kind, at);
  n->unary.op = op;
  n->unary.operand = x;
  return n;
}

static AstNode *mk_name(Parser *ps, const char *id, Span at) {
  AstNode *n = ast_new(ps->m, AST_NAME, at);
  n->name.id = id;
  return n;
}

static AstNode *mk_call(Parser *ps, const char *callee, Span cs, AstList args, bool group,
                        Span at) {
  AstNode *n = ast_new(ps->m, AST_CALL, at);
  n->call.callee = callee;
  n->call.callee_span = cs;
  n->call.args = args;
  n->call.group = group;
  n->call.builtin = -1;
  return n;
}

static AstNode *mk_assign(Parser *ps, const char *target, Span ts, int op, AstNode *v,
                          Span at) {
  AstNode *n = ast_new(ps->m, AST_ASSIGN, at);
  n->assign.target = target;
  n->assign.target_span = ts;
  n->assign.op = (AstAssignOp)op;
  n->assign.value = v;
  return n;
}

static AstNode *mk_if(Parser *ps, AstNode *cond, AstList then, ParseElse els, Span at) {
  AstNode *n = ast_new(ps->m, AST_IF, at);
  n->if_.cond = cond;
  n->if_.then_body = then;
  n->if_.else_body = els.body;
  n->if_.has_else = els.has;
  n->if_.else_span = els.at;
  return n;
}

static AstNode *mk_loop(Parser *ps, AstKind kind, AstNode *count, AstList body, Span at) {
  AstNode *n = ast_new(ps->m, kind, at);
  n->loop.count = count;
  n->loop.body = body;
  return n;
}

static AstNode *mk_def(Parser *ps, const char *name, Span ns, AstList params, AstNode *body,
                       Span at) {
  AstNode *n = ast_new(ps->m, AST_DEF, at);
  n->def.name = name;
  n->def.name_span = ns;
  n->def.nparams = params.len;
  n->def.params = ARENA_NEW_N(&ps->m->arena, AstParam, params.len ? params.len : 1);
  for (int i = 0; i < params.len; i++) {
    n->def.params[i].name = params.items[i]->name.id;
    n->def.params[i].span = params.items[i]->span;
  }
  n->def.body = body;
  return n;
}

static AstNode *mk_hyper(Parser *ps, const char *name, Span ns, AstNode *v, ParseRange r,
                         Span at) {
  AstNode *n = ast_new(ps->m, AST_HYPER, at);
  n->hyper.name = name;
  n->hyper.name_span = ns;
  n->hyper.value = v;
  n->hyper.lo = r.lo;
  n->hyper.hi = r.hi;
  n->hyper.lo_open = r.lo_open;
  n->hyper.hi_open = r.hi_open;
  return n;
}

static AstNode *mk_state(Parser *ps, const char *name, Span ns, ParseType ty, AstNode *init,
                         Span at) {
  AstNode *n = ast_new(ps->m, AST_STATE, at);
  n->state.name = name;
  n->state.name_span = ns;
  n->state.skind = ty.kind;
  n->state.rows = ty.rows;
  n->state.cols = ty.cols;
  n->state.dtype = ty.dtype;
  n->state.init = init;
  return n;
}

static AstNode *mk_item_name(Parser *ps, AstKind kind, const char *name, Span ns, Span at) {
  AstNode *n = ast_new(ps->m, kind, at);
  if (kind == AST_IMPORT) {
    n->import.path = name;
    n->import.file = -1;
  } else {
    n->item.name = name;
    n->item.name_span = ns;
  }
  return n;
}

static AstNode *mk_update(Parser *ps, AstList body, Span at) {
  AstNode *n = ast_new(ps->m, AST_UPDATE, at);
  n->update.body = body;
  return n;
}

static ParseType mk_type(AstStateKind kind, AstNode *rows, AstNode *cols, AstDType dt) {
  ParseType t = {kind, rows, cols, dt};
  return t;
}

static AstList list_of(Parser *ps, AstNode *first) {
  AstList l = {0};
  if (first) ast_list_push(ps->m, &l, first);
  return l;
}

/* "a < b < c": comparisons do not chain. */
static void chained_comparison(Parser *ps, Span op) {
  diag_error(ps->diags, op, "comparisons cannot be chained; combine them with '&&' "
                            "(a < b && b < c)");
}

/* `.` is only the transpose, `A.T`. */
static void check_transpose(Parser *ps, const char *name, Span at) {
  if (strcmp(name, "T") != 0)
    diag_error(ps->diags, at, "expected 'T' after '.' (A.T is the transpose), saw name '%.32s'",
               name);
}
}

%token <str> NAME "name" STRING "string"
%token <node> NUMBER "number"
%token NEWLINE "end of line"
%token OPTIMIZER "optimizer" IMPORT "import" DEF "def" HYPER "hyper" STATE "state"
       UPDATE "update" IF "if" ELSE "else" EVERY "every" REPEAT "repeat" IN "in"
       GROUP "group" TENSOR "tensor" SCALAR "scalar" MATRIX "matrix" F32 "f32" F64 "f64"
       BF16 "bf16" HISTORY "history"
%token EQ "==" NE "!=" LE "<=" GE ">=" LT "<" GT ">" ANDAND "&&" OROR "||"
       ASSIGN "=" ADD_SET "+=" SUB_SET "-=" MUL_SET "*=" DIV_SET "/="
       PLUS "+" MINUS "-" STAR "*" SLASH "/" CARET "^" AT "@" BANG "!"
       COMMA "," DOT "." COLON ":" SEMI ";"
       LPAREN "(" RPAREN ")" LBRACKET "[" RBRACKET "]" LBRACE "{" RBRACE "}"

%type <node> item last_item stmt last_stmt if_stmt call expr and cmp comparison sum term
%type <node> unary power postfix primary
%type <list> block stmts args arglist params paramlist
%type <op> assign_op cmp_op
%type <els> else_part
%type <type> state_type type_spec
%type <op> dtype_opt dtype
%type <flag> range_lo range_hi
%type <range> range

%initial-action {
  @$ = SPAN_NONE;
  @$.file = ps->lx.file;
  @$.line = @$.end_line = 1;
  @$.col = @$.end_col = 1;
}

%%

file
  : items last_item { if ($2) ast_list_push(ps->m, &ps->m->items, $2); }
  ;

items
  : %empty
  | items sep
  | items item sep { ast_list_push(ps->m, &ps->m->items, $2); }
  | items error sep { yyerrok; }
  | items error skipped sep { yyerrok; }
  ;

/* After a syntax error, whole blocks are skipped as units (`if x ) { }`,
 * `update x { }`), so their braces do not end the enclosing block. */
skipped
  : block
  | skipped "else" block
  | skipped "else" "if" expr block
  ;

last_item
  : %empty { $$ = NULL; }
  | item
  ;

sep
  : NEWLINE
  | ";"
  ;

item
  : "optimizer" NAME { $$ = mk_item_name(ps, AST_OPTIMIZER, $2, @2, @$); }
  | "import" STRING { $$ = mk_item_name(ps, AST_IMPORT, $2, @2, @$); }
  | "def" NAME "(" params ")" "=" expr { $$ = mk_def(ps, $2, @2, $4, $7, @$); }
  | "hyper" NAME "=" expr range { $$ = mk_hyper(ps, $2, @2, $4, $5, @$); }
  | "state" NAME state_type "=" expr { $$ = mk_state(ps, $2, @2, $3, $5, @$); }
  | "state" NAME ":" "history" "(" expr ")" dtype_opt
    { $$ = mk_state(ps, $2, @2, mk_type(AST_STATE_HISTORY, $6, NULL, (AstDType)$8), NULL, @$); }
  | "update" block { $$ = mk_update(ps, $2, @$); }
  ;

params
  : %empty { $$ = list_of(ps, NULL); }
  | paramlist
  ;

paramlist
  : NAME { $$ = list_of(ps, mk_name(ps, $1, @1)); }
  | paramlist "," NAME { $$ = $1; ast_list_push(ps->m, &$$, mk_name(ps, $3, @3)); }
  ;

range
  : %empty { $$ = (ParseRange){NULL, NULL, false, false}; }
  | "in" range_lo expr "," expr range_hi { $$ = (ParseRange){$3, $5, $2, $6}; }
  ;

range_lo
  : "[" { $$ = false; }
  | "(" { $$ = true; }
  ;

range_hi
  : "]" { $$ = false; }
  | ")" { $$ = true; }
  ;

state_type
  : %empty { $$ = mk_type(AST_STATE_TENSOR, NULL, NULL, AST_DT_DEFAULT); }
  | ":" type_spec { $$ = $2; }
  ;

type_spec
  : "tensor" dtype_opt { $$ = mk_type(AST_STATE_TENSOR, NULL, NULL, (AstDType)$2); }
  | "scalar" dtype_opt { $$ = mk_type(AST_STATE_SCALAR, NULL, NULL, (AstDType)$2); }
  | "matrix" "(" expr "," expr ")" dtype_opt { $$ = mk_type(AST_STATE_MATRIX, $3, $5, (AstDType)$7); }
  | dtype { $$ = mk_type(AST_STATE_TENSOR, NULL, NULL, (AstDType)$1); }
  ;

dtype_opt
  : %empty { $$ = AST_DT_DEFAULT; }
  | dtype
  ;

dtype
  : "f32" { $$ = AST_DT_F32; }
  | "f64" { $$ = AST_DT_F64; }
  | "bf16" { $$ = AST_DT_BF16; }
  ;

block
  : "{" stmts last_stmt "}" { $$ = $2; if ($3) ast_list_push(ps->m, &$$, $3); }
  | "{" stmts error "}" { $$ = $2; yyerrok; }
  | "{" stmts error skipped "}" { $$ = $2; yyerrok; }
  ;

stmts
  : %empty { $$ = list_of(ps, NULL); }
  | stmts sep { $$ = $1; }
  | stmts stmt sep { $$ = $1; ast_list_push(ps->m, &$$, $2); }
  | stmts error sep { $$ = $1; yyerrok; }
  | stmts error skipped sep { $$ = $1; yyerrok; }
  ;

last_stmt
  : %empty { $$ = NULL; }
  | stmt
  ;

stmt
  : NAME assign_op expr { $$ = mk_assign(ps, $1, @1, $2, $3, @$); }
  | call {
      $$ = ast_new(ps->m, AST_EXPR_STMT, @$);
      $$->expr_stmt.expr = $1;
    }
  | if_stmt
  | "every" expr block { $$ = mk_loop(ps, AST_EVERY, $2, $3, @$); }
  | "repeat" expr block { $$ = mk_loop(ps, AST_REPEAT, $2, $3, @$); }
  ;

if_stmt
  : "if" expr block else_part { $$ = mk_if(ps, $2, $3, $4, @$); }
  ;

else_part
  : %empty { $$ = (ParseElse){false, SPAN_NONE, {NULL, 0}}; }
  | "else" block { $$ = (ParseElse){true, @1, $2}; }
  | "else" if_stmt { $$ = (ParseElse){true, @1, list_of(ps, $2)}; }
  ;

assign_op
  : "=" { $$ = AST_SET; }
  | "+=" { $$ = AST_ADD_SET; }
  | "-=" { $$ = AST_SUB_SET; }
  | "*=" { $$ = AST_MUL_SET; }
  | "/=" { $$ = AST_DIV_SET; }
  ;

call
  : NAME "(" args ")" { $$ = mk_call(ps, $1, @1, $3, false, @$); }
  | "group" "." NAME "(" args ")" { $$ = mk_call(ps, $3, @3, $5, true, @$); }
  ;

args
  : %empty { $$ = list_of(ps, NULL); }
  | arglist
  ;

arglist
  : expr { $$ = list_of(ps, $1); }
  | arglist "," expr { $$ = $1; ast_list_push(ps->m, &$$, $3); }
  ;

expr
  : and
  | expr "||" and { $$ = mk_binary(ps, AST_OP_OR, $1, $3, @$); }
  ;

and
  : cmp
  | and "&&" cmp { $$ = mk_binary(ps, AST_OP_AND, $1, $3, @$); }
  ;

cmp
  : sum
  | comparison
  ;

comparison
  : sum cmp_op sum { $$ = mk_binary(ps, (AstOp)$2, $1, $3, @$); }
  | comparison cmp_op sum {
      chained_comparison(ps, @2);
      $$ = mk_binary(ps, (AstOp)$2, $1, $3, @$);
    }
  ;

cmp_op
  : "==" { $$ = AST_OP_EQ; }
  | "!=" { $$ = AST_OP_NE; }
  | "<" { $$ = AST_OP_LT; }
  | "<=" { $$ = AST_OP_LE; }
  | ">" { $$ = AST_OP_GT; }
  | ">=" { $$ = AST_OP_GE; }
  ;

sum
  : term
  | sum "+" term { $$ = mk_binary(ps, AST_OP_ADD, $1, $3, @$); }
  | sum "-" term { $$ = mk_binary(ps, AST_OP_SUB, $1, $3, @$); }
  ;

term
  : unary
  | term "*" unary { $$ = mk_binary(ps, AST_OP_MUL, $1, $3, @$); }
  | term "/" unary { $$ = mk_binary(ps, AST_OP_DIV, $1, $3, @$); }
  | term "@" unary { $$ = mk_binary(ps, AST_OP_MATMUL, $1, $3, @$); }
  ;

unary
  : power
  | "-" unary { $$ = mk_unary(ps, AST_UNARY, AST_OP_NEG, $2, @$); }
  | "+" unary { $$ = mk_unary(ps, AST_UNARY, AST_OP_PLUS, $2, @$); }
  | "!" unary { $$ = mk_unary(ps, AST_UNARY, AST_OP_NOT, $2, @$); }
  ;

power
  : postfix
  | postfix "^" unary { $$ = mk_binary(ps, AST_OP_POW, $1, $3, @$); }
  ;

postfix
  : primary
  | postfix "." NAME {
      check_transpose(ps, $3, @3);
      $$ = mk_unary(ps, AST_TRANSPOSE, AST_OP_COUNT, $1, @$);
    }
  ;

primary
  : NUMBER { $$ = $1; }
  | NAME { $$ = mk_name(ps, $1, @1); }
  | call
  | "(" expr ")" { $$ = $2; }
  ;

%%

static int optc_yylex(OPTC_YYSTYPE *val, Span *loc, Parser *ps) {
  ps->before_last = ps->last.kind;
  lexer_next(&ps->lx, &ps->last);
  *loc = ps->last.span;
  if (ps->last.kind == TOK_NUMBER) val->node = ps->last.num;
  else val->str = ps->last.text;
  return ps->last.kind;
}

/* Only called by Bison when its stack is full: a pathologically long chain
 * of prefix operators or `^`. */
static void optc_yyerror(Span *loc, Parser *ps, const char *msg) {
  (void)msg;
  if (ps->deep_reported || ps->lx.too_deep) return;
  ps->deep_reported = true;
  diag_error(ps->diags, *loc, "nesting is deeper than %d levels", FRONT_MAX_DEPTH);
}

/* ---- syntax error messages ---------------------------------------------
 * "expected X, saw Y": X is built from Bison's expected tokens, grouped into
 * phrases ("an expression", "a statement", "an operator", "end of line");
 * an unclosed bracket at the end of the file or before an item keyword is
 * named with the line that opened it. */

typedef struct Phrase {
  const char *text;
  bool quote; /* a token written as it is spelt: '(' 'else' */
} Phrase;

static Phrase sym_phrase(yysymbol_kind_t k) {
  switch (k) {
  case YYSYMBOL_YYEOF: return (Phrase){"end of file", false};
  case YYSYMBOL_NAME: return (Phrase){"a name", false};
  case YYSYMBOL_STRING: return (Phrase){"a string", false};
  case YYSYMBOL_NUMBER: return (Phrase){"a number", false};
  case YYSYMBOL_NEWLINE: return (Phrase){"end of line", false};
  default: return (Phrase){yysymbol_name(k), true};
  }
}

static void put_phrase(Str *out, Phrase p) {
  str_printf(out, p.quote ? "'%s'" : "%s", p.text);
}

/* The lookahead as "saw ...". */
static void put_saw(Str *out, const LexToken *t, yysymbol_kind_t k) {
  switch (k) {
  case YYSYMBOL_NAME:
    str_printf(out, "name '%.32s%s'", t->text, strlen(t->text) > 32 ? "..." : "");
    return;
  case YYSYMBOL_NUMBER:
    str_printf(out, "number '%.32s'", t->num->num.text);
    return;
  case YYSYMBOL_STRING: str_puts(out, "a string"); return;
  case YYSYMBOL_YYEOF: str_puts(out, "end of file"); return;
  case YYSYMBOL_NEWLINE: str_puts(out, "end of line"); return;
  default: put_phrase(out, sym_phrase(k)); return;
  }
}

typedef struct Expected {
  yysymbol_kind_t sym[YYNTOKENS];
  int n;
} Expected;

static bool exp_has(const Expected *e, yysymbol_kind_t k) {
  for (int i = 0; i < e->n; i++)
    if (e->sym[i] == k) return true;
  return false;
}

static void exp_drop(Expected *e, const yysymbol_kind_t *ks, int nk) {
  int w = 0;
  for (int i = 0; i < e->n; i++) {
    bool drop = false;
    for (int j = 0; j < nk; j++) drop |= e->sym[i] == ks[j];
    if (!drop) e->sym[w++] = e->sym[i];
  }
  e->n = w;
}

#define DROP(e, ...)                                                   \
  do {                                                                 \
    static const yysymbol_kind_t ks_[] = {__VA_ARGS__};                \
    exp_drop((e), ks_, (int)(sizeof ks_ / sizeof ks_[0]));              \
  } while (0)

typedef struct Phrases {
  Phrase p[YYNTOKENS + 8];
  int n;
} Phrases;

static void add_phrase(Phrases *ph, const char *text) {
  ph->p[ph->n++] = (Phrase){text, false};
}

/* Replaces groups of expected tokens by one phrase each. */
static void group_expected(Expected *e, Phrases *ph) {
  bool starts_line = exp_has(e, YYSYMBOL_OPTIMIZER) || exp_has(e, YYSYMBOL_IF);
  if (exp_has(e, YYSYMBOL_OPTIMIZER)) {
    add_phrase(ph, "an item (optimizer, import, def, hyper, state or update)");
    DROP(e, YYSYMBOL_OPTIMIZER, YYSYMBOL_IMPORT, YYSYMBOL_DEF, YYSYMBOL_HYPER,
         YYSYMBOL_STATE, YYSYMBOL_UPDATE);
  }
  if (exp_has(e, YYSYMBOL_IF)) {
    add_phrase(ph, "a statement");
    DROP(e, YYSYMBOL_IF, YYSYMBOL_EVERY, YYSYMBOL_REPEAT, YYSYMBOL_NAME, YYSYMBOL_GROUP);
  }
  if (exp_has(e, YYSYMBOL_NUMBER)) {
    add_phrase(ph, "an expression");
    DROP(e, YYSYMBOL_NUMBER, YYSYMBOL_NAME, YYSYMBOL_LPAREN, YYSYMBOL_MINUS, YYSYMBOL_PLUS,
         YYSYMBOL_BANG, YYSYMBOL_GROUP);
  }
  if (exp_has(e, YYSYMBOL_TENSOR)) {
    add_phrase(ph, "a type (tensor, scalar, matrix(R, C), history(m), f32, f64 or bf16)");
    DROP(e, YYSYMBOL_TENSOR, YYSYMBOL_SCALAR, YYSYMBOL_MATRIX, YYSYMBOL_F32, YYSYMBOL_F64,
         YYSYMBOL_BF16, YYSYMBOL_HISTORY);
  }
  if (exp_has(e, YYSYMBOL_STAR)) {
    add_phrase(ph, "an operator");
    DROP(e, YYSYMBOL_STAR, YYSYMBOL_SLASH, YYSYMBOL_AT, YYSYMBOL_PLUS, YYSYMBOL_MINUS,
         YYSYMBOL_CARET, YYSYMBOL_DOT, YYSYMBOL_EQ, YYSYMBOL_NE, YYSYMBOL_LT, YYSYMBOL_LE,
         YYSYMBOL_GT, YYSYMBOL_GE, YYSYMBOL_ANDAND, YYSYMBOL_OROR, YYSYMBOL_LPAREN);
  }
  if (starts_line) DROP(e, YYSYMBOL_NEWLINE, YYSYMBOL_SEMI); /* blank lines are fine there */
  if (exp_has(e, YYSYMBOL_NEWLINE)) DROP(e, YYSYMBOL_SEMI, YYSYMBOL_RBRACE, YYSYMBOL_YYEOF);
  DROP(e, YYSYMBOL_YYEOF);
  for (int i = 0; i < e->n; i++) ph->p[ph->n++] = sym_phrase(e->sym[i]);
}

static void put_phrases(Str *out, const Phrases *ph) {
  for (int i = 0; i < ph->n; i++) {
    if (i > 0) str_puts(out, i == ph->n - 1 ? " or " : ", ");
    put_phrase(out, ph->p[i]);
  }
}

static bool is_item_keyword(yysymbol_kind_t k) {
  return k == YYSYMBOL_OPTIMIZER || k == YYSYMBOL_IMPORT || k == YYSYMBOL_DEF ||
         k == YYSYMBOL_HYPER || k == YYSYMBOL_STATE || k == YYSYMBOL_UPDATE;
}

/* The bracket the error is about, when the message should name it: at the
 * end of the file, the innermost; before an item keyword, the open block;
 * before a '}' that closed an open '(' or '[', that bracket. */
static const LexOpener *unclosed_opener(const LexToken *t, yysymbol_kind_t k,
                                        const Expected *e) {
  if (k == YYSYMBOL_YYEOF && t->inner.c) return &t->inner;
  if (is_item_keyword(k) && t->brace.c && exp_has(e, YYSYMBOL_RBRACE)) return &t->brace;
  if (k == YYSYMBOL_RBRACE && t->inner.c && t->inner.c != '{' &&
      (exp_has(e, YYSYMBOL_RPAREN) || exp_has(e, YYSYMBOL_RBRACKET)))
    return &t->inner;
  return NULL;
}

static void put_unclosed(Str *out, const LexOpener *o) {
  if (o->c == '{')
    str_printf(out, "expected '}' to close the block opened at line %d", o->at.line);
  else if (o->c == '(')
    str_printf(out, "expected ')' to close the '(' opened at line %d", o->at.line);
  else
    str_printf(out, "expected ']' or ')' to close the '[' opened at line %d", o->at.line);
}

/* Habits from other languages: `**` for the power, `=` for equality. */
static void put_hint(Str *msg, const Parser *ps, yysymbol_kind_t k, const Expected *e) {
  if (k == YYSYMBOL_STAR && ps->before_last == TOK_STAR)
    str_puts(msg, " (the power operator is '^', as in g^2)");
  else if (k == YYSYMBOL_ASSIGN && exp_has(e, YYSYMBOL_EQ))
    str_puts(msg, " (equality is written '==')");
}

/* The message for lookahead `k` given the expected tokens; false when
 * it was already said (an unclosed bracket is named once). */
static bool syntax_message(Str *msg, Parser *ps, yysymbol_kind_t k, Expected *e) {
  const LexOpener *o = unclosed_opener(&ps->last, k, e);
  if (o) {
    if (ps->closed_reported == o->at.off) return false;
    ps->closed_reported = o->at.off;
    put_unclosed(msg, o);
  } else if (k == YYSYMBOL_ELSE) {
    str_puts(msg, "'else' without 'if': it must follow the '}' of an if block");
    return true;
  } else {
    Phrases ph = {.n = 0};
    group_expected(e, &ph);
    if (ph.n) {
      str_puts(msg, "expected ");
      put_phrases(msg, &ph);
    }
  }
  str_puts(msg, msg->len ? ", saw " : "unexpected ");
  put_saw(msg, &ps->last, k);
  return true;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, Parser *ps) {
  yysymbol_kind_t k = yypcontext_token(ctx);
  Span at = *yypcontext_location(ctx);
  if (ps->lx.too_deep || ps->deep_reported) return 0;
  if (ps->lx.error_line && ps->lx.error_line == at.line) return 0;
  Expected e;
  e.n = yypcontext_expected_tokens(ctx, e.sym, YYNTOKENS);
  if (e.n < 0) e.n = 0;
  Expected all = e; /* syntax_message() drops what it summarises */
  Str msg = {0};
  if (syntax_message(&msg, ps, k, &e)) {
    put_hint(&msg, ps, k, &all);
    diag_error(ps->diags, at, "%s", msg.data);
  }
  str_free(&msg);
  return 0;
}

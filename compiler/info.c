/* info.c: the `optc info` report of a scheduled program (see info.h).
 * Tensor-shaped state buffers are (n, 1); every other state buffer is a
 * matrix.  Numbers print with ir_print_number, as in the IR text. */
#include <math.h>

#include "info.h"
#include "ir_build.h"

static const char *const DIMS[] = {"1", "rows", "cols", "n"};
static const char *const DTYPES[] = {"f32", "f64", "bf16"};
static const char *const NEEDS[] = {"loss", "hvp", "hessian", "linesearch", "2d", "gnb"};
enum { NNEEDS = 6 };

#define NAME_OF(table, i) \
  ((unsigned)(i) < sizeof table / sizeof table[0] ? table[i] : "?")

static bool is_tensor(const IrBuffer *b) {
  return b->dim0 == OPTK_DIM_N && b->dim1 == OPTK_DIM_ONE;
}

static void put_range(Str *out, const IrHyper *h) {
  bool lo = h->flags & OPTK_HYPER_HAS_LO, hi = h->flags & OPTK_HYPER_HAS_HI;
  if (!lo && !hi) return;
  str_puts(out, " in ");
  str_putc(out, !lo || (h->flags & OPTK_HYPER_LO_OPEN) ? '(' : '[');
  ir_print_number(out, lo ? h->lo : -INFINITY);
  str_puts(out, ", ");
  ir_print_number(out, hi ? h->hi : INFINITY);
  str_putc(out, !hi || (h->flags & OPTK_HYPER_HI_OPEN) ? ')' : ']');
}

/* ---- state memory per parameter tensor -------------------------------- */

/* Monomials of the state-memory polynomial, in print order.  rows * cols
 * is written n (the element count of a 2-D parameter). */
enum { MONO_N, MONO_RR, MONO_CC, MONO_ROWS, MONO_COLS, MONO_ONE, NMONO };
static const char *const MONO[NMONO] = {"n", "rows*rows", "cols*cols", "rows", "cols", "1"};

static int mono_of(OptkDim a, OptkDim b) {
  if (a == OPTK_DIM_ONE) a = b, b = OPTK_DIM_ONE; /* order the pair: one last */
  if (b == OPTK_DIM_N) return -1;                  /* n x n: not a state */
  if (a == OPTK_DIM_N || (a == OPTK_DIM_ROWS && b == OPTK_DIM_COLS) ||
      (a == OPTK_DIM_COLS && b == OPTK_DIM_ROWS))
    return b == OPTK_DIM_ONE || b == OPTK_DIM_ROWS || b == OPTK_DIM_COLS ? MONO_N : -1;
  if (a == OPTK_DIM_ROWS) return b == OPTK_DIM_ROWS ? MONO_RR : MONO_ROWS;
  if (a == OPTK_DIM_COLS) return b == OPTK_DIM_COLS ? MONO_CC : MONO_COLS;
  return MONO_ONE;
}

/* Bytes of persistent state one parameter tensor owns, as a polynomial in
 * its shape: every state buffer (dtype size x its dims) and 8 bytes per
 * scalar state (kept as double).  coef[0] holds the plain terms, coef[1 +
 * h] those multiplied by hyper h (a history's m copies).  Shapes n x n
 * (dense Hessians) are not states and do not occur.  Returns false if a
 * buffer has such a shape. */
static bool state_bytes(const IrProgram *p, long (*coef)[NMONO]) {
  static const int SIZE[] = {4, 8, 2};
  for (int h = 0; h <= p->nhypers; h++)
    for (int k = 0; k < NMONO; k++) coef[h][k] = 0;
  for (int i = 2; i < p->nbufs; i++) {
    const IrBuffer *b = &p->bufs[i];
    if (b->role != OPTK_BUF_STATE) continue;
    int m = mono_of(b->dim0, b->dim1);
    if (m < 0 || b->count_hyper > (uint32_t)p->nhypers) return false;
    coef[b->count_hyper][m] += SIZE[b->dtype <= OPTK_BF16 ? b->dtype : 0];
  }
  coef[0][MONO_ONE] += 8L * p->nsstates;
  return true;
}

/* "8*n + 4*rows + 4*cols", "8*m*n + 8*m + 16" (history terms before the
 * plain one of each monomial), or "0". */
static void put_state_bytes(Str *out, const IrProgram *p) {
  long (*coef)[NMONO] = xcalloc((size_t)p->nhypers + 1, sizeof *coef);
  if (!state_bytes(p, coef)) {
    str_puts(out, "?");
    free(coef);
    return;
  }
  bool any = false;
  for (int k = 0; k < NMONO; k++)
    for (int r = 1; r <= p->nhypers + 1; r++) {
      int row = r % (p->nhypers + 1); /* hyper rows first, plain last */
      if (!coef[row][k]) continue;
      str_printf(out, "%s%ld", any ? " + " : "", coef[row][k]);
      if (row) str_printf(out, "*%s", p->hypers[row - 1].name);
      if (k != MONO_ONE) str_printf(out, "*%s", MONO[k]);
      any = true;
    }
  if (!any) str_putc(out, '0');
  free(coef);
}

static void text_form(Str *out, const IrProgram *p) {
  str_printf(out, "name: %s\nneeds: ", p->name);
  bool any = false;
  for (int i = 0; i < NNEEDS; i++)
    if (p->needs & (1u << i)) {
      str_printf(out, "%s%s", any ? ", " : "", NEEDS[i]);
      any = true;
    }
  str_puts(out, any ? "\n" : "none\n");
  for (int i = 0; i < p->nhypers; i++) {
    str_printf(out, "hyper.%s: ", p->hypers[i].name);
    ir_print_number(out, p->hypers[i].def);
    put_range(out, &p->hypers[i]);
    str_putc(out, '\n');
  }
  for (int i = 2; i < p->nbufs; i++) {
    const IrBuffer *b = &p->bufs[i];
    if (b->role != OPTK_BUF_STATE) continue;
    if (is_tensor(b)) str_printf(out, "state.%s: tensor", b->name);
    else
      str_printf(out, "state.%s: matrix(%s, %s)", b->name, NAME_OF(DIMS, b->dim0),
                 NAME_OF(DIMS, b->dim1));
    str_printf(out, " %s", NAME_OF(DTYPES, b->dtype));
    if (b->count_hyper && b->count_hyper <= (uint32_t)p->nhypers)
      str_printf(out, " x %s", p->hypers[b->count_hyper - 1].name);
    str_putc(out, '\n');
  }
  for (int i = 0; i < p->nsstates; i++)
    str_printf(out, "state.%s: scalar %s\n", p->sstates[i].name,
               NAME_OF(DTYPES, p->sstates[i].dtype));
  str_printf(out, "sweeps: %d\nbytes_per_element: %d\nstate_bytes_per_element: %d\n",
             p->sweeps, p->bytes_per_element, p->state_bytes_per_element);
  str_puts(out, "state_bytes: ");
  put_state_bytes(out, p);
  str_printf(out, "\nscratch_buffers: %d\n", p->scratch_buffers);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_string(Str *out, const char *s) {
  str_putc(out, '"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') str_printf(out, "\\%c", c);
    else if (c < 0x20) str_printf(out, "\\u%04x", c);
    else str_putc(out, (char)c);
  }
  str_putc(out, '"');
}

static void json_number(Str *out, double v) {
  if (isfinite(v)) ir_print_number(out, v);
  else str_puts(out, "null");
}

static void json_hyper(Str *out, const IrHyper *h) {
  bool lo = h->flags & OPTK_HYPER_HAS_LO, hi = h->flags & OPTK_HYPER_HAS_HI;
  str_puts(out, "{\"name\": ");
  json_string(out, h->name);
  str_puts(out, ", \"default\": ");
  json_number(out, h->def);
  str_puts(out, ", \"lo\": ");
  json_number(out, lo ? h->lo : INFINITY);
  str_puts(out, ", \"hi\": ");
  json_number(out, hi ? h->hi : INFINITY);
  str_printf(out, ", \"lo_open\": %s, \"hi_open\": %s}",
             !lo || (h->flags & OPTK_HYPER_LO_OPEN) ? "true" : "false",
             !hi || (h->flags & OPTK_HYPER_HI_OPEN) ? "true" : "false");
}

static void json_state(Str *out, const char *name, const char *kind, OptkDType dt,
                       const char *d0, const char *d1, bool *first) {
  str_puts(out, *first ? "\n    {\"name\": " : ",\n    {\"name\": ");
  *first = false;
  json_string(out, name);
  str_printf(out, ", \"kind\": \"%s\", \"dtype\": \"%s\", \"shape\": [", kind,
             NAME_OF(DTYPES, dt));
  if (d0) str_printf(out, "\"%s\", \"%s\"", d0, d1);
  str_puts(out, "]}");
}

static void json_states(Str *out, const IrProgram *p) {
  bool first = true;
  str_puts(out, "  \"states\": [");
  for (int i = 2; i < p->nbufs; i++) {
    const IrBuffer *b = &p->bufs[i];
    if (b->role != OPTK_BUF_STATE) continue;
    json_state(out, b->name, is_tensor(b) ? "tensor" : "matrix", (OptkDType)b->dtype,
               is_tensor(b) ? "n" : NAME_OF(DIMS, b->dim0),
               is_tensor(b) ? "1" : NAME_OF(DIMS, b->dim1), &first);
    if (b->count_hyper && b->count_hyper <= (uint32_t)p->nhypers) { /* a history: m copies */
      out->data[--out->len] = '\0'; /* reopen the object */
      str_puts(out, ", \"copies\": ");
      json_string(out, p->hypers[b->count_hyper - 1].name);
      str_putc(out, '}');
    }
  }
  for (int i = 0; i < p->nsstates; i++)
    json_state(out, p->sstates[i].name, "scalar", p->sstates[i].dtype, NULL, NULL, &first);
  str_puts(out, first ? "],\n" : "\n  ],\n");
}

static void json_form(Str *out, const IrProgram *p) {
  str_puts(out, "{\n  \"name\": ");
  json_string(out, p->name);
  str_puts(out, ",\n  \"needs\": [");
  bool any = false;
  for (int i = 0; i < NNEEDS; i++)
    if (p->needs & (1u << i)) {
      str_printf(out, "%s\"%s\"", any ? ", " : "", NEEDS[i]);
      any = true;
    }
  str_puts(out, "],\n  \"hypers\": [");
  for (int i = 0; i < p->nhypers; i++) {
    str_puts(out, i ? ",\n    " : "\n    ");
    json_hyper(out, &p->hypers[i]);
  }
  str_puts(out, p->nhypers ? "\n  ],\n" : "],\n");
  json_states(out, p);
  str_printf(out, "  \"sweeps\": %d,\n  \"bytes_per_element\": %d,\n"
                  "  \"state_bytes_per_element\": %d,\n  \"state_bytes\": \"",
             p->sweeps, p->bytes_per_element, p->state_bytes_per_element);
  put_state_bytes(out, p);
  str_printf(out, "\",\n  \"scratch_buffers\": %d\n}\n", p->scratch_buffers);
}

void info_format(Str *out, const IrProgram *prog, bool json) {
  if (json) json_form(out, prog);
  else text_form(out, prog);
}

/* history.c: OPTK_OP_HISTORY, the L-BFGS history of a parameter group
 * (optk.h, docs/abi.md "L-BFGS history").
 *
 * Each tensor owns m slots of s and y (buffers a, a+1, n elements a slot,
 * the history's dtype) and RHO (buffer a+2, m doubles); the scalar states
 * d (len) and d+1 (head) say which slots hold pairs: pair i (0 = newest)
 * is slot (head + i) % m.  rho, len and head are the same in every tensor
 * of the group.  DIRECTION runs the two-loop recursion on v for the whole
 * group in double (one scratch vector of the group's length); PUSH adds a
 * pair when s.y > 0 over the group.  Every dot product adds tensors in
 * order and elements in order, single-threaded: the result is the same
 * for any thread count.
 */
#include <math.h>
#include <string.h>

#include "rt_internal.h"

static double get(const void *base, int dtype, int64_t i) {
  if (dtype == OPTK_F64) return ((const double *)base)[i];
  return (double)((const float *)base)[i];
}

static void put(void *base, int dtype, int64_t i, double v) {
  if (dtype == OPTK_F64) ((double *)base)[i] = v;
  else ((float *)base)[i] = (float)v;
}

/* One history op's view of the group. */
typedef struct Hist {
  RtExec *x;
  const OptkOp *op;
  const OptkDescriptor *d;
  int64_t m, len, head;
  int sdt; /* dtype of S and Y */
} Hist;

/* Slot k of buffer a + which (0: S, 1: Y) of tensor i. */
static const void *slot_of(const Hist *h, int i, int which, int64_t k) {
  const RtTensor *t = h->x->t[i];
  size_t bytes = h->sdt == OPTK_F64 ? sizeof(double) : sizeof(float);
  return (const char *)t->buf[h->op->a + which] + (size_t)(k * t->n) * bytes;
}

/* sum over the group of slot k of `which` times q (or times slot k2 of
 * `which2` when q is NULL). */
static double dot_slot(const Hist *h, int which, int64_t k, const double *q, int which2,
                       int64_t k2) {
  double s = 0;
  int64_t off = 0;
  for (int i = 0; i < h->x->nt; i++) {
    const void *a = slot_of(h, i, which, k);
    const void *b = q ? NULL : slot_of(h, i, which2, k2);
    for (int64_t e = 0; e < h->x->t[i]->n; e++)
      s += get(a, h->sdt, e) * (q ? q[off + e] : get(b, h->sdt, e));
    off += h->x->t[i]->n;
  }
  return s;
}

/* q += c * slot k of `which`. */
static void axpy_slot(const Hist *h, double *q, double c, int which, int64_t k) {
  int64_t off = 0;
  for (int i = 0; i < h->x->nt; i++) {
    const void *a = slot_of(h, i, which, k);
    for (int64_t e = 0; e < h->x->t[i]->n; e++) q[off + e] += c * get(a, h->sdt, e);
    off += h->x->t[i]->n;
  }
}

static const double *rho_of(const Hist *h) {
  return (const double *)h->x->t[0]->buf[h->op->a + 2];
}

/* Nocedal & Wright, Algorithm 7.4, on q (v on entry, the direction on
 * exit); alpha has room for len values. */
static void two_loop(const Hist *h, double *q, double *alpha) {
  const double *rho = rho_of(h);
  for (int64_t i = 0; i < h->len; i++) {
    int64_t k = (h->head + i) % h->m;
    alpha[i] = rho[k] * dot_slot(h, 0, k, q, 0, 0);
    axpy_slot(h, q, -alpha[i], 1, k);
  }
  double gamma = 1;
  if (h->len > 0) {
    double yy = dot_slot(h, 1, h->head, NULL, 1, h->head);
    if (yy > 0) gamma = dot_slot(h, 0, h->head, NULL, 1, h->head) / yy;
  }
  int64_t total = 0;
  for (int i = 0; i < h->x->nt; i++) total += h->x->t[i]->n;
  for (int64_t e = 0; e < total; e++) q[e] *= gamma;
  for (int64_t i = h->len - 1; i >= 0; i--) {
    int64_t k = (h->head + i) % h->m;
    double b = rho[k] * dot_slot(h, 1, k, q, 0, 0);
    axpy_slot(h, q, alpha[i] - b, 0, k);
  }
}

static int direction(Hist *h) {
  Optrt *o = h->x->o;
  int64_t total = 0;
  for (int i = 0; i < h->x->nt; i++) total += h->x->t[i]->n;
  double *q = rt_malloc(&o->alloc, (size_t)total * sizeof(double) + 1);
  double *alpha = rt_malloc(&o->alloc, (size_t)h->m * sizeof(double));
  if (!q || !alpha) {
    rt_free(&o->alloc, q);
    rt_free(&o->alloc, alpha);
    return rt_error(o, "lbfgs_direction: out of memory for %lld elements", (long long)total);
  }
  int vdt = h->d->bufs[h->op->b].dtype, odt = h->d->bufs[h->op->c].dtype;
  int64_t off = 0;
  for (int i = 0; i < h->x->nt; off += h->x->t[i++]->n)
    for (int64_t e = 0; e < h->x->t[i]->n; e++) q[off + e] = get(h->x->t[i]->buf[h->op->b], vdt, e);
  two_loop(h, q, alpha);
  off = 0;
  for (int i = 0; i < h->x->nt; off += h->x->t[i++]->n)
    for (int64_t e = 0; e < h->x->t[i]->n; e++) put(h->x->t[i]->buf[h->op->c], odt, e, q[off + e]);
  rt_free(&o->alloc, q);
  rt_free(&o->alloc, alpha);
  return 0;
}

/* s.y over the group; when positive the pair becomes the newest. */
static int push(Hist *h) {
  int sdt = h->d->bufs[h->op->b].dtype, ydt = h->d->bufs[h->op->c].dtype;
  double sy = 0;
  for (int i = 0; i < h->x->nt; i++) {
    const RtTensor *t = h->x->t[i];
    for (int64_t e = 0; e < t->n; e++)
      sy += get(t->buf[h->op->b], sdt, e) * get(t->buf[h->op->c], ydt, e);
  }
  if (!(sy > 0)) return 0;
  int64_t head = (h->head + h->m - 1) % h->m;
  int64_t len = h->len < h->m ? h->len + 1 : h->m;
  for (int i = 0; i < h->x->nt; i++) {
    RtTensor *t = h->x->t[i];
    for (int which = 0; which < 2; which++) {
      void *dst = (void *)slot_of(h, i, which, head);
      const void *src = t->buf[which ? h->op->c : h->op->b];
      for (int64_t e = 0; e < t->n; e++) put(dst, h->sdt, e, get(src, which ? ydt : sdt, e));
    }
    ((double *)t->buf[h->op->a + 2])[head] = 1.0 / sy;
    t->sstate[h->op->d] = (double)len;
    t->sstate[h->op->d + 1] = (double)head;
  }
  return 0;
}

int rt_history(RtExec *x, const OptkOp *op) {
  const OptkDescriptor *d = x->grp->d;
  const RtTensor *t0 = x->t[0];
  Hist h = {x, op, d, 0, 0, 0, d->bufs[op->a].dtype};
  h.m = rt_buf_count(d, op->a + 2, t0);
  double len = t0->sstate[op->d], head = t0->sstate[op->d + 1];
  if (h.m < 1 || !(len >= 0 && len <= (double)h.m && len == floor(len)) ||
      !(head >= 0 && head < (double)h.m && head == floor(head))) {
    char lab[160];
    return rt_error(x->o, "%s: L-BFGS history '%s' is corrupt (len %g, head %g, m %lld)",
                    rt_group_label(x->o, x->group, lab, sizeof lab), d->bufs[op->a].name, len,
                    head, (long long)h.m);
  }
  h.len = (int64_t)len;
  h.head = (int64_t)head;
  return op->fn == OPTK_HIST_PUSH ? push(&h) : direction(&h);
}

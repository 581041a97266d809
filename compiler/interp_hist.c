/* interp_hist.c: the reference L-BFGS history ops of the interpreter
 * (OPTK_OP_HISTORY, optk.h), the oracle for runtime/history.c.
 *
 * Same layout and order as the runtime: pair i (0 = newest) is slot
 * (head + i) % m of each tensor's s and y arrays (n values a slot, held as
 * doubles rounded to the history's dtype), rho[k] = 1 / (s.y) over the
 * group, len and head in scalar states d and d+1 of every tensor.  Dot
 * products run over tensors in order, then elements in order, in double.
 */
#include <math.h>
#include <stdlib.h>

#include "interp_internal.h"

static double round_hist(OptkDType dt, double v) { return dt == OPTK_F64 ? v : (double)(float)v; }

/* Sum over the group of a_k . b_k, where a is slot ka of `a` (or q) and b
 * slot kb of `b` (or q); a NULL slot array means q. */
static double dot(const InterpHist *h, double *const *a, int64_t ka, double *const *b,
                  int64_t kb, double *const *q) {
  double s = 0;
  for (int t = 0; t < h->nt; t++) {
    const double *x = a ? a[t] + ka * h->n[t] : q[t];
    const double *y = b ? b[t] + kb * h->n[t] : q[t];
    for (int64_t e = 0; e < h->n[t]; e++) s += x[e] * y[e];
  }
  return s;
}

static void axpy(const InterpHist *h, double *const *q, double c, double *const *a, int64_t k) {
  for (int t = 0; t < h->nt; t++)
    for (int64_t e = 0; e < h->n[t]; e++) q[t][e] += c * a[t][k * h->n[t] + e];
}

void interp_hist_direction(const InterpHist *h, double *const *q) {
  int64_t len = (int64_t)h->sstate[0][h->d], head = (int64_t)h->sstate[0][h->d + 1];
  const double *rho = h->rho[0];
  double *alpha = xmalloc(sizeof(double) * (size_t)(len + 1));
  for (int64_t i = 0; i < len; i++) {
    int64_t k = (head + i) % h->m;
    alpha[i] = rho[k] * dot(h, h->s, k, NULL, 0, q);
    axpy(h, q, -alpha[i], h->y, k);
  }
  double gamma = 1;
  if (len > 0) {
    double yy = dot(h, h->y, head, h->y, head, q);
    if (yy > 0) gamma = dot(h, h->s, head, h->y, head, q) / yy;
  }
  for (int t = 0; t < h->nt; t++)
    for (int64_t e = 0; e < h->n[t]; e++) q[t][e] *= gamma;
  for (int64_t i = len - 1; i >= 0; i--) {
    int64_t k = (head + i) % h->m;
    double b = rho[k] * dot(h, h->y, k, NULL, 0, q);
    axpy(h, q, alpha[i] - b, h->s, k);
  }
  free(alpha);
}

void interp_hist_push(const InterpHist *h, double *const *s, double *const *y) {
  double sy = 0;
  for (int t = 0; t < h->nt; t++)
    for (int64_t e = 0; e < h->n[t]; e++) sy += s[t][e] * y[t][e];
  if (!(sy > 0)) return;
  int64_t len = (int64_t)h->sstate[0][h->d], head = (int64_t)h->sstate[0][h->d + 1];
  head = (head + h->m - 1) % h->m;
  len = len < h->m ? len + 1 : h->m;
  for (int t = 0; t < h->nt; t++) {
    for (int64_t e = 0; e < h->n[t]; e++) {
      h->s[t][head * h->n[t] + e] = round_hist(h->dtype, s[t][e]);
      h->y[t][head * h->n[t] + e] = round_hist(h->dtype, y[t][e]);
    }
    h->rho[t][head] = 1.0 / sy;
    h->sstate[t][h->d] = (double)len;
    h->sstate[t][h->d + 1] = (double)head;
  }
}

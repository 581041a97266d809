/* host.c: plan ops that call the host's objective: HVP, HESSIAN and GNB.
 * (LINESEARCH is in search.c.)
 *
 * HVP hands the objective one vector per parameter of the whole optimizer
 * in global order: the group's v buffers (as f32, converted when stored
 * otherwise) and NULL, meaning zero, for every other parameter; it asks
 * only for the group's blocks of H v.  HESSIAN asks for the dense n x n
 * block of the group's single parameter.  GNB asks for the group's blocks
 * of the objective's gnb_grad (the others NULL: not wanted), as f32,
 * converted into the out buffer when it is stored otherwise.
 */
#include <string.h>

#include "rt_internal.h"

static void to_f32(float *dst, const void *src, int dtype, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    dst[i] = dtype == OPTK_F64 ? (float)((const double *)src)[i]
             : dtype == OPTK_BF16 ? optk_bf16_to_f32(((const uint16_t *)src)[i])
                                  : ((const float *)src)[i];
}

static void from_f32(void *dst, const float *src, int dtype, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (dtype == OPTK_F64) ((double *)dst)[i] = src[i];
    else if (dtype == OPTK_BF16) ((uint16_t *)dst)[i] = optk_f32_to_bf16(src[i]);
    else ((float *)dst)[i] = src[i];
  }
}

/* The f32 view of buffer b of tensor t: the buffer itself, or a copy. */
static float *f32_view(RtExec *x, int32_t b, RtTensor *t, bool copy_in) {
  int dtype = x->grp->d->bufs[b].dtype;
  if (dtype == OPTK_F32) return t->buf[b];
  float *v = rt_malloc(&x->o->alloc, (size_t)t->n * sizeof(float));
  if (v && copy_in) to_f32(v, t->buf[b], dtype, t->n);
  return v;
}

static void hvp_release(RtExec *x, const OptkOp *op, float **v, float **hv, bool ok) {
  for (int i = 0; i < x->nt; i++) {
    RtTensor *t = x->t[i];
    int dv = x->grp->d->bufs[op->a].dtype, dh = x->grp->d->bufs[op->b].dtype;
    if (ok && hv[t->id] && dh != OPTK_F32) from_f32(t->buf[op->b], hv[t->id], dh, t->n);
    if (dv != OPTK_F32) rt_free(&x->o->alloc, v[t->id]);
    if (dh != OPTK_F32) rt_free(&x->o->alloc, hv[t->id]);
  }
  rt_free(&x->o->alloc, v);
  rt_free(&x->o->alloc, hv);
}

int rt_host_hvp(RtExec *x, const OptkOp *op) {
  Optrt *o = x->o;
  float **v = rt_calloc(&o->alloc, (size_t)o->nall, sizeof *v);
  float **hv = rt_calloc(&o->alloc, (size_t)o->nall, sizeof *hv);
  bool ok = v && hv;
  for (int i = 0; ok && i < x->nt; i++) {
    RtTensor *t = x->t[i];
    v[t->id] = f32_view(x, op->a, t, true);
    hv[t->id] = f32_view(x, op->b, t, false);
    ok = v[t->id] && hv[t->id];
  }
  int rc = ok ? 0 : rt_error(o, "hvp: out of memory");
  if (!rc && x->obj->hvp(x->obj->user, (const float *const *)v, hv) != 0) {
    char lab[160];
    rc = rt_error(o, "%s: the objective's hvp failed", rt_group_label(o, x->group, lab, sizeof lab));
  }
  if (v && hv) hvp_release(x, op, v, hv, rc == 0);
  else {
    rt_free(&o->alloc, v);
    rt_free(&o->alloc, hv);
  }
  return rc;
}

int rt_host_gnb(RtExec *x, const OptkOp *op) {
  Optrt *o = x->o;
  int dtype = x->grp->d->bufs[op->a].dtype;
  float **out = rt_calloc(&o->alloc, (size_t)o->nall, sizeof *out);
  bool ok = out != NULL;
  for (int i = 0; ok && i < x->nt; i++) {
    out[x->t[i]->id] = f32_view(x, op->a, x->t[i], false);
    ok = out[x->t[i]->id] != NULL;
  }
  int rc = ok ? 0 : rt_error(o, "gnb: out of memory");
  if (!rc && x->obj->gnb_grad(x->obj->user, out) != 0) {
    char lab[160];
    rc = rt_error(o, "%s: the objective's gnb_grad failed", rt_group_label(o, x->group, lab, sizeof lab));
  }
  for (int i = 0; out && i < x->nt; i++) {
    RtTensor *t = x->t[i];
    if (!rc && dtype != OPTK_F32) from_f32(t->buf[op->a], out[t->id], dtype, t->n);
    if (dtype != OPTK_F32) rt_free(&o->alloc, out[t->id]);
  }
  rt_free(&o->alloc, out);
  return rc;
}

int rt_host_hessian(RtExec *x, const OptkOp *op) {
  Optrt *o = x->o;
  RtTensor *t = x->t[0];
  int64_t n = t->n;
  if (n > RT_HESSIAN_MAX) return rt_error(o, "hessian: %lld elements is too many for a dense Hessian", (long long)n);
  int dtype = x->grp->d->bufs[op->a].dtype;
  double *h = dtype == OPTK_F64 ? t->buf[op->a] : rt_malloc(&o->alloc, (size_t)(n * n) * 8);
  if (!h) return rt_error(o, "hessian: out of memory for %lld x %lld", (long long)n, (long long)n);
  int rc = 0;
  if (x->obj->hessian(x->obj->user, (int)t->id, h) != 0) {
    char lab[160];
    rc = rt_error(o, "%s: the objective's hessian failed", rt_group_label(o, x->group, lab, sizeof lab));
  }
  for (int64_t i = 0; !rc && dtype != OPTK_F64 && i < n * n; i++) {
    if (dtype == OPTK_BF16) ((uint16_t *)t->buf[op->a])[i] = optk_f32_to_bf16((float)h[i]);
    else ((float *)t->buf[op->a])[i] = (float)h[i];
  }
  if (dtype != OPTK_F64) rt_free(&o->alloc, h);
  return rc;
}

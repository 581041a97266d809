/* state.c: memory through the allocation hook, and per-tensor state.
 *
 * Aligned blocks over-allocate by RT_ALIGN plus a pointer and keep the
 * hook's pointer just below the aligned address.  A tensor's state
 * (tensor, matrix and scratch buffers, scalar states, slots, combined
 * reductions and block partials) is allocated on the group's first step
 * and zeroed; the executor then runs the kernel's init plan over it.
 * Block partials are sized for the largest sweep domain (optk.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

static void *default_alloc(void *user, void *ptr, size_t size) {
  (void)user;
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, size);
}

static OptrtAllocFn hook(const RtAlloc *a) { return a->fn ? a->fn : default_alloc; }

void *rt_malloc(const RtAlloc *a, size_t n) { return hook(a)(a->user, NULL, n ? n : 1); }

void *rt_calloc(const RtAlloc *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  void *p = rt_malloc(a, n);
  if (p) memset(p, 0, n ? n : 1);
  return p;
}

void *rt_realloc(const RtAlloc *a, void *p, size_t n) { return hook(a)(a->user, p, n ? n : 1); }

void rt_free(const RtAlloc *a, void *p) {
  if (p) hook(a)(a->user, p, 0);
}

void *rt_alloc_aligned(const RtAlloc *a, size_t n) {
  if (n > SIZE_MAX - RT_ALIGN - RT_PAD - sizeof(void *)) return NULL;
  char *raw = rt_malloc(a, n + RT_ALIGN + RT_PAD + sizeof(void *));
  if (!raw) return NULL;
  uintptr_t at = ((uintptr_t)raw + sizeof(void *) + RT_ALIGN - 1) & ~(uintptr_t)(RT_ALIGN - 1);
  ((void **)at)[-1] = raw;
  memset((void *)at, 0, n + RT_PAD);
  return (void *)at;
}

void rt_free_aligned(const RtAlloc *a, void *p) {
  if (p) rt_free(a, ((void **)p)[-1]);
}

char *rt_strdup(const RtAlloc *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *c = rt_malloc(a, n);
  if (c) memcpy(c, s, n);
  return c;
}

int64_t rt_dim(const RtTensor *t, int dim) {
  switch (dim) {
  case OPTK_DIM_ROWS: return t->rows;
  case OPTK_DIM_COLS: return t->cols;
  case OPTK_DIM_N: return t->n;
  default: return 1;
  }
}

int64_t rt_buf_count(const OptkDescriptor *d, int b, const RtTensor *t) {
  int64_t a = rt_dim(t, d->bufs[b].dim0), c = rt_dim(t, d->bufs[b].dim1);
  if (c && a > INT64_MAX / c) return -1;
  uint32_t h = d->bufs[b].count_hyper;
  if (!h) return a * c;
  double m = t->hyper ? t->hyper[h - 1] : 1.0;
  if (!(m >= 1) || m > (double)(INT64_MAX / 8) / (double)(a * c)) return -1;
  return a * c * (int64_t)m;
}

bool rt_param_domain(const OptkDescriptor *d, int32_t a) {
  if (a < 2 || (uint32_t)a >= d->nbuf) return true;
  const OptkBuffer *b = &d->bufs[a];
  return (b->dim0 == OPTK_DIM_N && b->dim1 == OPTK_DIM_ONE) ||
         (b->dim0 == OPTK_DIM_ONE && b->dim1 == OPTK_DIM_N) ||
         (b->dim0 == OPTK_DIM_ROWS && b->dim1 == OPTK_DIM_COLS);
}

void rt_domain(const OptkDescriptor *d, int32_t a, const RtTensor *t, int64_t *rows,
               int64_t *cols) {
  if (rt_param_domain(d, a)) {
    *rows = t->rows;
    *cols = t->cols;
    return;
  }
  *rows = rt_dim(t, d->bufs[a].dim0);
  *cols = rt_dim(t, d->bufs[a].dim1);
}

int64_t rt_domain_blocks(const OptkDescriptor *d, int32_t a, const RtTensor *t) {
  int64_t r, c;
  rt_domain(d, a, t, &r, &c);
  if (c && r > INT64_MAX / c) return INT64_MAX / OPTK_BLOCK; /* allocation fails */
  return (r * c + OPTK_BLOCK - 1) / OPTK_BLOCK;
}

/* Partials are sized for the largest sweep domain of both plans. */
static int64_t max_blocks(const OptkDescriptor *d, const RtTensor *t) {
  int64_t m = (t->n + OPTK_BLOCK - 1) / OPTK_BLOCK;
  for (int plan = 0; plan < 2; plan++) {
    const OptkOp *ops = plan ? d->init_ops : d->ops;
    uint32_t n = plan ? d->ninit_ops : d->nops;
    for (uint32_t i = 0; i < n; i++) {
      int64_t b = ops[i].kind == OPTK_OP_SWEEP ? rt_domain_blocks(d, ops[i].a, t) : 0;
      if (b > m) m = b;
    }
  }
  return m;
}

static bool owned(const OptkDescriptor *d, uint32_t b) {
  return d->bufs[b].role == OPTK_BUF_STATE || d->bufs[b].role == OPTK_BUF_SCRATCH;
}

void rt_tensor_free_state(const RtAlloc *a, const OptkDescriptor *d, RtTensor *t) {
  for (uint32_t b = 2; t->buf && b < d->nbuf; b++) {
    if (owned(d, b)) rt_free_aligned(a, t->buf[b]);
    t->buf[b] = NULL;
  }
  rt_free(a, t->sstate);
  rt_free(a, t->slot);
  rt_free(a, t->red);
  rt_free_aligned(a, t->partial);
  t->sstate = t->slot = t->red = t->partial = NULL;
  t->ready = false;
}

void rt_tensor_free(const RtAlloc *a, const OptkDescriptor *d, RtTensor *t) {
  if (!t) return;
  rt_tensor_free_state(a, d, t);
  rt_free(a, t->buf);
  rt_free(a, t);
}

static int alloc_buffers(Optrt *o, const OptkDescriptor *d, RtTensor *t) {
  for (uint32_t b = 2; b < d->nbuf; b++) {
    int64_t count = rt_buf_count(d, (int)b, t);
    size_t bytes = (size_t)count * rt_dtype_size(d->bufs[b].dtype);
    if (count < 0 || (uint64_t)count > SIZE_MAX / 8 || !(t->buf[b] = rt_alloc_aligned(&o->alloc, bytes)))
      return rt_error(o, "out of memory for buffer '%s' (%lld elements)", d->bufs[b].name,
                      (long long)count);
  }
  return 0;
}

/* Allocates everything a step touches; on failure frees it again. */
int rt_tensor_alloc_state(Optrt *o, const OptkDescriptor *d, RtTensor *t) {
  t->nblocks = max_blocks(d, t);
  size_t nred = d->nred ? d->nred : 1;
  if ((uint64_t)t->nblocks > SIZE_MAX / sizeof(double) / nred)
    return rt_error(o, "a %lld-element tensor is too large for %zu reductions", (long long)t->n, nred);
  t->sstate = rt_calloc(&o->alloc, (size_t)d->nsstate + 1, sizeof(double));
  t->slot = rt_calloc(&o->alloc, (size_t)d->nslot + 1, sizeof(double));
  t->red = rt_calloc(&o->alloc, nred, sizeof(double));
  t->partial = rt_alloc_aligned(&o->alloc, (size_t)t->nblocks * nred * sizeof(double));
  if (!t->sstate || !t->slot || !t->red || !t->partial) {
    rt_tensor_free_state(&o->alloc, d, t);
    return rt_error(o, "out of memory for the state of a %lld-element tensor", (long long)t->n);
  }
  if (alloc_buffers(o, d, t)) {
    rt_tensor_free_state(&o->alloc, d, t);
    return -1;
  }
  for (uint32_t i = 0; i < d->nsstate; i++) t->sstate[i] = d->sstate_init[i];
  return 0;
}

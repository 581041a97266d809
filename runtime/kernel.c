/* kernel.c: opening compiled kernels and validating their descriptors.
 *
 * A descriptor is trusted only after validate() has checked every field
 * the executor relies on: magic, ABI version and size first (so a foreign
 * or newer library is named as such), then buffers, hypers and every op
 * of both plans (indices in range, jumps strictly forward, so a plan
 * always terminates).  Errors are malloc'd strings for the caller.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

static char *fmt_err(const char *fmt, ...) RT_PRINTF(1, 2);
static char *fmt_err(const char *fmt, ...) {
  char buf[RT_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  size_t n = strlen(buf) + 1;
  char *s = malloc(n);
  if (s) memcpy(s, buf, n);
  return s;
}

static void set_err(char **err, char *msg) {
  if (err) *err = msg;
  else free(msg);
}

size_t rt_dtype_size(int dtype) {
  return dtype == OPTK_F64 ? 8 : dtype == OPTK_BF16 ? 2 : 4;
}

const char *rt_dtype_name(int dtype) {
  return dtype == OPTK_F64 ? "f64" : dtype == OPTK_BF16 ? "bf16" : "f32";
}

int rt_find_hyper(const OptkDescriptor *d, const char *name) {
  for (uint32_t i = 0; i < d->nhyper; i++)
    if (strcmp(d->hypers[i].name, name) == 0) return (int)i;
  return -1;
}

int rt_find_buffer(const OptkDescriptor *d, const char *name) {
  for (uint32_t i = 0; i < d->nbuf; i++)
    if (strcmp(d->bufs[i].name, name) == 0) return (int)i;
  return -1;
}

int rt_find_sstate(const OptkDescriptor *d, const char *name) {
  for (uint32_t i = 0; i < d->nsstate; i++)
    if (strcmp(d->sstates[i].name, name) == 0) return (int)i;
  return -1;
}

static const char *check_buffers(const OptkDescriptor *d) {
  if (d->nbuf < 2 || !d->bufs) return "fewer than two buffers (p and g)";
  for (uint32_t i = 0; i < d->nbuf; i++) {
    const OptkBuffer *b = &d->bufs[i];
    if (!b->name) return "a buffer has no name";
    if (b->dtype > OPTK_BF16 || b->dim0 > OPTK_DIM_N || b->dim1 > OPTK_DIM_N)
      return "a buffer has an invalid dtype or dim";
    int want = i == 0 ? OPTK_BUF_PARAM : i == 1 ? OPTK_BUF_GRAD : -1;
    if (want >= 0 && (b->role != want || b->dtype != OPTK_F32))
      return "buffers 0 and 1 must be p and g in f32";
    if (want < 0 && b->role != OPTK_BUF_STATE && b->role != OPTK_BUF_SCRATCH)
      return "a buffer after p and g is neither state nor scratch";
    if (b->count_hyper && (b->role != OPTK_BUF_STATE || b->count_hyper > d->nhyper || !d->hypers))
      return "a buffer's count_hyper is not a hyper, or the buffer is not a state";
    uint32_t sizing = OPTK_HYPER_INTEGER | OPTK_HYPER_SIZES_STATE;
    if (b->count_hyper && (d->hypers[b->count_hyper - 1].flags & sizing) != sizing)
      return "a buffer's count_hyper names a hyper without the INTEGER and SIZES_STATE flags";
  }
  return NULL;
}

static const char *check_hypers(const OptkDescriptor *d) {
  if (d->nhyper && !d->hypers) return "hypers missing";
  for (uint32_t i = 0; i < d->nhyper; i++)
    if (!d->hypers[i].name || isnan(d->hypers[i].def)) return "a hyper has no name or default";
  if (d->nsstate && (!d->sstates || !d->sstate_init)) return "scalar states missing";
  for (uint32_t i = 0; i < d->nsstate; i++)
    if (!d->sstates[i].name || d->sstates[i].dtype > OPTK_BF16)
      return "a scalar state has no name or an invalid dtype";
  return NULL;
}

static bool buf_ok(const OptkDescriptor *d, int32_t b) { return b >= 0 && (uint32_t)b < d->nbuf; }
static bool slot_ok(const OptkDescriptor *d, int32_t s) { return s >= 0 && (uint32_t)s < d->nslot; }
static bool writable(const OptkDescriptor *d, int32_t b) {
  return buf_ok(d, b) && d->bufs[b].role != OPTK_BUF_GRAD;
}

static const char *check_matop(const OptkDescriptor *d, const OptkOp *op) {
  if (op->fn > OPTK_MAT_COPY) return "unknown MATOP";
  if (!writable(d, op->c)) return "MATOP output is not a writable buffer";
  bool two = op->fn == OPTK_MAT_GEMM || op->fn == OPTK_MAT_SOLVE;
  bool one = op->fn != OPTK_MAT_IDENTITY;
  if ((one && !buf_ok(d, op->a)) || (two && !buf_ok(d, op->b))) return "MATOP operand out of range";
  if (op->fn == OPTK_MAT_IDENTITY && !slot_ok(d, op->d)) return "IDENTITY needs a slot";
  if (op->fn == OPTK_MAT_GEMM && op->d != -1 && !slot_ok(d, op->d)) return "GEMM alpha slot out of range";
  if (op->flags & OPTK_MATOP_ACCUMULATE) {
    if (op->fn != OPTK_MAT_GEMM && op->fn != OPTK_MAT_ROWMEAN && op->fn != OPTK_MAT_COLMEAN)
      return "only GEMM, ROWMEAN and COLMEAN accumulate";
    if (!slot_ok(d, op->d) || !slot_ok(d, op->d + 1)) return "an accumulating MATOP needs alpha and beta slots";
  }
  if (op->fn == OPTK_MAT_INV_ROOT && (!slot_ok(d, op->d) || !slot_ok(d, op->d + 1)))
    return "INV_ROOT needs two slots";
  int32_t used[3] = {one ? op->a : op->c, two ? op->b : op->c, op->c};
  for (int i = 0; i < 3; i++)
    if (d->bufs[used[i]].dtype == OPTK_BF16) return "MATOP on a bf16 buffer";
  return NULL;
}

/* HISTORY: three consecutive buffers sized by one hyper (S and Y shaped
 * like p, RHO f64 (1, 1)), plain operands shaped like p, two scalar
 * states. */
static const char *check_history(const OptkDescriptor *d, const OptkOp *op, bool init) {
  if (init) return "HISTORY in the init plan";
  if (op->fn > OPTK_HIST_PUSH) return "unknown HISTORY function";
  if (!buf_ok(d, op->a) || !buf_ok(d, op->a + 2)) return "HISTORY buffers out of range";
  const OptkBuffer *h = &d->bufs[op->a];
  for (int k = 0; k < 3; k++) {
    bool dims = k < 2 ? h[k].dim0 == OPTK_DIM_N && h[k].dim1 == OPTK_DIM_ONE
                      : h[k].dim0 == OPTK_DIM_ONE && h[k].dim1 == OPTK_DIM_ONE && h[k].dtype == OPTK_F64;
    if (!h[k].count_hyper || h[k].count_hyper != h->count_hyper || !dims || h[k].dtype == OPTK_BF16)
      return "HISTORY buffers are not a history";
  }
  if (!buf_ok(d, op->b) || !buf_ok(d, op->c) || d->bufs[op->b].count_hyper || d->bufs[op->c].count_hyper)
    return "HISTORY operands out of range";
  if (op->fn == OPTK_HIST_DIRECTION && !writable(d, op->c)) return "HISTORY output is not writable";
  if (d->bufs[op->b].dtype == OPTK_BF16 || d->bufs[op->c].dtype == OPTK_BF16)
    return "HISTORY operand in bf16";
  if (op->d < 0 || (uint32_t)op->d + 1 >= d->nsstate) return "HISTORY scalar states out of range";
  return NULL;
}

static const char *check_op(const OptkDescriptor *d, const OptkOp *op, uint32_t pc, uint32_t n,
                            bool init) {
  switch (op->kind) {
  case OPTK_OP_SCALAR:
    return op->fn < d->nscalar_fns && d->scalar_fns[op->fn] ? NULL : "SCALAR function out of range";
  case OPTK_OP_SWEEP:
    if (op->a != -1 && !buf_ok(d, op->a)) return "SWEEP domain buffer out of range";
    if (op->a != -1 && d->bufs[op->a].count_hyper) return "SWEEP over a history buffer";
    return op->fn < d->nsweep_fns && d->sweep_fns[op->fn] ? NULL : "SWEEP function out of range";
  case OPTK_OP_COMBINE:
    if (op->a < 0 || op->b < 0 || (uint32_t)op->a + (uint32_t)op->b > d->nred)
      return "COMBINE reductions out of range";
    if (op->c != -1 && !buf_ok(d, op->c)) return "COMBINE domain buffer out of range";
    return op->scope > OPTK_SCOPE_GROUP || op->flags > OPTK_RED_MAX ? "COMBINE scope or kind invalid"
                                                                    : NULL;
  case OPTK_OP_JUMP:
  case OPTK_OP_JUMP_IF_ZERO:
    if (op->a <= (int32_t)pc || (uint32_t)op->a > n) return "jump target not forward within the plan";
    return op->kind == OPTK_OP_JUMP || slot_ok(d, op->b) ? NULL : "jump slot out of range";
  case OPTK_OP_HVP:
    if (init) return "host call in the init plan";
    return buf_ok(d, op->a) && writable(d, op->b) ? NULL : "HVP buffers out of range";
  case OPTK_OP_HESSIAN:
    if (init) return "host call in the init plan";
    return writable(d, op->a) ? NULL : "HESSIAN buffer out of range";
  case OPTK_OP_LINESEARCH:
    if (init) return "host call in the init plan";
    if (!buf_ok(d, op->a) || op->b > OPTK_LS_WOLFE || !slot_ok(d, op->c) || !slot_ok(d, op->c + 3))
      return "LINESEARCH operands out of range";
    return op->d == -1 || slot_ok(d, op->d) ? NULL : "LINESEARCH result slot out of range";
  case OPTK_OP_MATOP:
    return check_matop(d, op);
  case OPTK_OP_GNB:
    if (init) return "host call in the init plan";
    return writable(d, op->a) ? NULL : "GNB buffer out of range";
  case OPTK_OP_HISTORY:
    return check_history(d, op, init);
  default:
    return "unknown op kind";
  }
}

static const char *check_plan(const OptkDescriptor *d, const OptkOp *ops, uint32_t n, bool init,
                              uint32_t *needs) {
  if (n && !ops) return "plan missing";
  if ((d->nscalar_fns && !d->scalar_fns) || (d->nsweep_fns && !d->sweep_fns))
    return "function tables missing";
  for (uint32_t pc = 0; pc < n; pc++) {
    const char *e = check_op(d, &ops[pc], pc, n, init);
    if (e) return e;
    uint16_t k = ops[pc].kind;
    if (k == OPTK_OP_HVP) *needs |= OPTK_NEED_HVP;
    if (k == OPTK_OP_HESSIAN) *needs |= OPTK_NEED_HESSIAN;
    if (k == OPTK_OP_LINESEARCH) *needs |= OPTK_NEED_LINESEARCH;
    if (k == OPTK_OP_GNB) *needs |= OPTK_NEED_GNB;
  }
  return NULL;
}

/* Returns NULL or a malloc'd message prefixed by `who`. */
static char *validate(const OptkDescriptor *d, const char *who, uint32_t *needs) {
  if (!d) return fmt_err("%s: no descriptor", who);
  if (d->magic != OPTK_MAGIC)
    return fmt_err("%s: not an optc kernel (magic 0x%08x, expected 0x%08x)", who, d->magic, OPTK_MAGIC);
  if (d->abi_version != OPTK_ABI_VERSION)
    return fmt_err("%s: kernel ABI version %u, this runtime supports %u", who, d->abi_version,
                   OPTK_ABI_VERSION);
  if (d->size != sizeof(OptkDescriptor))
    return fmt_err("%s: descriptor size %u, this runtime expects %zu", who, d->size,
                   sizeof(OptkDescriptor));
  if (!d->name || !*d->name) return fmt_err("%s: descriptor has no optimizer name", who);
  *needs = d->needs;
  const char *e = check_buffers(d);
  if (!e) e = check_hypers(d);
  if (!e) e = check_plan(d, d->ops, d->nops, false, needs);
  if (!e) e = check_plan(d, d->init_ops, d->ninit_ops, true, needs);
  return e ? fmt_err("%s: invalid descriptor of '%s': %s", who, d->name, e) : NULL;
}

static OptrtKernel *make_kernel(const OptkDescriptor *d, void *dl, uint32_t needs, char **err) {
  OptrtKernel *k = calloc(1, sizeof *k);
  if (!k) {
    set_err(err, fmt_err("out of memory"));
    return NULL;
  }
  k->d = d;
  k->dl = dl;
  k->needs = needs;
  return k;
}

OptrtKernel *optrt_wrap_descriptor(const OptkDescriptor *d, char **err) {
  uint32_t needs = 0;
  char *e = validate(d, "descriptor", &needs);
  if (e) {
    set_err(err, e);
    return NULL;
  }
  return make_kernel(d, NULL, needs, err);
}

OptrtKernel *optrt_open_library(const char *path, char **err) {
  if (!path) {
    set_err(err, fmt_err("no library path"));
    return NULL;
  }
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *why = dlerror();
    set_err(err, fmt_err("%s: cannot load: %s", path, why ? why : "unknown error"));
    return NULL;
  }
  const OptkDescriptor *d = dlsym(dl, OPTK_DESCRIPTOR_SYMBOL);
  uint32_t needs = 0;
  char *e = d ? validate(d, path, &needs)
              : fmt_err("%s: no symbol '%s': not a library built by optc compile", path,
                        OPTK_DESCRIPTOR_SYMBOL);
  OptrtKernel *k = e ? NULL : make_kernel(d, dl, needs, err);
  if (e) set_err(err, e);
  if (!k) dlclose(dl);
  return k;
}

void optrt_kernel_close(OptrtKernel *k) {
  if (!k) return;
  if (k->dl) dlclose(k->dl);
  free(k);
}

const OptkDescriptor *optrt_kernel_descriptor(const OptrtKernel *k) { return k ? k->d : NULL; }

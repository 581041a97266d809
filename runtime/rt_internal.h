/* rt_internal.h: liboptrt's internal types, shared by its files.
 *
 * Ownership: an Optrt owns its groups, a group owns its tensors, a tensor
 * owns its state, scratch and reduction memory (never p and g).  All of it
 * comes from the optimizer's allocation hook (RtAlloc).  Internal symbols
 * carry the rt_ prefix and hidden visibility; only optrt_* is exported.
 */
#ifndef OPTRT_RT_INTERNAL_H
#define OPTRT_RT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "optrt.h"

#if defined(__GNUC__)
#define RT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RT_PRINTF(a, b)
#endif

/* Tensor buffers are aligned for full AVX-512 cache-line loads and have
 * RT_PAD zeroed bytes after their last element: kernels load a vector
 * from anywhere in a row or column vector (docs/abi.md, "Buffers"). */
#define RT_ALIGN 64
#define RT_PAD 64
/* Largest dense Hessian side: n * n must fit LAPACK's 32-bit indices. */
#define RT_HESSIAN_MAX 46340
/* Error texts are one line or two; longer ones are cut. */
#define RT_ERR_MAX 1024

/* ---- memory (state.c) ------------------------------------------------- */
typedef struct RtAlloc {
  OptrtAllocFn fn;
  void *user;
} RtAlloc;

void *rt_malloc(const RtAlloc *a, size_t n);
void *rt_calloc(const RtAlloc *a, size_t count, size_t size);
void *rt_realloc(const RtAlloc *a, void *p, size_t n);
void rt_free(const RtAlloc *a, void *p);
void *rt_alloc_aligned(const RtAlloc *a, size_t n); /* zeroed, RT_ALIGN, RT_PAD */
void rt_free_aligned(const RtAlloc *a, void *p);
char *rt_strdup(const RtAlloc *a, const char *s);

/* ---- kernels (kernel.c) --------------------------------------------- */
struct OptrtKernel {
  const OptkDescriptor *d;
  void *dl;        /* dlopen handle or NULL */
  uint32_t needs;  /* d->needs plus what the plan shows */
};

size_t rt_dtype_size(int dtype);
const char *rt_dtype_name(int dtype);
/* Index of a hyper / buffer / scalar state by name, or -1. */
int rt_find_hyper(const OptkDescriptor *d, const char *name);
int rt_find_buffer(const OptkDescriptor *d, const char *name);
int rt_find_sstate(const OptkDescriptor *d, const char *name);

/* ---- optimizer ------------------------------------------------------ */
typedef struct RtTensor {
  float *p;
  const float *g;
  int64_t rows, cols, n; /* 1-D: rows = n, cols = 1 */
  bool is2d;
  uint64_t id;           /* global index in add order */
  int group, index;      /* where it lives */
  const double *hyper;   /* the group's hyper values (history sizes) */
  bool ready;            /* state allocated and initialised */
  void **buf;            /* [nbuf]: p, g, states, scratch */
  double *sstate, *slot, *red, *partial;
  int64_t nblocks;
} RtTensor;

typedef struct RtChunk {
  int32_t tensor; /* index within the group */
  int64_t begin, end;
} RtChunk;

typedef struct RtGroup {
  const OptrtKernel *k;
  const OptkDescriptor *d;
  double *hyper;
  RtTensor **t;
  int nt, cap;
  uint64_t step;
  bool guard;
  uint64_t skipped, last_skipped;
  int ls_status; /* last line search: 0 none, else 1 + RtLsResult */
  RtChunk *chunks; /* work items of a sweep over all tensors */
  int64_t nchunks; /* valid when chunks_for == nt */
  int chunks_for;
} RtGroup;

typedef struct RtPool RtPool;

struct Optrt {
  RtAlloc alloc;
  const OptrtKernel *k;
  OptrtConfig cfg;
  int threads;
  RtPool *pool;
  RtGroup **g;
  int ng, gcap;
  RtTensor **all; /* every tensor in global order */
  int nall, allcap;
  int64_t solve_fallbacks;
  char err[RT_ERR_MAX];
};

int rt_error(Optrt *o, const char *fmt, ...) RT_PRINTF(2, 3); /* returns -1 */
int rt_verror(Optrt *o, const char *fmt, va_list ap);
/* "group 1 (adamw)" style prefix for messages. */
const char *rt_group_label(const Optrt *o, int group, char *buf, size_t cap);

/* ---- state (state.c) -------------------------------------------------- */
/* Resolves a symbolic dim for a tensor. */
int64_t rt_dim(const RtTensor *t, int dim);
/* Elements of buffer b of kernel d for tensor t (a history's: times the
 * value of its count hyper); -1 when it does not fit an int64. */
int64_t rt_buf_count(const OptkDescriptor *d, int b, const RtTensor *t);
/* Resolved rows x cols of sweep domain `a` (optk.h, "Sweep domains"):
 * the tensor's for -1 and buffers shaped like p, else buffer a's dims. */
void rt_domain(const OptkDescriptor *d, int32_t a, const RtTensor *t, int64_t *rows,
               int64_t *cols);
/* True when domain a is the parameter itself. */
bool rt_param_domain(const OptkDescriptor *d, int32_t a);
/* OPTK_BLOCK blocks of domain a. */
int64_t rt_domain_blocks(const OptkDescriptor *d, int32_t a, const RtTensor *t);
/* Allocates state, scratch, slots and partials (zeroed); not initialised.
 * t->nblocks is the largest domain's block count. */
int rt_tensor_alloc_state(Optrt *o, const OptkDescriptor *d, RtTensor *t);
void rt_tensor_free_state(const RtAlloc *a, const OptkDescriptor *d, RtTensor *t);
void rt_tensor_free(const RtAlloc *a, const OptkDescriptor *d, RtTensor *t);

/* ---- threads (threads.c) ------------------------------------------- */
typedef void (*RtTaskFn)(void *ctx, int64_t task);
RtPool *rt_pool_create(const RtAlloc *a, int threads);
/* Runs fn(ctx, i) for i in [0, ntasks) on the pool and the caller. */
void rt_pool_run(RtPool *p, RtTaskFn fn, void *ctx, int64_t ntasks);
void rt_pool_destroy(RtPool *p);
/* OpenBLAS's own thread count, set to 1 around our steps. */
int rt_blas_threads_begin(void);
void rt_blas_threads_end(int saved);

/* ---- executor (exec.c) --------------------------------------------- */
typedef struct RtExec {
  Optrt *o;
  RtGroup *grp;
  int group;
  RtTensor **t; /* the tensors the plan runs over */
  int nt;
  const OptkOp *ops;
  int nops;
  double t_step; /* t seen by SCALAR functions */
  double f;      /* loss, NaN when none */
  const OptrtObjective *obj;
} RtExec;

int rt_exec_plan(RtExec *x);
int rt_group_chunks(Optrt *o, RtGroup *grp);

/* Elements per chunk of a sweep over `total` elements: cfg.chunk_elems
 * when set, else total / (RT_CHUNKS_PER_THREAD * threads) rounded up to
 * a block, within RT_CHUNK_{MIN,MAX}_BLOCKS: enough chunks for the
 * threads to share the work, few enough that each chunk's ending (the
 * loop's exit and the next call, which stall the memory streams) does not
 * show (64K-element chunks cost up to 2% at 16M and 64M elements on one
 * thread: docs/performance.md). */
enum { RT_CHUNK_MIN_BLOCKS = 16, RT_CHUNK_MAX_BLOCKS = 256, RT_CHUNKS_PER_THREAD = 8 };
#define RT_CHUNK_LIMIT ((int64_t)1 << 40) /* largest cfg.chunk_elems */
int64_t rt_chunk_elems(const Optrt *o, int64_t total);
/* 1 if a gradient of the group holds NaN/Inf, 0 if not, -1 on error. */
int rt_group_has_nonfinite(Optrt *o, RtGroup *grp);

/* ---- host calls and matrix ops ------------------------------------- */
/* One MATOP for one tensor; thread-safe (runs on pool workers): errors go
 * to err (RT_ERR_MAX bytes), SOLVE fall-backs are added to *fallbacks.
 * pair: NULL, or the plan's next op when rt_means_pair(op, pair): both
 * then run in one pass over their operand. */
int rt_matop(const OptkDescriptor *d, const OptkOp *op, const OptkOp *pair, const RtTensor *t,
             const RtAlloc *alloc, char *err, int64_t *fallbacks);
/* Whether op and the next op of the plan are a ROWMEAN and a COLMEAN of
 * one matrix (in either order) into two other buffers: the same results
 * from one read of it. */
bool rt_means_pair(const OptkOp *op, const OptkOp *next);
/* Checks a MATOP's shapes for one tensor; -1 with a message in o. */
int rt_matop_check(Optrt *o, const OptkDescriptor *d, const OptkOp *op, const RtTensor *t,
                   const char *label);
int rt_host_hvp(RtExec *x, const OptkOp *op);
/* OPTK_OP_HISTORY over the whole group (history.c). */
int rt_history(RtExec *x, const OptkOp *op);
int rt_host_gnb(RtExec *x, const OptkOp *op);
int rt_host_hessian(RtExec *x, const OptkOp *op);
int rt_host_linesearch(RtExec *x, const OptkOp *op);

/* ---- checkpoints (checkpoint.c writes, checkpoint_load.c reads) ----- */
#define RT_CKPT_MAGIC "OPTRTCKP"
#define RT_CKPT_VERSION 1u
#define RT_CKPT_HEADER 24  /* magic, version, section count, reserved, crc */
#define RT_SECTION_HEADER 16 /* tag, reserved, payload length */
enum { RT_TAG_OPTM = 0x4d54504fu, RT_TAG_GRUP = 0x50555247u, RT_TAG_TENS = 0x534e4554u,
       RT_TAG_END = 0x20444e45u }; /* "OPTM" "GRUP" "TENS" "END " little-endian */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32): table filled once per
 * save or load, kept by the caller. */
void rt_crc32_table(uint32_t table[256]);
uint32_t rt_crc32(const uint32_t table[256], uint32_t crc, const void *data, size_t n);
const char *rt_source_sha(const OptkDescriptor *d);

#endif

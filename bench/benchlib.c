/* benchlib.c: side-by-side measurement of a generated kernel, the
 * hand-written loop of the same rule and the bandwidth kernel of the same
 * traffic (see benchlib.h).  Repetitions are interleaved: one step of
 * each kernel per round, the order rotating from round to round, medians
 * over rounds.  All three run on the same memory: the generated side's p
 * and g and the runtime's own state arrays (which pages an array gets
 * moves a streaming kernel by up to 7% on the development machine, more
 * than the differences measured).  A round in which the process was
 * preempted (an involuntary context switch) is dropped. */
#define _POSIX_C_SOURCE 200809L
#include "benchlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "handwritten.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"
#include "util.h"

double bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bench_reexec_passive(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
}

void bench_options_init(BenchOptions *o) {
  memset(o, 0, sizeof *o);
  o->n = 16 << 20;
  o->threads = 1;
  o->min_seconds = 1.0;
  o->min_reps = 11;
  o->max_reps = 200;
}

static void set_err(char **err, const char *fmt, const char *arg) {
  Str s = {0};
  str_printf(&s, fmt, arg);
  *err = str_take(&s);
}

/* ---- traffic ---------------------------------------------------------- */

static void collect_diag(void *user, const Diag *d) {
  if (d->severity != DIAG_ERROR) return;
  Str *s = user;
  if (s->len == 0) str_puts(s, d->message);
}

static void count_stage(const IrProgram *prog, const IrStage *st, int *reads, int *writes) {
  int nbufs = prog->nbufs;
  bool *loaded = xcalloc((size_t)nbufs, sizeof(bool));
  bool *stored = xcalloc((size_t)nbufs, sizeof(bool));
  for (int i = 0; i < st->ninsts; i++) {
    const IrInst *in = &st->insts[i];
    if (in->op == IR_LOAD) loaded[in->index] = true;
    if (in->op == IR_STORE) stored[in->index] = true;
  }
  *reads = *writes = 0;
  for (int b = 0; b < nbufs; b++) {
    /* as optc info counts bytes: a factored rule's R and C are not streams */
    if (!ir_dims_param_shaped(prog->bufs[b].dim0, prog->bufs[b].dim1)) continue;
    *reads += loaded[b];
    *writes += stored[b];
  }
  free(loaded);
  free(stored);
}

int bench_traffic(const char *path, BenchTraffic *out, char **err) {
  SrcMgr sm;
  srcmgr_init(&sm);
  Str msg = {0};
  DiagSink diags;
  diag_init(&diags, &sm, collect_diag, &msg);
  SemaOptions sopts = {0};
  PipelineOptions popts = {0};
  IrProgram prog;
  memset(&prog, 0, sizeof prog);
  int rc = 0;
  memset(out, 0, sizeof *out);
  if (ir_pipeline_build_file(&prog, &sm, path, &diags, &sopts, &popts) != 0) {
    set_err(err, "%s", msg.len ? msg.data : "cannot build the rule");
    rc = -1;
  } else {
    for (int i = 0; i < prog.nstages && out->nsweeps < BENCH_MAX_SWEEPS; i++) {
      if (prog.stages[i].op.kind != OPTK_OP_SWEEP) continue;
      int *reads = &out->reads[out->nsweeps], *writes = &out->writes[out->nsweeps];
      count_stage(&prog, &prog.stages[i], reads, writes);
      if (*reads + *writes > 0) out->nsweeps++; /* else a sweep over R or C */
    }
    out->bytes_per_element = prog.bytes_per_element;
  }
  ir_program_free(&prog);
  str_free(&msg);
  srcmgr_free(&sm);
  return rc;
}

/* ---- buffers ----------------------------------------------------------- */

static float *alloc_floats(int64_t n, uint64_t seed, float scale) {
  size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
  float *a = aligned_alloc(64, bytes);
  if (!a) return NULL;
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    a[i] = scale * ((float)(x >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
  return a;
}

/* ---- hand-written side ------------------------------------------------- */

typedef struct HwRun {
  const char *name;
  float *p, *g, *m, *v;
  int64_t n;
  int threads;
  int t;
} HwRun;

bool bench_has_handwritten(const char *name) {
  static const char *const names[] = {"adam", "adamw", "lion", "lamb", "sgd", "adagrad"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  return false;
}

static HwScalars hw_scalars(const char *name, int t) {
  HwScalars s = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .wd = 0.0f};
  if (strcmp(name, "adamw") == 0) s.wd = 1e-2f;
  if (strcmp(name, "lion") == 0) s = (HwScalars){.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.99f};
  if (strcmp(name, "lamb") == 0) s.eps = 1e-6f;
  if (strcmp(name, "adagrad") == 0) s = (HwScalars){.lr = 1e-2f, .eps = 1e-10f};
  if (strcmp(name, "sgd") == 0) s = (HwScalars){.lr = 1e-3f, .momentum = 0.9f};
  s.step_size = (float)(s.lr / (1.0 - pow(s.beta1, t)));
  s.inv_bc2_sqrt = (float)(1.0 / sqrt(1.0 - pow(s.beta2, t)));
  return s;
}

static void hw_step(HwRun *r) {
  HwScalars s = hw_scalars(r->name, ++r->t);
  const char *nm = r->name;
  if (strcmp(nm, "adam") == 0) hw_adam(r->p, r->g, r->m, r->v, r->n, &s, r->threads);
  else if (strcmp(nm, "adamw") == 0) hw_adamw(r->p, r->g, r->m, r->v, r->n, &s, r->threads);
  else if (strcmp(nm, "lion") == 0) hw_lion(r->p, r->g, r->m, r->n, &s, r->threads);
  else if (strcmp(nm, "lamb") == 0) hw_lamb(r->p, r->g, r->m, r->v, r->n, &s, r->threads);
  else if (strcmp(nm, "sgd") == 0) hw_sgd_momentum(r->p, r->g, r->m, r->n, &s, r->threads);
  else if (strcmp(nm, "adagrad") == 0) hw_adagrad(r->p, r->g, r->m, r->n, &s, r->threads);
}

/* ---- bandwidth side ---------------------------------------------------- */

typedef struct BwRun {
  float *arr[4]; /* p, the rule's tensor states, g, then own arrays */
  const BenchTraffic *tr;
  int64_t n;
  int threads;
} BwRun;

/* A sweep with more than 4 reads or more writes than reads is run as
 * several kernels of at most 4 arrays: the time of a streaming kernel is
 * linear in the bytes it moves. */
static void bw_step(BwRun *r) {
  for (int s = 0; s < r->tr->nsweeps; s++) {
    int reads = r->tr->reads[s], writes = r->tr->writes[s];
    while (reads > 0 || writes > 0) {
      int nr = reads > 4 ? 4 : reads < 1 ? 1 : reads;
      int nw = writes > nr ? nr : writes < 1 ? 1 : writes;
      hw_bandwidth(r->arr, nr, nw, r->n, r->threads);
      reads -= nr;
      writes -= nw;
    }
  }
}

/* ---- generated side ------------------------------------------------------ */

typedef struct GenRun {
  OptcJit *jit;
  OptrtKernel *kernel;
  Optrt *opt;
  float *p, *g;
} GenRun;

static char *read_source(const char *path, size_t *len, char **err) {
  char *text;
  if (util_read_file(path, SRC_MAX_BYTES, &text, len, err) != 0) return NULL;
  return text;
}

static void gen_free(GenRun *r) {
  optrt_destroy(r->opt);
  optrt_kernel_close(r->kernel);
  optc_jit_free(r->jit);
  free(r->p);
  free(r->g);
}

static void first_error(void *user, const OptcDiagnostic *d) {
  Str *s = user;
  if (d->severity == OPTC_ERROR && s->len == 0) str_puts(s, d->rendered);
}

/* threads: OptcOptions.jit_threads (0: the default, one per CPU). */
static OptcJit *jit_at(const char *path, const char *text, size_t len, int level,
                       bool no_fp_contract, int threads, char **err) {
  OptcOptions o;
  optc_options_init(&o);
  o.opt_level = level;
  o.no_fp_contract = no_fp_contract;
  o.jit_threads = threads;
  Str msg = {0};
  o.diag = first_error;
  o.diag_user = &msg;
  OptcJit *jit = optc_jit_compile(path, text, len, &o);
  if (!jit) *err = msg.len ? str_take(&msg) : xstrdup("compilation failed");
  str_free(&msg);
  return jit;
}

static int apply_sets(Optrt *opt, const char *const *sets, char **err) {
  for (int i = 0; sets && sets[i]; i++) {
    const char *eq = strchr(sets[i], '=');
    if (!eq) {
      set_err(err, "bad setting '%s' (expected NAME=VALUE)", sets[i]);
      return -1;
    }
    char *name = xstrndup(sets[i], (size_t)(eq - sets[i]));
    int rc = optrt_set_hyper(opt, 0, name, strtod(eq + 1, NULL));
    free(name);
    if (rc != 0) {
      set_err(err, "%s", optrt_last_error(opt));
      return -1;
    }
  }
  return 0;
}

static int gen_setup(GenRun *r, const char *path, const BenchOptions *o, int64_t *sizes,
                     int ntensors, char **err) {
  memset(r, 0, sizeof *r);
  size_t len;
  char *text = read_source(path, &len, err);
  if (!text) return -1;
  r->jit = jit_at(path, text, len, 2, o->no_fp_contract, 0, err);
  free(text);
  if (!r->jit) return -1;
  r->kernel = optrt_wrap_descriptor(optc_jit_descriptor(r->jit), err);
  if (!r->kernel) return -1;
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = o->threads;
  r->opt = optrt_create(r->kernel, &cfg, err);
  if (!r->opt || optrt_add_group(r->opt, NULL) < 0) return -1;
  int64_t total = 0;
  for (int i = 0; i < ntensors; i++) total += sizes[i];
  r->p = alloc_floats(total, 1, 1.0f);
  r->g = alloc_floats(total, 2, 1e-2f);
  if (!r->p || !r->g) {
    *err = xstrdup("out of memory");
    return -1;
  }
  int64_t off = 0;
  for (int i = 0; i < ntensors; i++) {
    int64_t rows = o->cols > 0 ? sizes[i] / o->cols : sizes[i];
    if (optrt_add_param(r->opt, 0, r->p + off, r->g + off, rows, o->cols) < 0) {
      set_err(err, "%s", optrt_last_error(r->opt));
      return -1;
    }
    off += sizes[i];
  }
  if (apply_sets(r->opt, o->sets, err) != 0) return -1;
  for (int w = 0; w < 2; w++)
    if (optrt_step(r->opt) != 0) {
      set_err(err, "%s", optrt_last_error(r->opt));
      return -1;
    }
  return 0;
}

/* ---- timing -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median over rounds of other[i] / gen[i]: each round's kernels ran back
 * to back, so a round's ratio is unaffected by how busy the machine was
 * over the whole run, which moves every kernel of the round alike.  *lo
 * and *hi: its 95% confidence interval. */
static double paired_ratio(const double *other, const double *gen, int n, double *lo,
                           double *hi) {
  double *q = xcalloc((size_t)n + 1, sizeof *q);
  for (int i = 0; i < n; i++) q[i] = other[i] / gen[i];
  double m = median(q, n);
  bench_median_ci(q, n, lo, hi); /* q is sorted now */
  free(q);
  return m;
}

typedef struct Rounds {
  double *gen, *hw, *bw;
  int n;
} Rounds;

static long preemptions(void) {
  struct rusage u;
  return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_nivcsw : 0;
}

/* One step of kernel k (0 generated, 1 hand-written, 2 bandwidth); its
 * time in ms, or -1 on error. */
static double time_kernel(int k, GenRun *gen, HwRun *hw, BwRun *bw, char **err) {
  double t0 = bench_now_ms();
  if (k == 0 && optrt_step(gen->opt) != 0) {
    set_err(err, "%s", optrt_last_error(gen->opt));
    return -1;
  }
  if (k == 1 && hw) hw_step(hw);
  if (k == 2) bw_step(bw);
  return bench_now_ms() - t0;
}

/* Rounds until min_seconds and min_reps clean (unpreempted) rounds, at
 * most max_reps clean ones, 10 * max_reps in all and, once min_reps
 * rounds of any kind ran, 20 * min_seconds; if fewer than min_reps are
 * clean, the preempted ones are kept too. */
static int run_rounds(GenRun *gen, HwRun *hw, BwRun *bw, const BenchOptions *o,
                      Rounds *r, char **err) {
  int cap = 10 * o->max_reps, dirty = 0;
  r->gen = xcalloc((size_t)cap, sizeof(double));
  r->hw = xcalloc((size_t)cap, sizeof(double));
  r->bw = xcalloc((size_t)cap, sizeof(double));
  double start = bench_now_ms();
  for (int round = 0; round < cap && r->n < o->max_reps; round++) {
    double spent = bench_now_ms() - start;
    if (r->n >= o->min_reps && spent > o->min_seconds * 1e3) break;
    if (round >= o->min_reps && spent > 20 * o->min_seconds * 1e3) break;
    double ms[3];
    long before = preemptions();
    for (int q = 0; q < 3; q++) {
      int k = (round + q) % 3;
      if ((ms[k] = time_kernel(k, gen, hw, bw, err)) < 0) return -1;
    }
    int at = preemptions() == before ? r->n++ : cap - 1 - dirty++;
    r->gen[at] = ms[0], r->hw[at] = ms[1], r->bw[at] = ms[2];
  }
  if (r->n < o->min_reps) { /* too busy a machine: take every round */
    for (int i = 0; i < dirty; i++) {
      r->gen[r->n + i] = r->gen[cap - 1 - i];
      r->hw[r->n + i] = r->hw[cap - 1 - i];
      r->bw[r->n + i] = r->bw[cap - 1 - i];
    }
    r->n += dirty;
  }
  return 0;
}

static void rounds_free(Rounds *r) {
  free(r->gen);
  free(r->hw);
  free(r->bw);
}

/* Arrays of the generated side: p, its f32 tensor states of p's size in
 * descriptor order (at most 2), g.  Returns how many. */
static int gen_arrays(GenRun *gen, int64_t n, float **out) {
  const OptkDescriptor *d = optc_jit_descriptor(gen->jit);
  int k = 0;
  out[k++] = gen->p;
  for (uint32_t b = 2; b < d->nbuf && k < 3; b++) {
    OptkDType dt;
    int64_t count = 0;
    if (d->bufs[b].role != OPTK_BUF_STATE) continue;
    float *a = optrt_state_data(gen->opt, 0, 0, d->bufs[b].name, &dt, &count);
    if (a && dt == OPTK_F32 && count == n) out[k++] = a;
  }
  out[k++] = gen->g;
  return k;
}

/* The hand-written loop and the bandwidth kernel run on the generated
 * side's arrays; arrays it lacks are allocated into own[]. */
static int alloc_sides(GenRun *gen, HwRun *hw, BwRun *bw, const char *name,
                       const BenchOptions *o, const BenchTraffic *tr, float **own) {
  float *a[4];
  int k = gen_arrays(gen, o->n, a), nown = 0;
  *bw = (BwRun){.tr = tr, .n = o->n, .threads = o->threads};
  for (int i = 0; i < 4; i++) {
    bw->arr[i] = i < k ? a[i] : (own[nown++] = alloc_floats(o->n, 10 + (uint64_t)i, 1.0f));
    if (!bw->arr[i]) return -1;
  }
  if (!hw) return 0;
  *hw = (HwRun){.name = name, .n = o->n, .threads = o->threads, .p = gen->p, .g = gen->g};
  hw->m = k > 2 ? a[1] : (own[nown++] = alloc_floats(o->n, 3, 0.0f));
  hw->v = k > 3 ? a[2] : (own[nown++] = alloc_floats(o->n, 4, 0.0f));
  return hw->m && hw->v ? 0 : -1;
}

int bench_measure(const char *path, const BenchOptions *o, BenchRow *row, char **err) {
  BenchTraffic tr;
  if (bench_traffic(path, &tr, err) != 0) return -1;
  GenRun gen;
  HwRun hw = {0};
  BwRun bw = {0};
  Rounds r = {0};
  float *own[6] = {0};
  int64_t n = o->n;
  int rc = gen_setup(&gen, path, o, &n, 1, err);
  const char *name = rc == 0 ? optc_jit_descriptor(gen.jit)->name : "";
  HwRun *hwp = bench_has_handwritten(name) ? &hw : NULL;
  if (rc == 0 && alloc_sides(&gen, hwp, &bw, name, o, &tr, own) != 0) {
    *err = xstrdup("out of memory");
    rc = -1;
  }
  if (rc == 0) rc = run_rounds(&gen, hwp, &bw, o, &r, err);
  if (rc == 0) {
    *row = (BenchRow){.n = o->n, .cols = o->cols, .threads = o->threads,
                      .bytes_per_element = tr.bytes_per_element, .sweeps = tr.nsweeps,
                      .reps = r.n};
    snprintf(row->rule, sizeof row->rule, "%s", o->rule_label ? o->rule_label : name);
    row->to_bw = paired_ratio(r.bw, r.gen, r.n, &row->to_bw_lo, &row->to_bw_hi);
    row->to_hw = row->to_hw_lo = row->to_hw_hi = NAN;
    if (hwp) row->to_hw = paired_ratio(r.hw, r.gen, r.n, &row->to_hw_lo, &row->to_hw_hi);
    row->gen_ms = median(r.gen, r.n); /* (sorts: after the paired ratios) */
    row->hw_ms = hwp ? median(r.hw, r.n) : -1;
    row->bw_ms = median(r.bw, r.n);
  }
  for (int i = 0; i < 6; i++) free(own[i]);
  rounds_free(&r);
  gen_free(&gen);
  return rc;
}

/* ---- JIT clock ------------------------------------------------------------- */

static int time_jit(const char *path, const char *text, size_t len, int level, int threads,
                    int reps, double *out, char **err) {
  double *ms = xcalloc((size_t)reps + 1, sizeof(double));
  for (int i = 0; i <= reps; i++) {
    double t0 = bench_now_ms();
    OptcJit *jit = jit_at(path, text, len, level, false, threads, err);
    if (!jit) {
      free(ms);
      return -1;
    }
    ms[i] = bench_now_ms() - t0;
    optc_jit_free(jit);
  }
  *out = median(ms + 1, reps); /* the first compile warms caches: dropped */
  free(ms);
  return 0;
}

int bench_jit_clock(const char *path, int reps, BenchJit *j, char **err) {
  size_t len;
  char *text = read_source(path, &len, err);
  if (!text) return -1;
  int rc = time_jit(path, text, len, 0, 0, reps, &j->ms_o0, err);
  if (rc == 0) rc = time_jit(path, text, len, 2, 0, reps, &j->ms_o2, err);
  if (rc == 0) rc = time_jit(path, text, len, 2, 1, reps, &j->ms_o2_one, err);
  free(text);
  return rc;
}

/* ---- many small tensors ------------------------------------------------------ */

static double time_steps(Optrt *opt, int reps, char **err) {
  double *ms = xcalloc((size_t)reps, sizeof(double));
  for (int i = 0; i < reps; i++) {
    double t0 = bench_now_ms();
    if (optrt_step(opt) != 0) {
      set_err(err, "%s", optrt_last_error(opt));
      free(ms);
      return -1;
    }
    ms[i] = bench_now_ms() - t0;
  }
  double m = median(ms, reps);
  free(ms);
  return m;
}

int bench_small_tensors(const char *path, int tensors, int threads, BenchSmall *out,
                        char **err) {
  int64_t *sizes = xcalloc((size_t)tensors, sizeof(int64_t));
  int64_t total = 0;
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int i = 0; i < tensors; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double u = (double)(x >> 11) / 9007199254740992.0;
    sizes[i] = (int64_t)(1000.0 * pow(100.0, u)); /* log-uniform 1e3..1e5 */
    total += sizes[i];
  }
  BenchOptions o;
  bench_options_init(&o);
  o.threads = threads;
  GenRun small, large;
  int rc = gen_setup(&small, path, &o, sizes, tensors, err);
  if (rc == 0) rc = gen_setup(&large, path, &o, &total, 1, err);
  else memset(&large, 0, sizeof large);
  double small_ms = -1, large_ms = -1;
  for (int round = 0; rc == 0 && round < 3; round++) { /* interleave, keep best medians */
    double s = time_steps(small.opt, 5, err), l = time_steps(large.opt, 5, err);
    if (s < 0 || l < 0) rc = -1;
    if (small_ms < 0 || s < small_ms) small_ms = s;
    if (large_ms < 0 || l < large_ms) large_ms = l;
  }
  if (rc == 0) {
    *out = (BenchSmall){.threads = threads, .tensors = tensors, .elements = total,
                        .ms = small_ms, .large_ms = large_ms};
    snprintf(out->rule, sizeof out->rule, "%s", optc_jit_descriptor(small.jit)->name);
  }
  gen_free(&small);
  gen_free(&large);
  free(sizes);
  return rc;
}

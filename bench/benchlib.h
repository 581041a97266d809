/* benchlib.h: measuring one generated kernel side by side with the
 * hand-written loop of the same rule and the memory-bandwidth kernel for
 * the same traffic, in one process, repetitions interleaved so that noise
 * on a shared machine hits all three alike.  Used by bench/bench_main.c
 * (`make bench`) and by `optc bench`. */
#ifndef OPTC_BENCHLIB_H
#define OPTC_BENCHLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "report.h"

/* Reads and writes of p-sized arrays of each sweep of a rule that moves
 * any, in plan order. */
enum { BENCH_MAX_SWEEPS = 8 };
typedef struct BenchTraffic {
  int nsweeps;
  int reads[BENCH_MAX_SWEEPS], writes[BENCH_MAX_SWEEPS];
  int bytes_per_element; /* as optc info counts it */
} BenchTraffic;

/* Builds `path` through the compiler pipeline and counts the buffers each
 * sweep loads and stores.  -1 and *err (malloc'd) on error. */
int bench_traffic(const char *path, BenchTraffic *out, char **err);

/* Hand-written loops exist for these optimizer names: adam, adamw, lion,
 * lamb, sgd (with momentum), adagrad. */
bool bench_has_handwritten(const char *name);

typedef struct BenchOptions {
  int64_t n;
  int64_t cols;       /* 0: p is a vector of n; else n / cols rows of cols */
  int threads;
  double min_seconds; /* keep repeating each kernel until this much time */
  int min_reps, max_reps;
  const char *rule_label; /* NULL: the optimizer's name */
  const char *const *sets; /* "name=value" hyper settings, NULL-terminated */
  bool no_fp_contract;     /* compile without fused multiply-add */
} BenchOptions;

void bench_options_init(BenchOptions *o);

/* Measures the rule in `path` (JIT at -O2, run through liboptrt on one
 * tensor of o->n floats, a matrix of o->cols columns if that is not 0), its hand-written loop when it has one, and the
 * bandwidth kernel of its traffic, all three on the same arrays (p, g and
 * the runtime's tensor states; own arrays only where the rule has fewer).
 * Fills `row`. */
int bench_measure(const char *path, const BenchOptions *o, BenchRow *row, char **err);

/* Median JIT time (source text to descriptor) over `reps` compiles after
 * one warm-up, in this process: at -O0 and -O2 with the default code
 * generation threads, and at -O2 on one thread (j->ms_o0, ms_o2,
 * ms_o2_one; j->rule and aot_ms are the caller's). */
int bench_jit_clock(const char *path, int reps, BenchJit *j, char **err);

/* One step over `tensors` tensors of 1000 to 100000 elements (a fixed
 * log-uniform draw) against one tensor of the same total size. */
int bench_small_tensors(const char *path, int tensors, int threads, BenchSmall *out,
                        char **err);

double bench_now_ms(void);

/* OpenMP's threads spin for a while after each parallel region, which on a
 * small machine steals the cores the runtime's pool is about to use (and
 * the other way round), so every measurement would be of the interference.
 * libgomp reads OMP_WAIT_POLICY once, when it is loaded: if it is unset,
 * this sets it to PASSIVE and re-executes the program with `argv`
 * (argv[0] is replaced by /proc/self/exe).  Returns only if it did not
 * need to, or could not. */
void bench_reexec_passive(char **argv);

#endif

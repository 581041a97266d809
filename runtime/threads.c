/* threads.c: a fixed pool of pthreads that runs one parallel region at a
 * time.  The caller of rt_pool_run takes part; tasks are handed out by an
 * atomic counter, so which thread runs a task varies between runs, and
 * every task must therefore write only its own outputs (sweeps write
 * their own blocks' partials; determinism comes from the fixed order of
 * COMBINE, never from the schedule).
 *
 * OpenBLAS keeps its own threads, which spin after a call; while a step
 * runs we set them to one so the two pools never compete, and restore
 * the host's setting afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <cblas.h>

#include "rt_internal.h"

struct RtPool {
  RtAlloc alloc;
  int nworkers; /* threads besides the caller */
  pthread_t *tid;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  uint64_t generation;
  bool shutdown;
  int running; /* workers still inside the current region */
  RtTaskFn fn;
  void *ctx;
  int64_t ntasks;
  atomic_llong next;
};

static void drain(RtPool *p) {
  for (;;) {
    long long i = atomic_fetch_add(&p->next, 1);
    if (i >= p->ntasks) return;
    p->fn(p->ctx, i);
  }
}

static void *worker(void *arg) {
  RtPool *p = arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
    if (p->shutdown) break;
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    drain(p);
    pthread_mutex_lock(&p->mu);
    if (--p->running == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static void stop_workers(RtPool *p, int started) {
  pthread_mutex_lock(&p->mu);
  p->shutdown = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < started; i++) pthread_join(p->tid[i], NULL);
}

RtPool *rt_pool_create(const RtAlloc *a, int threads) {
  RtPool *p = rt_calloc(a, 1, sizeof *p);
  if (!p) return NULL;
  p->alloc = *a;
  p->nworkers = threads > 1 ? threads - 1 : 0;
  p->tid = rt_calloc(a, (size_t)p->nworkers + 1, sizeof(pthread_t));
  if (!p->tid) {
    rt_free(a, p);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  atomic_init(&p->next, 0);
  for (int i = 0; i < p->nworkers; i++) {
    if (pthread_create(&p->tid[i], NULL, worker, p) != 0) {
      p->nworkers = i;
      rt_pool_destroy(p);
      return NULL;
    }
  }
  return p;
}

void rt_pool_run(RtPool *p, RtTaskFn fn, void *ctx, int64_t ntasks) {
  if (ntasks <= 0) return;
  if (p->nworkers == 0 || ntasks == 1) {
    for (int64_t i = 0; i < ntasks; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->ntasks = ntasks;
  atomic_store(&p->next, 0);
  p->running = p->nworkers;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  drain(p);
  pthread_mutex_lock(&p->mu);
  while (p->running > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void rt_pool_destroy(RtPool *p) {
  if (!p) return;
  stop_workers(p, p->nworkers);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  RtAlloc a = p->alloc;
  rt_free(&a, p->tid);
  rt_free(&a, p);
}

int rt_blas_threads_begin(void) {
  int saved = openblas_get_num_threads();
  if (saved != 1) openblas_set_num_threads(1);
  return saved;
}

void rt_blas_threads_end(int saved) {
  if (saved != 1) openblas_set_num_threads(saved);
}

/* rt_checkpoint.c: checkpoints.  Resume equality (save at step k, load
 * into a fresh optimizer, continue: bit-identical to the uninterrupted
 * run), every byte flipped and every truncation rejected with the
 * optimizer unchanged, wrong version, different rule / shape / counts,
 * failing writes (missing directory, /proc, a file-size limit as a full
 * disk) leaving the old file and no temporary behind. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "hand_kernels.h"
#include "optrt.h"
#include "rt_util.h"

/* The world of one test: two groups (clip on a 2-D and a 1-D tensor,
 * sgdm_bf16 on a 1-D tensor) with their host buffers. */
enum { NA = 6000, NB = 9, NC = 300 };
typedef struct World {
  OptrtKernel *kc, *kb;
  Optrt *o;
  float pa[NA], ga[NA], pb[NB], gb[NB], pc[NC], gc[NC];
} World;

static World *world(void) {
  World *w = calloc(1, sizeof *w);
  w->kc = optrt_wrap_descriptor(&hk_clip, NULL);
  w->kb = optrt_wrap_descriptor(&hk_sgdm_bf16, NULL);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 2;
  w->o = optrt_create(w->kc, &cfg, NULL);
  rtu_fill(w->pa, NA, 1);
  rtu_fill(w->pb, NB, 2);
  rtu_fill(w->pc, NC, 3);
  int g0 = optrt_add_group(w->o, NULL), g1 = optrt_add_group(w->o, w->kb);
  assert_int_equal(optrt_add_param(w->o, g0, w->pa, w->ga, 60, 100), 0);
  assert_int_equal(optrt_add_param(w->o, g0, w->pb, w->gb, NB, 0), 1);
  assert_int_equal(optrt_add_param(w->o, g1, w->pc, w->gc, NC, 0), 0);
  optrt_set_hyper(w->o, g0, "maxnorm", 3.0);
  optrt_set_hyper(w->o, g1, "mu", 0.5);
  optrt_set_nonfinite_guard(w->o, g1, 1);
  return w;
}

static void world_free(World *w) {
  optrt_destroy(w->o);
  optrt_kernel_close(w->kc);
  optrt_kernel_close(w->kb);
  free(w);
}

static void world_step(World *w, int s) {
  rtu_fill(w->ga, NA, 100 + (uint64_t)s);
  rtu_fill(w->gb, NB, 200 + (uint64_t)s);
  rtu_fill(w->gc, NC, 300 + (uint64_t)s);
  if (s == 3) w->gc[5] = NAN; /* group 1 skips step 3 */
  assert_int_equal(optrt_step(w->o), 0);
}

/* Everything the optimizer holds, as bytes (growing buffer). */
typedef struct Snap {
  unsigned char *b;
  size_t n;
} Snap;

static void snap_put(Snap *s, const void *d, size_t n) {
  s->b = realloc(s->b, s->n + n);
  memcpy(s->b + s->n, d, n);
  s->n += n;
}

static Snap snapshot(World *w) {
  static const char *hyper[2][2] = {{"lr", "maxnorm"}, {"lr", "mu"}};
  Snap s = {NULL, 0};
  for (int gi = 0; gi < 2; gi++) {
    int64_t v[3] = {0, 0, 0};
    v[0] = optrt_step_count(w->o, gi);
    v[1] = optrt_skipped_steps(w->o, gi, &v[2]);
    snap_put(&s, v, sizeof v);
    for (int h = 0; h < 2; h++) {
      double x = 0;
      optrt_get_hyper(w->o, gi, hyper[gi][h], &x);
      snap_put(&s, &x, 8);
    }
  }
  const char *names[3] = {"u", "u", "m"};
  int groups[3] = {0, 0, 1}, params[3] = {0, 1, 0};
  size_t esize[3] = {8, 8, 2};
  for (int i = 0; i < 3; i++) {
    int64_t count = 0;
    void *d = optrt_state_data(w->o, groups[i], params[i], names[i], NULL, &count);
    snap_put(&s, &count, 8);
    if (d) snap_put(&s, d, (size_t)count * esize[i]);
    double calls = -1;
    if (groups[i] == 0) optrt_scalar_state(w->o, 0, params[i], "calls", &calls);
    snap_put(&s, &calls, 8);
  }
  snap_put(&s, w->pa, sizeof w->pa);
  return s;
}

static void assert_snap_equal(Snap a, Snap b) {
  assert_int_equal(a.n, b.n);
  assert_memory_equal(a.b, b.b, a.n);
}

typedef struct Paths {
  char dir[128], ck[256], other[256];
} Paths;

static Paths paths(void) {
  Paths p;
  rtu_tmpdir(p.dir, sizeof p.dir, "ck");
  snprintf(p.ck, sizeof p.ck, "%s/opt.ckpt", p.dir);
  snprintf(p.other, sizeof p.other, "%s/other.ckpt", p.dir);
  return p;
}

static void paths_done(Paths *p) {
  unlink(p->ck);
  unlink(p->other);
  rmdir(p->dir);
}

static void test_resume_bit_identical(void **state) {
  Paths ps = paths();
  World *a = world();
  for (int s = 1; s <= 8; s++) world_step(a, s);
  World *b = world();
  for (int s = 1; s <= 4; s++) world_step(b, s);
  assert_int_equal(optrt_save(b->o, ps.ck), 0);
  World *c = world(); /* fresh optimizer, host restores its own p */
  memcpy(c->pa, b->pa, sizeof c->pa);
  memcpy(c->pb, b->pb, sizeof c->pb);
  memcpy(c->pc, b->pc, sizeof c->pc);
  optrt_set_hyper(c->o, 0, "maxnorm", 1.0); /* overwritten by the load */
  assert_int_equal(optrt_load(c->o, ps.ck), 0);
  assert_int_equal(optrt_step_count(c->o, 1), 3);
  for (int s = 5; s <= 8; s++) world_step(c, s);
  Snap sa = snapshot(a), sc = snapshot(c);
  assert_snap_equal(sa, sc);
  assert_memory_equal(a->pb, c->pb, sizeof a->pb);
  assert_memory_equal(a->pc, c->pc, sizeof a->pc);
  int64_t last = 0;
  assert_int_equal(optrt_skipped_steps(c->o, 1, &last), 1);
  assert_int_equal(last, 3);
  free(sa.b);
  free(sc.b);
  world_free(a);
  world_free(b);
  world_free(c);
  paths_done(&ps);
}

/* Loads each damaged file into w, which must fail and change nothing. */
static void expect_reject(World *w, const char *path, const char *text) {
  Snap before = snapshot(w);
  assert_int_equal(optrt_load(w->o, path), -1);
  if (text && !strstr(optrt_last_error(w->o), text))
    fail_msg("'%s' lacks '%s'", optrt_last_error(w->o), text);
  assert_non_null(strstr(optrt_last_error(w->o), "the optimizer is unchanged"));
  Snap after = snapshot(w);
  assert_snap_equal(before, after);
  free(before.b);
  free(after.b);
}

static void test_corrupt_and_truncated(void **state) {
  Paths ps = paths();
  World *w = world();
  world_step(w, 1);
  world_step(w, 2);
  assert_int_equal(optrt_save(w->o, ps.ck), 0);
  world_step(w, 3); /* now the file differs from the optimizer */
  size_t len = 0;
  unsigned char *good = rtu_read(ps.ck, &len);
  assert_non_null(good);
  unsigned char *bad = malloc(len);
  /* every byte of the headers, the small sections and the tail (END and
   * the last tensor), every 97th byte of the data between */
  for (size_t i = 0; i < len; i += (i < 600 || i > len - 400) ? 1 : 97) {
    memcpy(bad, good, len);
    bad[i] ^= 0x40;
    assert_int_equal(rtu_write(ps.other, bad, len), 0);
    expect_reject(w, ps.other, NULL);
  }
  for (size_t cut = 0; cut < len; cut += (cut < 600 || cut > len - 400) ? 1 : 89) {
    assert_int_equal(rtu_write(ps.other, good, cut), 0);
    expect_reject(w, ps.other, cut < 24 ? "shorter than the header" : "truncated");
  }
  memcpy(bad, good, len);
  bad[100] ^= 1;
  rtu_write(ps.other, bad, len);
  expect_reject(w, ps.other, "checksum mismatch (file corrupt)");
  memcpy(bad, good, len);
  bad[0] = 'X';
  rtu_write(ps.other, bad, len);
  expect_reject(w, ps.other, "not an optrt checkpoint (bad magic)");
  unsigned char *longer = malloc(len + 3);
  memcpy(longer, good, len);
  memset(longer + len, 0, 3);
  rtu_write(ps.other, longer, len + 3);
  expect_reject(w, ps.other, "3 trailing bytes after the last section");
  expect_reject(w, "/nonexistent/dir/ck", "No such file or directory");
  expect_reject(w, ps.dir, "Is a directory");
  assert_int_equal(optrt_load(w->o, ps.ck), 0); /* the intact file loads */
  assert_int_equal(optrt_step_count(w->o, 0), 2);
  free(longer);
  free(good);
  free(bad);
  world_free(w);
  paths_done(&ps);
}

/* Independent CRC-32 (bitwise) to forge a header. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static void test_version_and_crc(void **state) {
  assert_int_equal(crc32_bitwise((const unsigned char *)"123456789", 9), 0xcbf43926u);
  Paths ps = paths();
  World *w = world();
  world_step(w, 1);
  optrt_save(w->o, ps.ck);
  size_t len = 0;
  unsigned char *b = rtu_read(ps.ck, &len);
  assert_memory_equal(b, "OPTRTCKP\x01\0\0\0", 12);
  uint32_t crc = crc32_bitwise(b, 20);
  assert_memory_equal(b + 20, &crc, 4); /* the header CRC is standard CRC-32 */
  b[8] = 2;
  crc = crc32_bitwise(b, 20);
  memcpy(b + 20, &crc, 4);
  rtu_write(ps.other, b, len);
  expect_reject(w, ps.other, "format version 2, this runtime reads version 1");
  free(b);
  world_free(w);
  paths_done(&ps);
}

static void test_mismatched_optimizers(void **state) {
  Paths ps = paths();
  World *w = world();
  world_step(w, 1);
  optrt_save(w->o, ps.ck);
  /* a different rule in group 0 */
  OptrtKernel *ka = optrt_wrap_descriptor(&hk_adam, NULL);
  Optrt *o = optrt_create(ka, NULL, NULL);
  float p[NA], g[NA];
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 60, 100);
  optrt_add_param(o, 0, p, g, NB, 0);
  optrt_add_param(o, optrt_add_group(o, w->kb), p, g, NC, 0);
  assert_int_equal(optrt_load(o, ps.ck), -1);
  assert_non_null(strstr(optrt_last_error(o), "group 0 was written by a different rule or source than 'adam'"));
  optrt_destroy(o);
  /* counts */
  o = optrt_create(w->kc, NULL, NULL);
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 60, 100);
  assert_int_equal(optrt_load(o, ps.ck), -1);
  assert_non_null(strstr(optrt_last_error(o), "it holds 2 groups and 3 parameters, this optimizer has 1 groups and 1 parameters"));
  optrt_destroy(o);
  /* shape: 100 x 60 instead of 60 x 100, and 1-D instead of 2-D */
  for (int variant = 0; variant < 2; variant++) {
    o = optrt_create(w->kc, NULL, NULL);
    optrt_add_param(o, optrt_add_group(o, NULL), p, g, variant ? NA : 100, variant ? 0 : 60);
    optrt_add_param(o, 0, p, g, NB, 0);
    optrt_add_param(o, optrt_add_group(o, w->kb), p, g, NC, 0);
    assert_int_equal(optrt_load(o, ps.ck), -1);
    assert_non_null(strstr(optrt_last_error(o), variant ? "group 0 parameter 0 is 60 x 100 in the checkpoint, 6000 x 0 here"
                                                        : "group 0 parameter 0 is 60 x 100 in the checkpoint, 100 x 60 here"));
    assert_int_equal(optrt_step_count(o, 0), 0);
    optrt_destroy(o);
  }
  optrt_kernel_close(ka);
  world_free(w);
  paths_done(&ps);
}

static void test_load_before_and_after_first_step(void **state) {
  Paths ps = paths();
  World *w = world();
  assert_int_equal(optrt_save(w->o, ps.ck), 0); /* no state yet */
  world_step(w, 1);
  assert_int_equal(optrt_load(w->o, ps.ck), 0);
  assert_int_equal(optrt_step_count(w->o, 0), 0);
  assert_null(optrt_state_data(w->o, 0, 0, "u", NULL, NULL));
  World *v = world();
  world_step(v, 1);
  optrt_save(v->o, ps.other);
  World *fresh = world(); /* loading state into an optimizer without any */
  assert_int_equal(optrt_load(fresh->o, ps.other), 0);
  memcpy(fresh->pa, v->pa, sizeof v->pa); /* p is the host's, not in the file */
  Snap a = snapshot(v), b = snapshot(fresh);
  assert_snap_equal(a, b);
  free(a.b);
  free(b.b);
  world_free(w);
  world_free(v);
  world_free(fresh);
  paths_done(&ps);
}

static int leftovers(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += strstr(e->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

static void test_failing_writes(void **state) {
  Paths ps = paths();
  World *w = world();
  world_step(w, 1);
  assert_int_equal(optrt_save(w->o, "/nonexistent/dir/x.ckpt"), -1);
  assert_string_equal(optrt_last_error(w->o), "cannot write checkpoint '/nonexistent/dir/x.ckpt': "
                                              "cannot create a temporary file: No such file or directory");
  assert_int_equal(optrt_save(w->o, "/proc/optrt.ckpt"), -1);
  assert_non_null(strstr(optrt_last_error(w->o), "cannot create a temporary file"));
  assert_int_equal(optrt_save(w->o, ps.ck), 0);
  size_t len = 0;
  unsigned char *before = rtu_read(ps.ck, &len);
  world_step(w, 2);
  /* a full disk: the file-size limit makes write(2) fail with EFBIG */
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = 4096;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = optrt_save(w->o, ps.ck);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(optrt_last_error(w->o), "write failed: File too large"));
  size_t len2 = 0;
  unsigned char *after = rtu_read(ps.ck, &len2);
  assert_int_equal(len, len2);
  assert_memory_equal(before, after, len);
  assert_int_equal(leftovers(ps.dir), 0);
  assert_int_equal(optrt_save(w->o, ""), -1);
  free(before);
  free(after);
  world_free(w);
  paths_done(&ps);
}

/* Random tensors: the seed travels in the checkpoint, so a fresh
 * optimizer made with another seed resumes the same random stream. */
static void noise_run(uint64_t seed, int threads, float *p, int from, int to, const char *load,
                      const char *save) {
  OptrtKernel *k = optrt_wrap_descriptor(&hk_noise, NULL);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.seed = seed;
  cfg.threads = threads;
  cfg.chunk_elems = 4096;
  Optrt *o = optrt_create(k, &cfg, NULL);
  static float g[20000];
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 20000, 0);
  if (load) assert_int_equal(optrt_load(o, load), 0);
  for (int s = from; s < to; s++) {
    rtu_fill(g, 20000, 400 + (uint64_t)s);
    assert_int_equal(optrt_step(o), 0);
  }
  if (save) assert_int_equal(optrt_save(o, save), 0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_seed_in_checkpoint(void **state) {
  Paths ps = paths();
  static float a[20000], b[20000], c[20000];
  rtu_fill(a, 20000, 1);
  memcpy(b, a, sizeof a);
  memcpy(c, a, sizeof a);
  noise_run(5, 1, a, 0, 6, NULL, NULL);
  noise_run(5, 3, b, 0, 3, NULL, ps.ck);
  noise_run(999, 2, b, 3, 6, ps.ck, NULL);
  assert_memory_equal(a, b, sizeof a);
  noise_run(6, 1, c, 0, 6, NULL, NULL); /* another seed: another run */
  assert_memory_not_equal(a, c, sizeof a);
  paths_done(&ps);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_bit_identical),
      cmocka_unit_test(test_corrupt_and_truncated),
      cmocka_unit_test(test_version_and_crc),
      cmocka_unit_test(test_mismatched_optimizers),
      cmocka_unit_test(test_load_before_and_after_first_step),
      cmocka_unit_test(test_failing_writes),
      cmocka_unit_test(test_seed_in_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

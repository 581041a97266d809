/* task.c: the task registry, option parsing, and the public entry points
 * of optrt_tasks.h over the kinds' flat double functions.
 *
 * Options are "key=value" pairs separated by commas; a value is a number
 * (strtod syntax), checked against the kind's closed range, and integral
 * for integer options.  The float entry points gather the tensors into the
 * task's double scratch vectors, call the kind, and scatter back.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optk.h"
#include "tasks.h"

static const TaskKind *const registry[] = {
    &task_kind_quadratic,
    &task_kind_noisy_quadratic,
    &task_kind_rosenbrock,
    &task_kind_logistic,
    &task_kind_softmax,
    &task_kind_mlp,
    &task_kind_mgh_rosenbrock,
    &task_kind_mgh_freudenstein_roth,
    &task_kind_mgh_powell_badly_scaled,
    &task_kind_mgh_beale,
    &task_kind_mgh_helical_valley,
    &task_kind_mgh_box_3d,
    &task_kind_mgh_powell_singular,
    &task_kind_mgh_wood,
    &task_kind_mgh_extended_rosenbrock,
    &task_kind_mgh_trigonometric,
    &task_kind_mgh_brown_almost_linear,
};
#define NKINDS ((int)(sizeof registry / sizeof registry[0]))

/* Longest option text accepted: options are a handful of short pairs. */
#define MAX_OPTIONS_LEN 1024

/* ---- helpers shared by the kinds ---------------------------------------- */

int task_error(char **err, const char *fmt, ...) {
  if (!err) return -1;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  *err = NULL;
  if (len < 0) return -1;
  char *s = malloc((size_t)len + 1);
  if (!s) return -1;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)len + 1, fmt, ap);
  va_end(ap);
  *err = s;
  return -1;
}

void task_set_tensor(OptrtTask *t, int i, const char *name, int64_t rows, int64_t cols) {
  t->tname[i] = name;
  t->rows[i] = rows;
  t->cols[i] = cols;
  if (i + 1 > t->ntensors) t->ntensors = i + 1;
}

uint64_t task_key(uint64_t seed, uint64_t step, uint64_t purpose) {
  return optk_rng_key(seed, step, purpose, 0x7461736bu /* "task" */);
}

double task_uniform(uint64_t key, uint64_t index) {
  return (double)(optk_rng_u64(key, index) >> 11) * (1.0 / 9007199254740992.0);
}

double task_normal(uint64_t key, uint64_t index) {
  uint64_t a = optk_rng_u64(key, 2 * index), b = optk_rng_u64(key, 2 * index + 1);
  double u1 = ((double)(a >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* (0, 1] */
  double u2 = (double)(b >> 11) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t task_gnb_key(OptrtTask *t) {
  if (t->gnb_step != t->step) t->gnb_step = t->step, t->gnb_calls = 0;
  return optk_rng_key(t->seed, t->step, t->gnb_calls++, 0x676e62u /* "gnb" */);
}

int64_t task_sample_category(const double *p, int64_t k, double u) {
  double acc = 0;
  for (int64_t c = 0; c + 1 < k; c++)
    if (u < (acc += p[c])) return c;
  return k - 1;
}

/* ---- registry ----------------------------------------------------------- */

int optrt_task_count(void) { return NKINDS; }

const char *optrt_task_name_at(int index) {
  return index >= 0 && index < NKINDS ? registry[index]->name : NULL;
}

const char *optrt_task_summary_at(int index) {
  return index >= 0 && index < NKINDS ? registry[index]->summary : NULL;
}

static const TaskKind *find_kind(const char *name) {
  for (int i = 0; i < NKINDS; i++)
    if (strcmp(registry[i]->name, name) == 0) return registry[i];
  return NULL;
}

static int unknown_task(const char *name, char **err) {
  char list[1024];
  size_t used = 0;
  list[0] = '\0';
  for (int i = 0; i < NKINDS; i++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", registry[i]->name);
    if (w < 0 || (size_t)w >= sizeof list - used) break;
    used += (size_t)w;
  }
  return task_error(err, "unknown task '%s' (known: %s)", name, list);
}

/* ---- options ------------------------------------------------------------ */

static int option_index(const TaskKind *k, const char *key, size_t len) {
  for (int i = 0; i < k->nopts; i++)
    if (strlen(k->opts[i].name) == len && strncmp(k->opts[i].name, key, len) == 0) return i;
  return -1;
}

static int known_options(const TaskKind *k, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < k->nopts; i++) {
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", k->opts[i].name);
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w;
  }
  if (k->nopts == 0) snprintf(buf, size, "none");
  return 0;
}

static int check_value(const TaskKind *k, int oi, const char *text, double v, char **err) {
  const TaskOption *o = &k->opts[oi];
  if (!(v >= o->lo && v <= o->hi))
    return task_error(err, "task '%s': option %s=%s is outside [%g, %g]", k->name, o->name,
                      text, o->lo, o->hi);
  if (o->is_int && v != floor(v))
    return task_error(err, "task '%s': option %s=%s must be an integer", k->name, o->name, text);
  return 0;
}

/* One "key=value" pair of length len. */
static int parse_pair(OptrtTask *t, const char *s, size_t len, char **err) {
  const TaskKind *k = t->kind;
  const char *eq = memchr(s, '=', len);
  if (!eq)
    return task_error(err, "task '%s': option '%.*s' is not key=value", k->name, (int)len, s);
  int oi = option_index(k, s, (size_t)(eq - s));
  if (oi < 0) {
    char known[256];
    known_options(k, known, sizeof known);
    return task_error(err, "task '%s': unknown option '%.*s' (known: %s)", k->name,
                      (int)(eq - s), s, known);
  }
  char text[64];
  size_t vlen = len - (size_t)(eq + 1 - s);
  if (vlen == 0 || vlen >= sizeof text)
    return task_error(err, "task '%s': option %s needs a number", k->name, k->opts[oi].name);
  memcpy(text, eq + 1, vlen);
  text[vlen] = '\0';
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || isspace((unsigned char)text[0]))
    return task_error(err, "task '%s': option %s=%s is not a number", k->name,
                      k->opts[oi].name, text);
  if (check_value(k, oi, text, v, err)) return -1;
  t->opt[oi] = v;
  return 0;
}

static int parse_options(OptrtTask *t, const char *options, char **err) {
  for (int i = 0; i < t->kind->nopts; i++) t->opt[i] = t->kind->opts[i].def;
  if (!options) return 0;
  if (strlen(options) > MAX_OPTIONS_LEN)
    return task_error(err, "task '%s': option text longer than %d characters", t->kind->name,
                      MAX_OPTIONS_LEN);
  const char *s = options;
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len == 0) return task_error(err, "task '%s': empty option in '%s'", t->kind->name, options);
    if (parse_pair(t, s, len, err)) return -1;
    s += len + (comma ? 1 : 0);
    if (comma && !*s)
      return task_error(err, "task '%s': empty option in '%s'", t->kind->name, options);
  }
  return 0;
}

/* ---- create / free ------------------------------------------------------ */

static int alloc_scratch(OptrtTask *t, char **err) {
  int64_t n = 0;
  for (int i = 0; i < t->ntensors; i++) n += t->rows[i] * t->cols[i];
  t->n = n;
  size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
  t->xs = malloc(bytes);
  t->gs = malloc(bytes);
  t->vs = malloc(bytes);
  t->hvs = malloc(bytes);
  if (!t->xs || !t->gs || !t->vs || !t->hvs)
    return task_error(err, "task '%s': out of memory", t->kind->name);
  return 0;
}

OptrtTask *optrt_task_create(const char *name, uint64_t seed, const char *options, char **err) {
  if (err) *err = NULL;
  if (!name) {
    task_error(err, "task name is NULL");
    return NULL;
  }
  const TaskKind *k = find_kind(name);
  if (!k) {
    unknown_task(name, err);
    return NULL;
  }
  OptrtTask *t = calloc(1, sizeof *t);
  if (!t) {
    task_error(err, "out of memory");
    return NULL;
  }
  t->kind = k;
  t->seed = seed;
  t->fstar = NAN;
  if (parse_options(t, options, err) || k->setup(t, err) || alloc_scratch(t, err)) {
    optrt_task_free(t);
    return NULL;
  }
  return t;
}

void optrt_task_free(OptrtTask *t) {
  if (!t) return;
  if (t->kind->destroy) t->kind->destroy(t);
  free(t->xs);
  free(t->gs);
  free(t->vs);
  free(t->hvs);
  free(t->hfull);
  free(t);
}

/* ---- queries ------------------------------------------------------------ */

const char *optrt_task_name(const OptrtTask *t) { return t ? t->kind->name : NULL; }
unsigned optrt_task_flags(const OptrtTask *t) { return t ? t->flags : 0; }
int optrt_task_num_tensors(const OptrtTask *t) { return t ? t->ntensors : 0; }
int64_t optrt_task_dim(const OptrtTask *t) { return t ? t->n : 0; }
void optrt_task_set_step(OptrtTask *t, uint64_t step) {
  if (t) t->step = step;
}

int optrt_task_tensor(const OptrtTask *t, int i, const char **name, int64_t *rows,
                      int64_t *cols) {
  if (!t || i < 0 || i >= t->ntensors) return -1;
  if (name) *name = t->tname[i];
  if (rows) *rows = t->rows[i];
  if (cols) *cols = t->cols[i];
  return 0;
}

double optrt_task_option(const OptrtTask *t, const char *key) {
  if (!t || !key) return NAN;
  int oi = option_index(t->kind, key, strlen(key));
  return oi < 0 ? NAN : t->opt[oi];
}

int optrt_task_optimum(const OptrtTask *t, double *fstar) {
  if (!t || !fstar || !(t->flags & OPTRT_TASK_HAS_OPTIMUM)) return -1;
  *fstar = t->fstar;
  return 0;
}

int optrt_task_minimizer_d(const OptrtTask *t, double *x) {
  if (!t || !x || !(t->flags & OPTRT_TASK_HAS_MINIMIZER)) return -1;
  t->kind->minimizer(t, x);
  return 0;
}

/* ---- double entry points ------------------------------------------------ */

int optrt_task_init_d(const OptrtTask *t, double *x) {
  if (!t || !x) return -1;
  t->kind->init(t, x);
  return 0;
}

int optrt_task_eval_d(OptrtTask *t, const double *x, double *g, double *loss) {
  if (!t || !x || !loss) return -1;
  *loss = t->kind->fg(t, x, g);
  return 0;
}

int optrt_task_hvp_d(OptrtTask *t, const double *x, const double *v, double *hv) {
  if (!t || !x || !v || !hv || !(t->flags & OPTRT_TASK_HAS_HVP)) return -1;
  t->kind->hvp(t, x, v, hv);
  return 0;
}

int optrt_task_gnb_d(OptrtTask *t, const double *x, double *out) {
  if (!t || !x || !out || !(t->flags & OPTRT_TASK_HAS_GNB)) return -1;
  t->kind->gnb(t, x, task_gnb_key(t), out);
  return 0;
}

int optrt_task_hessian_d(OptrtTask *t, const double *x, double *h) {
  if (!t || !x || !h || !(t->flags & OPTRT_TASK_HAS_HESSIAN)) return -1;
  t->kind->hessian(t, x, h);
  return 0;
}

int optrt_task_accuracy_d(OptrtTask *t, const double *x, double *acc) {
  if (!t || !x || !acc || !(t->flags & OPTRT_TASK_HAS_ACCURACY)) return -1;
  *acc = t->kind->accuracy(t, x);
  return 0;
}

/* ---- float entry points ------------------------------------------------- */

static int gather(const OptrtTask *t, const float *const *x, double *flat) {
  if (!x) return -1;
  int64_t off = 0;
  for (int i = 0; i < t->ntensors; i++) {
    int64_t len = t->rows[i] * t->cols[i];
    if (!x[i]) return -1;
    for (int64_t j = 0; j < len; j++) flat[off + j] = (double)x[i][j];
    off += len;
  }
  return 0;
}

static int scatter(const OptrtTask *t, const double *flat, float *const *x) {
  if (!x) return -1;
  int64_t off = 0;
  for (int i = 0; i < t->ntensors; i++) {
    int64_t len = t->rows[i] * t->cols[i];
    if (!x[i]) return -1;
    for (int64_t j = 0; j < len; j++) x[i][j] = (float)flat[off + j];
    off += len;
  }
  return 0;
}

int optrt_task_init(const OptrtTask *t, float *const *x) {
  if (!t) return -1;
  t->kind->init(t, t->xs);
  return scatter(t, t->xs, x);
}

int optrt_task_eval(OptrtTask *t, const float *const *x, float *const *g, double *loss) {
  if (!t || !loss || gather(t, x, t->xs)) return -1;
  *loss = t->kind->fg(t, t->xs, g ? t->gs : NULL);
  return g ? scatter(t, t->gs, g) : 0;
}

int optrt_task_hvp(OptrtTask *t, const float *const *x, const float *const *v,
                   float *const *hv) {
  if (!t || !(t->flags & OPTRT_TASK_HAS_HVP)) return -1;
  if (gather(t, x, t->xs) || gather(t, v, t->vs)) return -1;
  t->kind->hvp(t, t->xs, t->vs, t->hvs);
  return scatter(t, t->hvs, hv);
}

int optrt_task_gnb(OptrtTask *t, const float *const *x, float *const *out) {
  if (!t || !(t->flags & OPTRT_TASK_HAS_GNB) || gather(t, x, t->xs)) return -1;
  t->kind->gnb(t, t->xs, task_gnb_key(t), t->hvs);
  return scatter(t, t->hvs, out);
}

int optrt_task_hessian(OptrtTask *t, const float *const *x, double *h) {
  if (!t || !h || !(t->flags & OPTRT_TASK_HAS_HESSIAN) || gather(t, x, t->xs)) return -1;
  t->kind->hessian(t, t->xs, h);
  return 0;
}

int optrt_task_accuracy(OptrtTask *t, const float *const *x, double *acc) {
  if (!t || !acc || !(t->flags & OPTRT_TASK_HAS_ACCURACY) || gather(t, x, t->xs)) return -1;
  *acc = t->kind->accuracy(t, t->xs);
  return 0;
}

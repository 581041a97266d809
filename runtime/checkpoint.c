/* checkpoint.c: writing checkpoints (format: docs/runtime.md).
 *
 * A file is a 24-byte header and a list of sections (OPTM, one GRUP per
 * group, one TENS per tensor in global order, END), each a 16-byte
 * header, a payload and the CRC-32 of both.  Integers and floats are
 * little-endian.  Every section is serialised twice by the same function:
 * once into a counting writer (for its length), once for real, so the
 * file is streamed without holding the state twice in memory.  The file
 * appears atomically: temporary file in the same directory, fsync,
 * rename, fsync of the directory; on any failure the temporary file is
 * removed and nothing at `path` changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_internal.h"

/* Bytes buffered before a write(2): large enough to amortise syscalls. */
#define W_BUF (1u << 16)

void rt_crc32_table(uint32_t table[256]) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

uint32_t rt_crc32(const uint32_t table[256], uint32_t crc, const void *data, size_t n) {
  const unsigned char *p = data;
  uint32_t c = crc ^ 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

const char *rt_source_sha(const OptkDescriptor *d) { return d->source_sha256 ? d->source_sha256 : ""; }

typedef struct Writer {
  int fd;              /* -1: only count */
  uint64_t count;
  uint32_t crc;
  const uint32_t *table;
  unsigned char *buf;
  size_t n;
  int err;             /* errno of the first failure */
} Writer;

static void flush(Writer *w) {
  size_t off = 0;
  while (!w->err && off < w->n) {
    ssize_t k = write(w->fd, w->buf + off, w->n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) w->err = k < 0 ? errno : EIO;
    else off += (size_t)k;
  }
  w->n = 0;
}

static void put(Writer *w, const void *data, size_t n) {
  w->count += n;
  if (w->fd < 0) return;
  w->crc = rt_crc32(w->table, w->crc, data, n);
  const unsigned char *p = data;
  while (n && !w->err) {
    size_t k = W_BUF - w->n < n ? W_BUF - w->n : n;
    memcpy(w->buf + w->n, p, k);
    w->n += k, p += k, n -= k;
    if (w->n == W_BUF) flush(w);
  }
}

static void put_u64(Writer *w, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 8);
}

static void put_u32(Writer *w, uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 4);
}

static void put_f64(Writer *w, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_u64(w, u);
}

static void put_str(Writer *w, const char *s) {
  put_u32(w, (uint32_t)strlen(s));
  put(w, s, strlen(s));
}

typedef void (*BodyFn)(Writer *w, const Optrt *o, int index);

static void optm_body(Writer *w, const Optrt *o, int index) {
  put_u32(w, (uint32_t)o->ng);
  put_u32(w, (uint32_t)o->nall);
  put_str(w, o->k->d->name);
  put_str(w, rt_source_sha(o->k->d));
  put_u64(w, o->cfg.seed);
}

static void grup_body(Writer *w, const Optrt *o, int index) {
  const RtGroup *g = o->g[index];
  put_u32(w, (uint32_t)index);
  put_str(w, g->d->name);
  put_str(w, rt_source_sha(g->d));
  put_u32(w, g->d->nhyper);
  for (uint32_t i = 0; i < g->d->nhyper; i++) {
    put_str(w, g->d->hypers[i].name);
    put_f64(w, g->hyper[i]);
  }
  put_u64(w, g->step);
  put_u32(w, g->guard ? 1 : 0);
  put_u64(w, g->skipped);
  put_u64(w, g->last_skipped);
  put_u32(w, (uint32_t)g->nt);
}

static void tens_body(Writer *w, const Optrt *o, int index) {
  const RtTensor *t = o->all[index];
  const OptkDescriptor *d = o->g[t->group]->d;
  put_u32(w, (uint32_t)t->group);
  put_u32(w, (uint32_t)t->index);
  put_u64(w, (uint64_t)t->rows);
  put_u64(w, (uint64_t)(t->is2d ? t->cols : 0));
  put_u32(w, t->ready ? 1 : 0);
  if (!t->ready) return;
  put_u32(w, d->nsstate);
  for (uint32_t i = 0; i < d->nsstate; i++) {
    put_str(w, d->sstates[i].name);
    put_f64(w, t->sstate[i]);
  }
  uint32_t nstate = 0;
  for (uint32_t b = 2; b < d->nbuf; b++) nstate += d->bufs[b].role == OPTK_BUF_STATE;
  put_u32(w, nstate);
  for (uint32_t b = 2; b < d->nbuf; b++) {
    if (d->bufs[b].role != OPTK_BUF_STATE) continue;
    put_str(w, d->bufs[b].name);
    put_u32(w, d->bufs[b].dtype);
    put_u64(w, (uint64_t)rt_dim(t, d->bufs[b].dim0));
    put_u64(w, (uint64_t)rt_dim(t, d->bufs[b].dim1));
    uint64_t bytes = (uint64_t)rt_buf_count(d, (int)b, t) * rt_dtype_size(d->bufs[b].dtype);
    put_u64(w, bytes);
    put(w, t->buf[b], (size_t)bytes);
  }
}

static void end_body(Writer *w, const Optrt *o, int index) {}

static void section(Writer *w, uint32_t tag, BodyFn body, const Optrt *o, int index) {
  Writer c = {.fd = -1};
  body(&c, o, index);
  w->crc = 0;
  put_u32(w, tag);
  put_u32(w, 0);
  put_u64(w, c.count);
  body(w, o, index);
  put_u32(w, w->crc);
}

static void write_all(Writer *w, const Optrt *o) {
  unsigned char head[RT_CKPT_HEADER - 4];
  uint32_t nsec = 2 + (uint32_t)o->ng + (uint32_t)o->nall;
  memcpy(head, RT_CKPT_MAGIC, 8);
  for (int i = 0; i < 4; i++) {
    head[8 + i] = (unsigned char)(RT_CKPT_VERSION >> (8 * i));
    head[12 + i] = (unsigned char)(nsec >> (8 * i));
    head[16 + i] = 0;
  }
  put(w, head, sizeof head);
  put_u32(w, rt_crc32(w->table, 0, head, sizeof head));
  section(w, RT_TAG_OPTM, optm_body, o, 0);
  for (int i = 0; i < o->ng; i++) section(w, RT_TAG_GRUP, grup_body, o, i);
  for (int i = 0; i < o->nall; i++) section(w, RT_TAG_TENS, tens_body, o, i);
  section(w, RT_TAG_END, end_body, o, 0);
  flush(w);
}

/* fsync of the directory holding `path`, so the rename is durable. */
static int sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096] = ".";
  if (slash == path) strcpy(dir, "/");
  else if (slash && (size_t)(slash - path) < sizeof dir) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
  }
  int fd = open(dir, O_RDONLY);
  if (fd < 0) return 0;
  int rc = fsync(fd);
  close(fd);
  return rc == 0 || errno == EINVAL ? 0 : -1;
}

static int save_fail(Optrt *o, const char *path, const char *tmp, int err, const char *what) {
  if (tmp) unlink(tmp);
  return rt_error(o, "cannot write checkpoint '%s': %s: %s", path, what, strerror(err));
}

int optrt_save(Optrt *o, const char *path) {
  if (!o) return -1;
  if (!path || !*path) return rt_error(o, "save: no path");
  size_t len = strlen(path);
  char *tmp = rt_malloc(&o->alloc, len + 16);
  unsigned char *buf = rt_malloc(&o->alloc, W_BUF);
  if (!tmp || !buf) {
    rt_free(&o->alloc, tmp);
    rt_free(&o->alloc, buf);
    return rt_error(o, "save: out of memory");
  }
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp.", 5); /* then mkstemp's six template letters */
  memset(tmp + len + 5, 'X', 6);
  tmp[len + 11] = '\0';
  uint32_t table[256];
  rt_crc32_table(table);
  Writer w = {.fd = mkstemp(tmp), .table = table, .buf = buf};
  int rc = 0;
  if (w.fd < 0) rc = save_fail(o, path, NULL, errno, "cannot create a temporary file");
  if (!rc) write_all(&w, o);
  if (!rc && w.err) rc = save_fail(o, path, tmp, w.err, "write failed");
  if (!rc && fsync(w.fd) != 0) rc = save_fail(o, path, tmp, errno, "fsync failed");
  if (w.fd >= 0 && close(w.fd) != 0 && !rc) rc = save_fail(o, path, tmp, errno, "close failed");
  if (!rc && rename(tmp, path) != 0) rc = save_fail(o, path, tmp, errno, "rename failed");
  if (!rc && sync_dir(path) != 0) rc = rt_error(o, "checkpoint '%s' written, but fsync of its directory failed: %s", path, strerror(errno));
  rt_free(&o->alloc, tmp);
  rt_free(&o->alloc, buf);
  return rc;
}

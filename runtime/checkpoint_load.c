/* checkpoint_load.c: reading checkpoints, all or nothing.
 *
 * The whole file is read into memory and checked before anything in the
 * optimizer changes: header (magic, checksum, version), every section's
 * bounds and CRC, the section sequence, then each GRUP and TENS payload
 * against the optimizer (rule names and source hashes, hyper names and
 * ranges, shapes, state names, dtypes and sizes).  Missing state memory
 * is allocated next (the only step that can still fail, and it is undone
 * on failure).  Only then does the commit pass run the same parsers again
 * with `commit` set, which copy values into place and cannot fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_internal.h"

typedef struct Reader {
  const unsigned char *p;
  uint64_t n, off;
  bool bad;
} Reader;

static const unsigned char *take(Reader *r, uint64_t n) {
  if (r->bad || n > r->n - r->off) {
    r->bad = true;
    return NULL;
  }
  const unsigned char *at = r->p + r->off;
  r->off += n;
  return at;
}

static uint64_t get_u64(Reader *r) {
  const unsigned char *b = take(r, 8);
  uint64_t v = 0;
  for (int i = 7; b && i >= 0; i--) v = (v << 8) | b[i];
  return v;
}

static uint32_t get_u32(Reader *r) {
  const unsigned char *b = take(r, 4);
  return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24 : 0;
}

static double get_f64(Reader *r) {
  uint64_t u = get_u64(r);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

/* True when the next string equals s. */
static bool get_str_is(Reader *r, const char *s) {
  uint32_t n = get_u32(r);
  const unsigned char *b = take(r, n);
  return b && n == strlen(s) && memcmp(b, s, n) == 0;
}

typedef struct Section {
  uint32_t tag;
  Reader body;
} Section;

typedef struct Load {
  Optrt *o;
  const char *path;
  unsigned char *file;
  uint64_t size;
  Section *sec;
  uint32_t nsec;
} Load;

static int fail(Load *l, const char *fmt, ...) RT_PRINTF(2, 3);
static int fail(Load *l, const char *fmt, ...) {
  char msg[RT_ERR_MAX - 200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rt_error(l->o, "cannot load checkpoint '%s': %s; the optimizer is unchanged", l->path, msg);
}

static int read_file(Load *l) {
  int fd = open(l->path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = fd < 0 ? errno : EISDIR;
    if (fd >= 0) close(fd);
    return fail(l, "%s", strerror(e));
  }
  l->size = (uint64_t)st.st_size;
  l->file = rt_malloc(&l->o->alloc, (size_t)l->size + 1);
  uint64_t got = 0;
  while (l->file && got < l->size) {
    ssize_t k = read(fd, l->file + got, (size_t)(l->size - got));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (uint64_t)k;
  }
  close(fd);
  if (!l->file) return fail(l, "out of memory for %llu bytes", (unsigned long long)l->size);
  if (got != l->size) return fail(l, "read error");
  return 0;
}

static int check_header(Load *l, const uint32_t *table) {
  if (l->size < RT_CKPT_HEADER) return fail(l, "truncated: %llu bytes is shorter than the header", (unsigned long long)l->size);
  if (memcmp(l->file, RT_CKPT_MAGIC, 8) != 0) return fail(l, "not an optrt checkpoint (bad magic)");
  Reader r = {l->file, RT_CKPT_HEADER, 8, false};
  uint32_t version = get_u32(&r), nsec = get_u32(&r);
  get_u32(&r);
  if (get_u32(&r) != rt_crc32(table, 0, l->file, RT_CKPT_HEADER - 4))
    return fail(l, "header checksum mismatch (file corrupt)");
  if (version != RT_CKPT_VERSION)
    return fail(l, "format version %u, this runtime reads version %u", version, RT_CKPT_VERSION);
  uint32_t want = 2 + (uint32_t)l->o->ng + (uint32_t)l->o->nall;
  if (nsec > want + 1024)
    return fail(l, "%u sections is implausible for this optimizer", nsec);
  l->nsec = nsec;
  return 0;
}

static int tag_text(uint32_t tag, char out[5]) {
  for (int i = 0; i < 4; i++) {
    char c = (char)(tag >> (8 * i));
    out[i] = c >= 32 && c < 127 ? c : '?';
  }
  out[4] = '\0';
  return 0;
}

static int split_sections(Load *l, const uint32_t *table) {
  l->sec = rt_calloc(&l->o->alloc, l->nsec + 1, sizeof *l->sec);
  if (!l->sec) return fail(l, "out of memory");
  uint64_t off = RT_CKPT_HEADER;
  for (uint32_t i = 0; i < l->nsec; i++) {
    Reader h = {l->file, l->size, off, false};
    uint32_t tag = get_u32(&h);
    get_u32(&h);
    uint64_t len = get_u64(&h);
    if (h.bad || len > l->size - h.off || l->size - h.off - len < 4)
      return fail(l, "truncated in section %u (file has %llu bytes)", i, (unsigned long long)l->size);
    Reader c = {l->file, l->size, h.off + len, false};
    char name[5];
    tag_text(tag, name);
    if (get_u32(&c) != rt_crc32(table, 0, l->file + off, RT_SECTION_HEADER + len))
      return fail(l, "section %u (%s) checksum mismatch (file corrupt)", i, name);
    l->sec[i] = (Section){tag, {l->file + h.off, len, 0, false}};
    off = c.off;
  }
  if (off != l->size) return fail(l, "%llu trailing bytes after the last section", (unsigned long long)(l->size - off));
  return 0;
}

static int check_sequence(Load *l) {
  Optrt *o = l->o;
  uint32_t want = 2 + (uint32_t)o->ng + (uint32_t)o->nall;
  Reader r = l->sec[0].body;
  uint32_t ng = l->sec[0].tag == RT_TAG_OPTM ? get_u32(&r) : 0, nt = get_u32(&r);
  if (l->nsec < 1 || l->sec[0].tag != RT_TAG_OPTM || r.bad) return fail(l, "no OPTM section first");
  if (ng != (uint32_t)o->ng || nt != (uint32_t)o->nall)
    return fail(l, "it holds %u groups and %u parameters, this optimizer has %d groups and %d parameters",
                ng, nt, o->ng, o->nall);
  if (l->nsec != want) return fail(l, "%u sections, expected %u", l->nsec, want);
  for (uint32_t i = 1; i < l->nsec; i++) {
    uint32_t tag = i <= ng ? RT_TAG_GRUP : i <= ng + nt ? RT_TAG_TENS : RT_TAG_END;
    char a[5], b[5];
    if (l->sec[i].tag != tag)
      return fail(l, "section %u is %s, expected %s", i, (tag_text(l->sec[i].tag, a), a),
                  (tag_text(tag, b), b));
  }
  return 0;
}

static bool hyper_ok(const OptkHyper *h, double v) {
  if (isnan(v)) return false;
  if ((h->flags & OPTK_HYPER_HAS_LO) && (v < h->lo || ((h->flags & OPTK_HYPER_LO_OPEN) && v == h->lo)))
    return false;
  return !((h->flags & OPTK_HYPER_HAS_HI) && (v > h->hi || ((h->flags & OPTK_HYPER_HI_OPEN) && v == h->hi)));
}

static int group_section(Load *l, int gi, bool commit) {
  RtGroup *g = l->o->g[gi];
  Reader r = l->sec[1 + gi].body;
  const OptkDescriptor *d = g->d;
  bool same = get_u32(&r) == (uint32_t)gi && get_str_is(&r, d->name);
  if (!same || !get_str_is(&r, rt_source_sha(d)) || get_u32(&r) != d->nhyper)
    return r.bad ? fail(l, "group %d: malformed section", gi)
                 : fail(l, "group %d was written by a different rule or source than '%s' (sha256 %.12s)",
                        gi, d->name, rt_source_sha(d));
  for (uint32_t i = 0; i < d->nhyper; i++) {
    bool named = get_str_is(&r, d->hypers[i].name);
    double v = get_f64(&r);
    if (!named || !hyper_ok(&d->hypers[i], v))
      return fail(l, "group %d: hyper '%s' missing or out of range", gi, d->hypers[i].name);
    if ((d->hypers[i].flags & OPTK_HYPER_SIZES_STATE) && v != g->hyper[i])
      return fail(l, "group %d: hyper '%s' is %.17g in the checkpoint but %.17g here; it sizes "
                     "the state, so set it to %.17g before loading",
                  gi, d->hypers[i].name, v, g->hyper[i], v);
    if (commit) g->hyper[i] = v;
  }
  uint64_t step = get_u64(&r);
  uint32_t guard = get_u32(&r);
  uint64_t skipped = get_u64(&r), last = get_u64(&r);
  uint32_t nt = get_u32(&r);
  if (r.bad || r.off != r.n || guard > 1) return fail(l, "group %d: malformed section", gi);
  if (nt != (uint32_t)g->nt)
    return fail(l, "group %d has %u parameters in the checkpoint, %d here", gi, nt, g->nt);
  if (commit) g->step = step, g->guard = guard, g->skipped = skipped, g->last_skipped = last;
  return 0;
}

static int tensor_buffers(Load *l, Reader *r, RtTensor *t, bool commit) {
  const OptkDescriptor *d = l->o->g[t->group]->d;
  uint32_t nstate = 0;
  for (uint32_t b = 2; b < d->nbuf; b++) nstate += d->bufs[b].role == OPTK_BUF_STATE;
  if (get_u32(r) != nstate) return fail(l, "parameter %llu: state list differs", (unsigned long long)t->id);
  for (uint32_t b = 2; b < d->nbuf; b++) {
    if (d->bufs[b].role != OPTK_BUF_STATE) continue;
    bool ok = get_str_is(r, d->bufs[b].name) && get_u32(r) == d->bufs[b].dtype;
    ok = ok && get_u64(r) == (uint64_t)rt_dim(t, d->bufs[b].dim0);
    ok = ok && get_u64(r) == (uint64_t)rt_dim(t, d->bufs[b].dim1);
    uint64_t bytes = (uint64_t)rt_buf_count(d, (int)b, t) * rt_dtype_size(d->bufs[b].dtype);
    const unsigned char *data = ok && get_u64(r) == bytes ? take(r, bytes) : NULL;
    if (!data)
      return fail(l, "parameter %llu: state '%s' differs in name, dtype or shape", (unsigned long long)t->id,
                  d->bufs[b].name);
    if (commit) memcpy(t->buf[b], data, (size_t)bytes);
  }
  return 0;
}

static int tensor_section(Load *l, int ti, bool commit) {
  RtTensor *t = l->o->all[ti];
  const OptkDescriptor *d = l->o->g[t->group]->d;
  Reader r = l->sec[1 + l->o->ng + ti].body;
  uint32_t group = get_u32(&r), index = get_u32(&r);
  int64_t rows = (int64_t)get_u64(&r), cols = (int64_t)get_u64(&r);
  uint32_t ready = get_u32(&r);
  if (r.bad || group != (uint32_t)t->group || index != (uint32_t)t->index || ready > 1)
    return fail(l, "parameter %d: malformed section", ti);
  if (rows != t->rows || cols != (t->is2d ? t->cols : 0))
    return fail(l, "group %d parameter %d is %lld x %lld in the checkpoint, %lld x %lld here", t->group,
                t->index, (long long)rows, (long long)cols, (long long)t->rows,
                (long long)(t->is2d ? t->cols : 0));
  if (ready && get_u32(&r) != d->nsstate) return fail(l, "parameter %d: scalar states differ", ti);
  for (uint32_t i = 0; ready && i < d->nsstate; i++) {
    bool named = get_str_is(&r, d->sstates[i].name);
    double v = get_f64(&r);
    if (!named) return fail(l, "parameter %d: scalar state '%s' missing", ti, d->sstates[i].name);
    if (commit) t->sstate[i] = v;
  }
  if (ready && tensor_buffers(l, &r, t, commit)) return -1;
  if (r.bad || r.off != r.n) return fail(l, "parameter %d: malformed section", ti);
  if (commit && !ready) rt_tensor_free_state(&l->o->alloc, d, t);
  if (commit) t->ready = ready != 0;
  return 0;
}

/* The seed closes the OPTM payload, after two counts and two strings;
 * -1 if the payload does not end right there. */
static int optm_seed(Load *l, uint64_t *seed) {
  Reader r = l->sec[0].body;
  get_u32(&r);
  get_u32(&r);
  for (int i = 0; i < 2; i++) take(&r, get_u32(&r));
  *seed = get_u64(&r);
  return r.bad || r.off != r.n ? -1 : 0;
}

static int validate_all(Load *l) {
  for (int i = 0; i < l->o->ng; i++)
    if (group_section(l, i, false)) return -1;
  for (int i = 0; i < l->o->nall; i++)
    if (tensor_section(l, i, false)) return -1;
  if (l->sec[l->nsec - 1].body.n != 0) return fail(l, "END section is not empty");
  uint64_t seed;
  if (optm_seed(l, &seed)) return fail(l, "malformed OPTM section");
  return 0;
}

/* Allocates state for tensors that the checkpoint fills but that have
 * none yet; on failure frees what it allocated. */
static int alloc_missing(Load *l) {
  Optrt *o = l->o;
  for (int i = 0; i < o->nall; i++) {
    RtTensor *t = o->all[i];
    Reader r = l->sec[1 + o->ng + i].body;
    r.off = 24; /* group, index, rows, cols precede `ready` */
    if (t->sstate || !get_u32(&r)) continue;
    if (rt_tensor_alloc_state(o, o->g[t->group]->d, t) == 0) continue;
    for (int j = 0; j < i; j++) {
      RtTensor *u = o->all[j];
      if (!u->ready && u->sstate) rt_tensor_free_state(&o->alloc, o->g[u->group]->d, u);
    }
    return fail(l, "out of memory for the state");
  }
  return 0;
}

static void commit_all(Load *l) {
  uint64_t seed = l->o->cfg.seed;
  optm_seed(l, &seed);
  l->o->cfg.seed = seed;
  for (int i = 0; i < l->o->ng; i++) group_section(l, i, true);
  for (int i = 0; i < l->o->nall; i++) tensor_section(l, i, true);
}

int optrt_load(Optrt *o, const char *path) {
  if (!o) return -1;
  if (!path) return rt_error(o, "load: no path");
  Load l = {.o = o, .path = path};
  uint32_t table[256];
  rt_crc32_table(table);
  int rc = read_file(&l);
  if (!rc) rc = check_header(&l, table);
  if (!rc) rc = split_sections(&l, table);
  if (!rc) rc = check_sequence(&l);
  if (!rc) rc = validate_all(&l);
  if (!rc) rc = alloc_missing(&l);
  if (!rc) commit_all(&l);
  rt_free(&o->alloc, l.file);
  rt_free(&o->alloc, l.sec);
  return rc;
}

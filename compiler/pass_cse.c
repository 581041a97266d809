/* pass_cse.c: common subexpression elimination.
 *
 * Pure instructions (arithmetic, leaves, reductions) with the same opcode,
 * arguments, index, aux and immediate are one value: the first one is kept
 * and later ones are renamed to it.  RNG call sites differ by index, so two
 * `normal()` calls stay two draws; LOADs differ by version, so p before and
 * after a linesearch stay apart.  A reduction inside an `if` block is
 * computed only when the block runs, so reductions merge only within one
 * block (the key includes the innermost block).  Hashing is open
 * addressing over the new list, so the pass is linear. */
#include <string.h>

#include "ir_func.h"

typedef struct Cse {
  int *table; /* value numbers in the new list, -1 empty */
  int cap;
  int changes;
  int *owner;  /* per table entry: block of a reduction, else -1 */
  int *blocks; /* open FN_IF block ids */
  int depth;
} Cse;

static int block_of(const Cse *c, const IrFInst *in) {
  return in->op == IR_REDUCE && c->depth ? c->blocks[c->depth - 1] : -1;
}

static uint64_t inst_hash(const IrFInst *in, int block) {
  uint64_t h = util_hash_mix(0x9e37u + (uint64_t)(int64_t)block, (uint64_t)in->op);
  for (int k = 0; k < 3; k++) h = util_hash_mix(h, (uint64_t)(int64_t)in->args[k]);
  h = util_hash_mix(h, (uint64_t)(int64_t)in->index);
  h = util_hash_mix(h, (uint64_t)(int64_t)in->aux);
  return util_hash_bytes(&in->imm, sizeof in->imm, h);
}

static bool same_inst(const IrFInst *a, const IrFInst *b) {
  return a->op == b->op && memcmp(a->args, b->args, sizeof a->args) == 0 &&
         a->index == b->index && a->aux == b->aux &&
         memcmp(&a->imm, &b->imm, sizeof a->imm) == 0;
}

static int cse_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  Cse *c = user;
  (void)old, (void)i;
  if (in->op == FN_IF) c->blocks[c->depth++] = in->index;
  if (in->op == FN_ENDIF && c->depth) c->depth--;
  if (!irf_is_pure(in->op)) return irf_push(out, in);
  size_t mask = (size_t)c->cap - 1;
  int block = block_of(c, in);
  for (size_t s = inst_hash(in, block) & mask;; s = (s + 1) & mask) {
    int v = c->table[s];
    if (v < 0) {
      c->table[s] = irf_push(out, in);
      c->owner[s] = block;
      return c->table[s];
    }
    if (c->owner[s] == block && same_inst(&out->data[v], in)) {
      c->changes++;
      return v;
    }
  }
}

int pass_cse(IrFunc *f) {
  Cse c = {NULL, 16, 0, NULL, NULL, 0};
  while (c.cap < 2 * f->len + 2) c.cap *= 2;
  c.table = xmalloc(sizeof(int) * (size_t)c.cap);
  c.owner = xmalloc(sizeof(int) * (size_t)c.cap);
  c.blocks = xmalloc(sizeof(int) * (size_t)(f->len + 1));
  memset(c.table, -1, sizeof(int) * (size_t)c.cap);
  irf_rebuild(f, cse_one, &c);
  free(c.table);
  free(c.owner);
  free(c.blocks);
  return c.changes;
}

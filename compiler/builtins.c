/* builtins.c: names and classes of the built-in functions, from the
 * BUILTIN_FNS table of sema.h (the one place they are listed). */
#include <string.h>

#include "sema.h"

static const char *const BUILTIN_NAMES[] = {
#define X(id, name, lo, hi, cls) name,
    BUILTIN_FNS(X)
#undef X
};

static const BuiltinClass BUILTIN_CLASSES[] = {
#define X(id, name, lo, hi, cls) BC_##cls,
    BUILTIN_FNS(X)
#undef X
};

const char *builtin_name(BuiltinFn f) {
  if ((int)f < 0 || f >= BF_COUNT) return "?";
  return BUILTIN_NAMES[f];
}

BuiltinClass builtin_class(BuiltinFn f) {
  if ((int)f < 0 || f >= BF_COUNT) return BC_ELEM;
  return BUILTIN_CLASSES[f];
}

int builtin_lookup(const char *name) {
  for (int i = 0; i < BF_COUNT; i++)
    if (strcmp(BUILTIN_NAMES[i], name) == 0) return i;
  return -1;
}

static const signed char BUILTIN_ARITY[][2] = {
#define X(id, name, lo, hi, cls) {lo, hi},
    BUILTIN_FNS(X)
#undef X
};

void builtin_arity(BuiltinFn f, int *min_args, int *max_args) {
  bool ok = (int)f >= 0 && f < BF_COUNT;
  *min_args = ok ? BUILTIN_ARITY[f][0] : 0;
  *max_args = ok ? BUILTIN_ARITY[f][1] : 0;
}

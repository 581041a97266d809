/* parity_run.h: a fixture's parameters and hypers attached to an
 * optimizer, for the tests that run fixtures through liboptrt (include
 * after cmocka.h; the test links liboptrt). */
#ifndef OPTC_TEST_PARITY_RUN_H
#define OPTC_TEST_PARITY_RUN_H

#include <stdlib.h>
#include <string.h>

#include "optrt.h"
#include "parity.h"

/* Adds group 0 to `opt` with the fixture's tensors as views of *p and *g
 * (fx->n floats each, allocated here, freed by the caller; p starts at
 * p0, g at zero) and sets every hyper the fixture records. */
static inline void parity_attach(Optrt *opt, const ParityFixture *fx, float **p, float **g) {
  assert_int_equal(optrt_add_group(opt, NULL), 0);
  *p = malloc((size_t)fx->n * sizeof(float));
  *g = calloc((size_t)fx->n, sizeof(float));
  assert_non_null(*p);
  assert_non_null(*g);
  memcpy(*p, fx->p0, (size_t)fx->n * sizeof(float));
  for (int i = 0; i < fx->ntensors; i++) {
    const ParityTensor *t = &fx->tensors[i];
    if (optrt_add_param(opt, 0, *p + t->offset, *g + t->offset, t->rows, t->cols) < 0)
      fail_msg("%s: add_param: %s", fx->setting, optrt_last_error(opt));
  }
  for (int i = 0; i < fx->nhypers; i++)
    if (optrt_set_hyper(opt, 0, fx->hypers[i].name, fx->hypers[i].value))
      fail_msg("%s: hyper %s: %s", fx->setting, fx->hypers[i].name, optrt_last_error(opt));
}

#endif

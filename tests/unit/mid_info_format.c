/* mid_info_format.c: the `optc info` report (info.h) of hand-built
 * programs, text and JSON, as exact strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "info.h"
#include "ir_build.h"

static void build(IrProgram *p) {
  ir_program_init(p, "shampoo_like");
  p->needs = OPTK_NEED_LOSS | OPTK_NEED_2D;
  ir_program_add_hyper(p, "lr", 1e-3, 0, INFINITY,
                       OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI | OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(p, "beta1", 0.9, 0, 1,
                       OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI | OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(p, "eps", 1e-8, 0, 0, 0);
  ir_program_add_hyper(p, "k", 10, 1, 1000, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_LO_OPEN);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "m", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "h", OPTK_BUF_STATE, OPTK_BF16, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "L", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(p, "scratch0", OPTK_BUF_SCRATCH, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_sstate(p, "seen", OPTK_F64, 0);
  p->sweeps = 2;
  p->bytes_per_element = 30;
  p->state_bytes_per_element = 6;
  p->scratch_buffers = 1;
}

static const char TEXT[] =
    "name: shampoo_like\n"
    "needs: loss, 2d\n"
    "hyper.lr: 0.001 in [0, inf)\n"
    "hyper.beta1: 0.9 in [0, 1)\n"
    "hyper.eps: 1e-08\n"
    "hyper.k: 10 in (1, 1000]\n"
    "state.m: tensor f32\n"
    "state.h: tensor bf16\n"
    "state.L: matrix(rows, rows) f64\n"
    "state.seen: scalar f64\n"
    "sweeps: 2\n"
    "bytes_per_element: 30\n"
    "state_bytes_per_element: 6\n"
    "state_bytes: 6*n + 8*rows*rows + 8\n"
    "scratch_buffers: 1\n";

static const char JSON[] =
    "{\n"
    "  \"name\": \"shampoo_like\",\n"
    "  \"needs\": [\"loss\", \"2d\"],\n"
    "  \"hypers\": [\n"
    "    {\"name\": \"lr\", \"default\": 0.001, \"lo\": 0, \"hi\": null, \"lo_open\": false, "
    "\"hi_open\": true},\n"
    "    {\"name\": \"beta1\", \"default\": 0.9, \"lo\": 0, \"hi\": 1, \"lo_open\": false, "
    "\"hi_open\": true},\n"
    "    {\"name\": \"eps\", \"default\": 1e-08, \"lo\": null, \"hi\": null, \"lo_open\": true, "
    "\"hi_open\": true},\n"
    "    {\"name\": \"k\", \"default\": 10, \"lo\": 1, \"hi\": 1000, \"lo_open\": true, "
    "\"hi_open\": false}\n"
    "  ],\n"
    "  \"states\": [\n"
    "    {\"name\": \"m\", \"kind\": \"tensor\", \"dtype\": \"f32\", \"shape\": [\"n\", \"1\"]},\n"
    "    {\"name\": \"h\", \"kind\": \"tensor\", \"dtype\": \"bf16\", \"shape\": [\"n\", \"1\"]},\n"
    "    {\"name\": \"L\", \"kind\": \"matrix\", \"dtype\": \"f64\", \"shape\": [\"rows\", \"rows\"]},\n"
    "    {\"name\": \"seen\", \"kind\": \"scalar\", \"dtype\": \"f64\", \"shape\": []}\n"
    "  ],\n"
    "  \"sweeps\": 2,\n"
    "  \"bytes_per_element\": 30,\n"
    "  \"state_bytes_per_element\": 6,\n"
    "  \"state_bytes\": \"6*n + 8*rows*rows + 8\",\n"
    "  \"scratch_buffers\": 1\n"
    "}\n";

static void test_text(void **state) {
  (void)state;
  IrProgram p;
  build(&p);
  Str out = {0};
  info_format(&out, &p, false);
  assert_string_equal(out.data, TEXT);
  str_free(&out);
  ir_program_free(&p);
}

static void test_json(void **state) {
  (void)state;
  IrProgram p;
  build(&p);
  Str out = {0};
  info_format(&out, &p, true);
  assert_string_equal(out.data, JSON);
  str_free(&out);
  ir_program_free(&p);
}

static void test_empty(void **state) {
  (void)state;
  IrProgram p;
  ir_program_init(&p, "q\"x");
  ir_program_add_buffer(&p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  Str out = {0};
  info_format(&out, &p, false);
  assert_string_equal(out.data, "name: q\"x\nneeds: none\nsweeps: 0\nbytes_per_element: 0\n"
                                "state_bytes_per_element: 0\nstate_bytes: 0\nscratch_buffers: 0\n");
  str_free(&out);
  info_format(&out, &p, true);
  assert_string_equal(out.data, "{\n  \"name\": \"q\\\"x\",\n  \"needs\": [],\n  \"hypers\": [],\n"
                                "  \"states\": [],\n  \"sweeps\": 0,\n  \"bytes_per_element\": 0,\n"
                                "  \"state_bytes_per_element\": 0,\n  \"state_bytes\": \"0\",\n"
                                "  \"scratch_buffers\": 0\n}\n");
  str_free(&out);
  ir_program_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

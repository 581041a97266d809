/* cli_emit_ir.c: `optc emit-ir [-I DIR]... FILE [--after PASS|all] [--before-passes]`.
 *
 * Prints the IR of FILE to stdout in the textual form of docs/ir.md:
 * by default the scheduled program (the step plan with each stage's
 * code); with --before-passes the function-level IR as lowered; with
 * --after PASS the function-level IR after that pass (lower, fold,
 * simplify, hoist, cse, contract, dce, bcast) or the plan (schedule); with --after all,
 * each of them in order.  Diagnostics go to stderr.  Exit status: 0, 1
 * when the file has errors, 2 for bad usage or an unreadable file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ir_pipeline.h"

static const char *const PASSES[] = {"lower", "fold", "simplify", "hoist", "cse", "contract",
                                     "dce", "bcast", "schedule", "all"};
enum { NPASSES = sizeof PASSES / sizeof PASSES[0], MAX_DIRS = 64 };

static void print_help(void) {
  printf("usage: optc emit-ir [-I DIR]... FILE [--after PASS|all] [--before-passes]\n"
         "                    [--no-fp-contract]\n\n"
         "Prints the IR of FILE: by default the scheduled program (plan and\n"
         "stage code).\n\n"
         "options:\n"
         "  --before-passes  the function-level IR as lowered, before any pass\n"
         "  --after PASS     the IR after PASS: lower fold simplify hoist cse\n"
         "                   contract dce bcast (function level) or schedule (the\n"
         "                   plan)\n"
         "  --after all      the IR after lowering and after every pass\n"
         "  -I DIR           also look for imported files in DIR\n"
         "  --no-fp-contract without the contract pass (no fused multiply-add)\n"
         "  -h, --help       this help\n\n"
         "exit status: 0 success, 1 errors in the file, 2 bad usage\n");
}

typedef struct EmitArgs {
  const char *file, *after;
  const char *dirs[MAX_DIRS];
  int ndirs;
  bool no_fp_contract;
} EmitArgs;

static bool known_pass(const char *name) {
  for (int i = 0; i < NPASSES; i++)
    if (strcmp(name, PASSES[i]) == 0) return true;
  return false;
}

/* Returns -1 when parsing succeeded, else the exit status. */
static int parse_args(int argc, char **argv, EmitArgs *a) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (cli_is_help(arg)) {
      print_help();
      return 0;
    } else if (strcmp(arg, "--no-fp-contract") == 0) {
      a->no_fp_contract = true;
    } else if (strcmp(arg, "--before-passes") == 0) {
      a->after = "lower";
    } else if (strcmp(arg, "--after") == 0) {
      if (i + 1 >= argc) return cli_usage_error("emit-ir", "--after needs a pass name");
      a->after = argv[++i];
      if (!known_pass(a->after)) return cli_usage_error("emit-ir", "unknown pass '%s'", a->after);
    } else if (strncmp(arg, "-I", 2) == 0) {
      int rc = cli_include_option("emit-ir", argc, argv, &i, a->dirs, &a->ndirs, MAX_DIRS);
      if (rc >= 0) return rc;
    } else if (arg[0] == '-' && arg[1]) {
      return cli_usage_error("emit-ir", "unknown option '%s'", arg);
    } else if (a->file) {
      return cli_usage_error("emit-ir", "only one input file");
    } else {
      a->file = arg;
    }
  }
  if (!a->file) return cli_usage_error("emit-ir", "no input file");
  return -1;
}

static int emit(const EmitArgs *a, const char *text, size_t len) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagPrinter printer = {stderr, &sm};
  DiagSink sink;
  diag_init(&sink, &sm, diag_print_fn, &printer);
  SemaOptions sopts = {a->dirs, a->ndirs, false};
  Str dump = {0};
  PipelineOptions popts = {true, a->after ? a->after : "schedule", &dump, a->no_fp_contract};
  IrProgram prog;
  int errors = ir_pipeline_build_text(&prog, &sm, a->file, text, len, &sink, &sopts, &popts);
  if (dump.data) fputs(dump.data, stdout); /* up to the failing phase */
  str_free(&dump);
  ir_program_free(&prog);
  srcmgr_free(&sm);
  return errors ? 1 : 0;
}

int cli_emit_ir(int argc, char **argv) {
  EmitArgs a;
  memset(&a, 0, sizeof a);
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  char *text = NULL, *err = NULL;
  size_t len = 0;
  if (util_read_file(a.file, SRC_MAX_BYTES, &text, &len, &err) != 0) {
    fprintf(stderr, "optc emit-ir: error: %s\n", err);
    free(err);
    return 2;
  }
  rc = emit(&a, text, len);
  free(text);
  return rc;
}

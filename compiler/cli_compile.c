/* cli_compile.c: the back-end commands of the optc tool.
 *
 *   optc compile FILE -o libX.so [--target-cpu CPU] [-O N] [-I DIR]...
 *   optc emit-llvm FILE [-O N] [-o OUT] [-I DIR]...
 *   optc emit-asm FILE [--target-cpu CPU] [-O N] [-o OUT] [-I DIR]...
 *
 * All three build the scheduled program (ir_pipeline_build_file) with
 * diagnostics printed to stderr, then hand it to the back end (back.h).
 * emit-* print to stdout unless -o names a file (written atomically).
 * Exit status as in cli.h: 0, 1 for errors in the input, 2 for bad usage
 * or a failure of the environment (unwritable output, no linker).
 */
#include <stdio.h>
#include <string.h>

#include "back.h"
#include "cli.h"
#include "ir_pipeline.h"

enum { MAX_DIRS = 64 }; /* -I options; far more than any project needs */

typedef enum CompileMode { MODE_LIBRARY, MODE_LLVM, MODE_ASM } CompileMode;

typedef struct CompileArgs {
  const char *cmd, *file, *out, *cpu;
  long opt;
  const char *dirs[MAX_DIRS];
  int ndirs;
  bool no_fp_contract;
} CompileArgs;

static void print_help(CompileMode mode) {
  static const char *const usage[] = {
      "usage: optc compile FILE -o LIB.so [--target-cpu CPU] [-O N] [-I DIR]...\n\n"
      "Compiles FILE to a shared library exporting `optk_descriptor`\n"
      "(docs/abi.md); the library appears atomically.\n",
      "usage: optc emit-llvm FILE [-O N] [-o OUT] [-I DIR]...\n\n"
      "Prints the optimised LLVM IR of FILE.\n",
      "usage: optc emit-asm FILE [--target-cpu CPU] [-O N] [-o OUT] [-I DIR]...\n\n"
      "Prints the assembly of FILE for the target CPU.\n"};
  printf("%s\noptions:\n"
         "  -o OUT            output file%s\n"
         "  -O N              optimisation level 0..3 (default 2); also -O0..-O3\n"
         "  --target-cpu CPU  LLVM CPU name (default: the host's), e.g. x86-64-v3\n"
         "  -I DIR            also look for imported files in DIR\n"
         "  --no-fp-contract  round every operation on its own (default: fuse\n"
         "                    per-element a*b + c into one FMA, docs/ir.md)\n"
         "  -h, --help        this help\n\n"
         "exit status: 0 success, 1 errors in the file, 2 bad usage or I/O failure\n",
         usage[mode], mode == MODE_LIBRARY ? " (required)" : " (default: stdout)");
}

/* Parses one option at argv[*i]; returns -1 to go on, else an exit status. */
static int parse_option(CompileArgs *a, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
  if (strcmp(arg, "--no-fp-contract") == 0) {
    a->no_fp_contract = true;
    return -1;
  }
  if (strcmp(arg, "-o") == 0 || strcmp(arg, "--target-cpu") == 0 || strcmp(arg, "-O") == 0) {
    if (!next) return cli_usage_error(a->cmd, "%s needs a value", arg);
    (*i)++;
    if (arg[1] == 'o') a->out = next;
    else if (arg[1] == '-') a->cpu = next;
    else if (!cli_parse_int(next, 0, 3, &a->opt))
      return cli_usage_error(a->cmd, "-O needs a level from 0 to 3, not '%s'", next);
    return -1;
  }
  if (strncmp(arg, "-O", 2) == 0) {
    if (!cli_parse_int(arg + 2, 0, 3, &a->opt))
      return cli_usage_error(a->cmd, "unknown optimisation level '%s'", arg);
    return -1;
  }
  int rc = cli_include_option(a->cmd, argc, argv, i, a->dirs, &a->ndirs, MAX_DIRS);
  if (rc != 0) return rc;
  return cli_usage_error(a->cmd, "unknown option '%s'", arg);
}

/* Returns -1 when parsing succeeded, else the exit status. */
static int parse_args(CompileMode mode, int argc, char **argv, CompileArgs *a) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int rc = -1;
    if (cli_is_help(arg)) {
      print_help(mode);
      return 0;
    } else if (arg[0] == '-' && arg[1]) {
      rc = parse_option(a, argc, argv, &i);
    } else if (a->file) {
      rc = cli_usage_error(a->cmd, "only one input file");
    } else {
      a->file = arg;
    }
    if (rc >= 0) return rc;
  }
  if (!a->file) return cli_usage_error(a->cmd, "no input file");
  if (mode == MODE_LIBRARY && !a->out) return cli_usage_error(a->cmd, "-o LIB.so is required");
  if (mode == MODE_LLVM && a->cpu) return cli_usage_error(a->cmd, "--target-cpu is for emit-asm and compile");
  return -1;
}

static int write_output(const CompileArgs *a, const char *text) {
  if (!a->out) {
    fputs(text, stdout);
    return 0;
  }
  char *err = NULL;
  if (util_write_file_atomic(a->out, text, strlen(text), &err) == 0) return 0;
  fprintf(stderr, "optc %s: error: %s\n", a->cmd, err);
  free(err);
  return 2;
}

static int run_backend(CompileMode mode, const CompileArgs *a, IrProgram *prog, const SrcMgr *sm) {
  CgTarget t = {.cpu = a->cpu, .opt_level = (int)a->opt};
  char *err = NULL, *text = NULL;
  back_source_hash(prog, sm);
  int rc = mode == MODE_LIBRARY ? aot_compile_library(prog, &t, a->out, &err)
                                : aot_emit_text(prog, &t, mode == MODE_LLVM ? AOT_LLVM_IR : AOT_ASSEMBLY,
                                                &text, &err);
  if (rc != 0) {
    fprintf(stderr, "optc %s: error: %s\n", a->cmd, err);
    free(err);
    return 2;
  }
  rc = text ? write_output(a, text) : 0;
  free(text);
  return rc;
}

static int compile_main(CompileMode mode, const char *cmd, int argc, char **argv) {
  CompileArgs a = {.cmd = cmd, .opt = 2};
  int rc = parse_args(mode, argc, argv, &a);
  if (rc >= 0) return rc;
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagPrinter printer = {stderr, &sm};
  DiagSink sink;
  diag_init(&sink, &sm, diag_print_fn, &printer);
  SemaOptions sopts = {.import_paths = a.dirs, .nimport_paths = a.ndirs};
  PipelineOptions popts = {.no_contract = a.no_fp_contract};
  IrProgram prog;
  int errors = ir_pipeline_build_file(&prog, &sm, a.file, &sink, &sopts, &popts);
  rc = errors || sink.nerrors ? (sm.nfiles ? 1 : 2) : run_backend(mode, &a, &prog, &sm);
  ir_program_free(&prog);
  srcmgr_free(&sm);
  return rc;
}

int cli_compile(int argc, char **argv) {
  return compile_main(MODE_LIBRARY, "compile", argc, argv);
}

int cli_emit_llvm(int argc, char **argv) {
  return compile_main(MODE_LLVM, "emit-llvm", argc, argv);
}

int cli_emit_asm(int argc, char **argv) {
  return compile_main(MODE_ASM, "emit-asm", argc, argv);
}

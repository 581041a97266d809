/* cli_info.c: `optc info [-I DIR]... [--json] FILE`.
 *
 * Builds FILE through the whole middle end (ir_pipeline_build_file) and
 * prints what info.h describes: hypers, states, needs, and the static
 * costs for f32 parameters.  Exit status: 0 success, 1 the file has errors
 * (diagnostics on stderr) or cannot be read, 2 bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "info.h"
#include "ir_pipeline.h"

static void print_help(void) {
  printf("usage: optc info [--json] [-I DIR]... FILE\n\n"
         "Prints an optimizer's hypers (default and range), states, what it\n"
         "needs from the host, and for f32 parameters the sweeps over memory\n"
         "and the bytes read and written per element in one step.\n\n"
         "options:\n"
         "  --json      print one JSON object instead of `key: value` lines\n"
         "  -I DIR      also look for imported files in DIR; may be repeated\n"
         "  -h, --help  this help\n\n"
         "exit status: 0 success, 1 errors in the file, 2 bad usage\n");
}

typedef struct InfoArgs {
  bool json;
  const char **dirs;
  int ndirs;
  const char *file;
} InfoArgs;

/* Returns -1 when parsing succeeded, else the exit status. */
static int parse_args(int argc, char **argv, InfoArgs *a) {
  bool options = true;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options && cli_is_help(arg)) {
      print_help();
      return 0;
    } else if (options && strcmp(arg, "--") == 0) {
      options = false;
    } else if (options && strcmp(arg, "--json") == 0) {
      a->json = true;
    } else if (options && strncmp(arg, "-I", 2) == 0) {
      int rc = cli_include_option("info", argc, argv, &i, a->dirs, &a->ndirs, argc);
      if (rc >= 0) return rc;
    } else if (options && arg[0] == '-' && arg[1]) {
      return cli_usage_error("info", "unknown option '%s'", arg);
    } else if (a->file) {
      return cli_usage_error("info", "one input file only");
    } else {
      a->file = arg;
    }
  }
  if (!a->file) return cli_usage_error("info", "no input file");
  return -1;
}

static int run_info(const InfoArgs *a) {
  FILE *f = fopen(a->file, "rb");
  if (!f) {
    fprintf(stderr, "optc: error: cannot open '%s'\n", a->file);
    return 1;
  }
  fclose(f);
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagPrinter printer = {stderr, &sm};
  DiagSink sink;
  diag_init(&sink, &sm, diag_print_fn, &printer);
  SemaOptions sopts = {.import_paths = a->dirs, .nimport_paths = a->ndirs};
  PipelineOptions popts = {0};
  IrProgram prog;
  int errors = ir_pipeline_build_file(&prog, &sm, a->file, &sink, &sopts, &popts);
  if (sink.suppressed > 0)
    fprintf(stderr, "optc: note: %d more error%s not shown\n", sink.suppressed,
            sink.suppressed == 1 ? "" : "s");
  if (errors == 0) {
    Str out = {0};
    info_format(&out, &prog, a->json);
    fputs(out.data, stdout);
    str_free(&out);
  }
  ir_program_free(&prog);
  srcmgr_free(&sm);
  return errors == 0 ? 0 : 1;
}

int cli_info(int argc, char **argv) {
  InfoArgs a = {0};
  a.dirs = xmalloc(sizeof(char *) * (size_t)argc);
  int status = parse_args(argc, argv, &a);
  if (status < 0) status = run_info(&a);
  free(a.dirs);
  return status;
}

/* cli_check.c: `optc check [--Werror] [-I DIR]... FILE...`.
 *
 * Parses and checks each file (imports included) and prints every
 * diagnostic to stderr as `file:line:col: severity: message` with the
 * source line and a caret.  Exit status: 0 when no file has errors
 * (warnings allowed unless --Werror), 1 when one has or cannot be read,
 * 2 for bad usage.  A file holding only defs and imports (a library) is
 * checked for its defs.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sema.h"

static void print_help(void) {
  printf("usage: optc check [--Werror] [-I DIR]... FILE...\n\n"
         "Checks .opt files: syntax, names, types and shapes, and the rules of\n"
         "docs/language.md.  Prints every error and warning to stderr.\n\n"
         "options:\n"
         "  -I DIR      also look for imported files in DIR (after the\n"
         "              importing file's own directory); may be repeated\n"
         "  --Werror    treat warnings as errors\n"
         "  -h, --help  this help\n\n"
         "exit status: 0 no errors, 1 errors found, 2 bad usage\n");
}

typedef struct CheckArgs {
  bool werror;
  const char **dirs;
  int ndirs;
  const char **files;
  int nfiles;
} CheckArgs;

/* Returns -1 when parsing succeeded, else the exit status. */
static int parse_args(int argc, char **argv, CheckArgs *a) {
  bool options = true;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options && cli_is_help(arg)) {
      print_help();
      return 0;
    } else if (options && strcmp(arg, "--") == 0) {
      options = false;
    } else if (options && strcmp(arg, "--Werror") == 0) {
      a->werror = true;
    } else if (options && strncmp(arg, "-I", 2) == 0) {
      int rc = cli_include_option("check", argc, argv, &i, a->dirs, &a->ndirs, argc);
      if (rc >= 0) return rc;
    } else if (options && arg[0] == '-' && arg[1]) {
      return cli_usage_error("check", "unknown option '%s'", arg);
    } else {
      a->files[a->nfiles++] = arg;
    }
  }
  if (a->nfiles == 0) return cli_usage_error("check", "no input files");
  return -1;
}

/* Checks one file; returns its number of errors. */
static int check_one(const char *path, const CheckArgs *a) {
  SrcMgr sm;
  srcmgr_init(&sm);
  char *err = NULL;
  int file = srcmgr_load(&sm, path, &err);
  if (file < 0) {
    fprintf(stderr, "optc: error: %s\n", err);
    free(err);
    srcmgr_free(&sm);
    return 1;
  }
  DiagPrinter printer = {stderr, &sm};
  DiagSink sink;
  diag_init(&sink, &sm, diag_print_fn, &printer);
  sink.warnings_as_errors = a->werror;
  SemaOptions opts = {a->dirs, a->ndirs, true};
  SemaProgram prog;
  sema_check_file(&prog, &sm, file, &sink, &opts);
  if (sink.suppressed > 0)
    fprintf(stderr, "optc: note: %d more error%s in '%s' not shown\n", sink.suppressed,
            sink.suppressed == 1 ? "" : "s", path);
  sema_program_free(&prog);
  srcmgr_free(&sm);
  return sink.nerrors;
}

int cli_check(int argc, char **argv) {
  CheckArgs a = {0};
  a.dirs = xmalloc(sizeof(char *) * (size_t)argc);
  a.files = xmalloc(sizeof(char *) * (size_t)argc);
  int status = parse_args(argc, argv, &a);
  if (status < 0) {
    status = 0;
    for (int i = 0; i < a.nfiles; i++)
      if (check_one(a.files[i], &a) > 0) status = 1;
  }
  free(a.dirs);
  free(a.files);
  return status;
}

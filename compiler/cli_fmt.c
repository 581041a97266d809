/* cli_fmt.c: `optc fmt`, the canonical formatter.
 *
 *   optc fmt FILE             canonical text on stdout
 *   optc fmt --check FILE...  exit 1, naming each file that is not canonical
 *   optc fmt -i FILE...       rewrite files in place (atomically, only when
 *                             they change)
 *
 * fmt needs only the parser: a file with syntax errors gets its
 * diagnostics on stderr, exit status 1, and is never written.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fmt.h"
#include "front.h"

typedef enum FmtMode { FMT_PRINT, FMT_CHECK, FMT_INPLACE } FmtMode;

static void fmt_help(void) {
  printf("usage: optc fmt [--check | -i] FILE...\n\n"
         "Prints a .opt file in canonical form: 2-space indents, one statement\n"
         "per line, minimal parentheses, comments kept.\n\n"
         "options:\n"
         "  --check      print 'FILE: not canonical' for each file that differs\n"
         "               from its canonical form; exit 1 if any does\n"
         "  -i           rewrite each file in place when it changes\n"
         "  -h, --help   this help\n\n"
         "exit status: 0 success, 1 syntax errors or not canonical, 2 bad usage\n"
         "or a file that cannot be read or written\n");
}

/* Formats `path` into *out.  Returns 0, 1 (syntax errors, printed) or 2
 * (unreadable file, printed). */
static int fmt_file(const char *path, Str *out, char **orig, size_t *orig_len) {
  SrcMgr sm;
  srcmgr_init(&sm);
  char *err = NULL;
  int file = srcmgr_load(&sm, path, &err);
  if (file < 0) {
    fprintf(stderr, "optc fmt: error: %s\n", err);
    free(err);
    srcmgr_free(&sm);
    return 2;
  }
  DiagPrinter printer = {stderr, &sm};
  DiagSink diags;
  diag_init(&diags, &sm, diag_print_fn, &printer);
  AstModule m;
  int rc = front_parse(&m, &sm, file, &diags) ? 1 : 0;
  if (rc == 0) fmt_module(out, &m);
  *orig_len = sm.files[file].len;
  *orig = xstrndup(sm.files[file].text, *orig_len);
  ast_module_free(&m);
  srcmgr_free(&sm);
  return rc;
}

static int fmt_one(FmtMode mode, const char *path) {
  Str out = {0};
  char *orig = NULL;
  size_t orig_len = 0;
  int rc = fmt_file(path, &out, &orig, &orig_len);
  if (rc == 0) {
    bool same = out.len == orig_len && (out.len == 0 || memcmp(out.data, orig, out.len) == 0);
    if (mode == FMT_PRINT) {
      fwrite(out.data ? out.data : "", 1, out.len, stdout);
    } else if (mode == FMT_CHECK && !same) {
      printf("%s: not canonical\n", path);
      rc = 1;
    } else if (mode == FMT_INPLACE && !same) {
      char *err = NULL;
      if (util_write_file_atomic(path, out.data ? out.data : "", out.len, &err) != 0) {
        fprintf(stderr, "optc fmt: error: %s\n", err);
        free(err);
        rc = 2;
      }
    }
  }
  free(orig);
  str_free(&out);
  return rc;
}

int cli_fmt(int argc, char **argv) {
  FmtMode mode = FMT_PRINT;
  int first = 1;
  for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
    const char *a = argv[first];
    if (cli_is_help(a)) {
      fmt_help();
      return 0;
    }
    if (strcmp(a, "--") == 0) {
      first++;
      break;
    }
    if (strcmp(a, "--check") == 0 && mode != FMT_INPLACE) mode = FMT_CHECK;
    else if (strcmp(a, "-i") == 0 && mode != FMT_CHECK) mode = FMT_INPLACE;
    else if (strcmp(a, "--check") == 0 || strcmp(a, "-i") == 0)
      return cli_usage_error("fmt", "--check and -i cannot be combined");
    else return cli_usage_error("fmt", "unknown option '%s'", a);
  }
  int nfiles = argc - first;
  if (nfiles == 0) return cli_usage_error("fmt", "no input file");
  if (mode == FMT_PRINT && nfiles > 1)
    return cli_usage_error("fmt", "one file at a time without --check or -i");
  int status = 0;
  for (int i = first; i < argc; i++) {
    int rc = fmt_one(mode, argv[i]);
    if (rc > status) status = rc;
  }
  return status;
}

/* main.c: `optc`, the command-line tool.  One table of commands; each
 * command is a cli_<name>.c file (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "optc.h"

static const CliCommand COMMANDS[] = {
    {"check", cli_check, "check .opt files and report every error"},
    {"fmt", cli_fmt, "print a .opt file in canonical form (--check, -i)"},
    {"info", cli_info, "print hypers, states, needs, sweeps and bytes per element"},
    {"emit-ir", cli_emit_ir, "print the IR before and after passes, and the plan"},
    {"bench", cli_bench, "time a rule's kernel against the memory-bandwidth limit"},
    {"run", cli_run, "JIT-compile a rule and train a built-in task with it"},
    {"search", cli_search, "evolve optimizer programs on proxy tasks (symbolic search)"},
    {"compile", cli_compile, "compile a .opt file to a shared library (-o LIB.so)"},
    {"emit-llvm", cli_emit_llvm, "print the optimised LLVM IR of a .opt file"},
    {"emit-asm", cli_emit_asm, "print the assembly of a .opt file for a target CPU"},
};
enum { NCOMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void print_help(FILE *out) {
  fprintf(out, "usage: optc COMMAND [ARGS...]\n\n"
               "optc compiles optimizer update rules (.opt files) to native code.\n\n"
               "commands:\n");
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fprintf(out, "\noptions:\n  -h, --help     this help; `optc COMMAND --help` for a command\n"
               "  --version      print the version\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "optc %s: error: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(see 'optc %s --help')\n", cmd);
  va_end(ap);
  return 2;
}

bool cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool cli_parse_int(const char *text, long lo, long hi, long *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool cli_parse_double(const char *text, double *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno == ERANGE || *end || isnan(v)) return false;
  *out = v;
  return true;
}

int cli_include_option(const char *cmd, int argc, char **argv, int *i, const char **dirs,
                       int *ndirs, int max) {
  const char *arg = argv[*i];
  if (strncmp(arg, "-I", 2) != 0) return 0;
  const char *dir = arg[2] ? arg + 2 : (*i + 1 < argc ? argv[*i + 1] : NULL);
  if (!dir) return cli_usage_error(cmd, "-I needs a directory");
  if (*ndirs >= max) return cli_usage_error(cmd, "too many -I options");
  if (!arg[2]) (*i)++;
  dirs[(*ndirs)++] = dir;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (cli_is_help(cmd)) {
    print_help(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("optc %s\n", optc_version());
    return 0;
  }
  for (int i = 0; i < NCOMMANDS; i++)
    if (strcmp(cmd, COMMANDS[i].name) == 0) return COMMANDS[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "optc: error: unknown command '%s'\n(see 'optc --help')\n", cmd);
  return 2;
}

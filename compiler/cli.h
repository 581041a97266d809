/* cli.h: the optc command-line tool's commands.
 *
 * main.c dispatches `optc CMD ARGS...` to cli_CMD(argc, argv) with argv[0]
 * being CMD.  Each command lives in its own cli_<cmd>.c, parses its own
 * flags with the helpers below, prints `optc CMD: error: ...` for bad
 * usage and returns the process exit status:
 *   0 success, 1 the input has errors (diagnostics printed), 2 bad usage
 *   or an environment failure (file not found, cannot write).
 */
#ifndef OPTC_CLI_H
#define OPTC_CLI_H

#include <stdbool.h>

typedef int (*CliFn)(int argc, char **argv);

typedef struct CliCommand {
  const char *name;
  CliFn fn;
  const char *summary; /* one line for `optc --help` */
} CliCommand;

int cli_check(int argc, char **argv);
int cli_fmt(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_emit_ir(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_compile(int argc, char **argv);
int cli_emit_llvm(int argc, char **argv);
int cli_emit_asm(int argc, char **argv);

/* Prints "optc CMD: error: MESSAGE" and a hint to run `optc CMD --help`;
 * returns 2 for use as `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True if arg is -h or --help. */
bool cli_is_help(const char *arg);
/* Parses a whole decimal integer in [lo, hi]; false if it is not one. */
bool cli_parse_int(const char *text, long lo, long hi, long *out);
bool cli_parse_double(const char *text, double *out);
/* The `-I DIR` / `-IDIR` option shared by every command that reads .opt
 * files.  If argv[*i] is one, appends DIR to dirs (room for `max`), moves
 * *i past it and returns -1; when DIR is missing or dirs is full, prints
 * the usage error and returns 2; returns 0 when argv[*i] is no -I. */
int cli_include_option(const char *cmd, int argc, char **argv, int *i, const char **dirs,
                       int *ndirs, int max);

#endif

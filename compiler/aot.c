/* aot.c: ahead-of-time output of a scheduled IrProgram.
 *
 * A shared library is made in three steps: LLVM writes an object file to
 * a temporary path, the system C compiler links it (`cc -shared`, started
 * with posix_spawnp, no shell; its messages go to a temporary log that
 * becomes the error text on failure), and the result is renamed over the
 * output path, so the output appears atomically or not at all.  Every
 * temporary is removed on every path.  Textual IR and assembly (for
 * `optc emit-llvm` / `optc emit-asm`) are produced in memory.  The module
 * is self-contained: it defines the math library functions its sweeps
 * call (codegen_math.h), with internal linkage, and needs only libm.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"
#include "codegen_math.h"

extern char **environ;

/* Upper bound on the linker's output we keep for an error message. */
enum { AOT_LOG_MAX = 64 * 1024 };

/* A module for prog in a fresh context, with the math library functions
 * it calls defined in it (internal: the output is self-contained); the
 * caller disposes all three. */
static LLVMModuleRef aot_module(const IrProgram *prog, const CgTarget *t, LLVMContextRef *ctx,
                                LLVMTargetMachineRef *tm, char **err) {
  *ctx = NULL;
  *tm = cg_target_machine(t, err);
  if (!*tm) return NULL;
  *ctx = LLVMContextCreate();
  LLVMModuleRef mod = cg_build_module(prog, *ctx, *tm, t->opt_level, err);
  if (mod && cg_math_link(mod, *tm, t->opt_level, err)) {
    LLVMDisposeModule(mod);
    return NULL;
  }
  return mod;
}

static void aot_dispose(LLVMModuleRef mod, LLVMContextRef ctx, LLVMTargetMachineRef tm) {
  if (mod) LLVMDisposeModule(mod);
  if (ctx) LLVMContextDispose(ctx);
  if (tm) LLVMDisposeTargetMachine(tm);
}

static int aot_llvm_error(char *msg, const char *what, char **err) {
  Str s = {0};
  str_printf(&s, "%s: %s", what, msg ? msg : "unknown LLVM error");
  LLVMDisposeMessage(msg);
  *err = str_take(&s);
  return -1;
}

static int aot_assembly(LLVMTargetMachineRef tm, LLVMModuleRef mod, char **text, char **err) {
  char *msg = NULL;
  LLVMMemoryBufferRef buf = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf))
    return aot_llvm_error(msg, "cannot emit assembly", err);
  *text = xstrndup(LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
  LLVMDisposeMemoryBuffer(buf);
  return 0;
}

int aot_emit_text(const IrProgram *prog, const CgTarget *t, AotOutput kind, char **text,
                  char **err) {
  LLVMContextRef ctx;
  LLVMTargetMachineRef tm;
  LLVMModuleRef mod = aot_module(prog, t, &ctx, &tm, err);
  int rc = mod ? 0 : -1;
  if (mod && kind == AOT_LLVM_IR) {
    char *ir = LLVMPrintModuleToString(mod);
    *text = xstrdup(ir);
    LLVMDisposeMessage(ir);
  } else if (mod) {
    rc = aot_assembly(tm, mod, text, err);
  }
  aot_dispose(mod, ctx, tm);
  return rc;
}

/* Creates an empty temporary file named `prefix` plus mkstemp's six
 * random characters. */
static char *aot_temp(const char *prefix, char **err) {
  Str s = {0};
  str_puts(&s, prefix);
  for (int i = 0; i < 6; i++) str_putc(&s, 'X'); /* mkstemp's template */
  char *path = str_take(&s);
  int fd = mkstemp(path);
  if (fd >= 0) {
    close(fd);
    return path;
  }
  str_printf(&s, "cannot create a temporary file '%s...': %s", prefix, strerror(errno));
  *err = str_take(&s);
  free(path);
  return NULL;
}

static char *aot_temp_in_tmpdir(const char *stem, char **err) {
  const char *dir = getenv("TMPDIR");
  Str s = {0};
  str_printf(&s, "%s/%s", dir && *dir ? dir : "/tmp", stem);
  char *pattern = str_take(&s);
  char *path = aot_temp(pattern, err);
  free(pattern);
  return path;
}

static int aot_write_object(LLVMTargetMachineRef tm, LLVMModuleRef mod, char *path, char **err) {
  char *msg = NULL;
  if (LLVMTargetMachineEmitToFile(tm, mod, path, LLVMObjectFile, &msg))
    return aot_llvm_error(msg, "cannot write the object file", err);
  return 0;
}

static void aot_link_failed(const char *log_path, const char *why, char **err) {
  char *log = NULL, *rerr = NULL;
  size_t len = 0;
  if (util_read_file(log_path, AOT_LOG_MAX, &log, &len, &rerr)) free(rerr);
  Str s = {0};
  str_printf(&s, "linking with cc failed (%s)", why);
  if (log && len) str_printf(&s, ":\n%s", log);
  free(log);
  *err = str_take(&s);
}

/* cc -shared -o out obj -lm, its output in log_path. */
static int aot_link(const char *obj, const char *out, const char *log_path, char **err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char *argv[] = {"cc", "-shared", "-o", (char *)out, (char *)obj, "-lm", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "cc", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    Str s = {0};
    str_printf(&s, "cannot run cc: %s", strerror(rc));
    *err = str_take(&s);
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  aot_link_failed(log_path, WIFEXITED(status) ? "non-zero exit" : "killed", err);
  return -1;
}

static int aot_install(const char *tmp, const char *out, char **err) {
  if (chmod(tmp, 0755) == 0 && rename(tmp, out) == 0) return 0;
  Str s = {0};
  str_printf(&s, "cannot write '%s': %s", out, strerror(errno));
  *err = str_take(&s);
  return -1;
}

static int aot_object_to_library(const char *obj, const char *out_path, char **err) {
  Str s = {0};
  str_printf(&s, "%s.tmp", out_path);
  char *pattern = str_take(&s);
  char *tmp = aot_temp(pattern, err);
  free(pattern);
  if (!tmp) return -1;
  char *log = aot_temp_in_tmpdir("optc-cc-", err);
  int rc = log ? aot_link(obj, tmp, log, err) : -1;
  if (rc == 0) rc = aot_install(tmp, out_path, err);
  if (rc != 0) unlink(tmp);
  if (log) unlink(log);
  free(log);
  free(tmp);
  return rc;
}

int aot_compile_library(const IrProgram *prog, const CgTarget *t, const char *out_path,
                        char **err) {
  LLVMContextRef ctx;
  LLVMTargetMachineRef tm;
  LLVMModuleRef mod = aot_module(prog, t, &ctx, &tm, err);
  if (!mod) {
    aot_dispose(mod, ctx, tm);
    return -1;
  }
  char *obj = aot_temp_in_tmpdir("optc-obj-", err);
  int rc = obj ? aot_write_object(tm, mod, obj, err) : -1;
  aot_dispose(mod, ctx, tm);
  if (rc == 0) rc = aot_object_to_library(obj, out_path, err);
  if (obj) unlink(obj);
  free(obj);
  return rc;
}

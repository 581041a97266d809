/* fuzz_smoke.c: runs the fuzz target once over every file of
 * tests/fuzz/corpus/ and every .opt under tests/golden/ and stdlib/ (or
 * over the files given as arguments), for `make test`.  A crash, a
 * sanitizer report or a round-trip abort fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool wanted(const char *name, bool all) {
  size_t n = strlen(name);
  return all || (n > 4 && strcmp(name + n - 4, ".opt") == 0);
}

static int run_file(const char *path) {
  char *text, *err;
  size_t len;
  if (util_read_file(path, 1 << 24, &text, &len, &err) != 0) {
    fprintf(stderr, "fuzz_smoke: %s\n", err);
    free(err);
    return 0;
  }
  LLVMFuzzerTestOneInput((const uint8_t *)text, len);
  free(text);
  return 1;
}

/* Every file under `dir` (recursively); all files, or only .opt ones. */
static int run_dir(const char *dir, bool all) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  int n = 0;
  struct dirent *ent;
  while ((ent = readdir(dp)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    Str path = {0};
    str_printf(&path, "%s/%s", dir, ent->d_name);
    struct stat st;
    if (stat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) n += run_dir(path.data, all);
    else if (wanted(ent->d_name, all)) n += run_file(path.data);
    str_free(&path);
  }
  closedir(dp);
  return n;
}

int main(int argc, char **argv) {
  int n = 0;
  if (argc > 1) {
    for (int i = 1; i < argc; i++) n += run_file(argv[i]);
  } else {
    n += run_dir(OPTC_SOURCE_DIR "/tests/fuzz/corpus", true);
    n += run_dir(OPTC_SOURCE_DIR "/tests/golden", false);
    n += run_dir(OPTC_SOURCE_DIR "/stdlib", false);
  }
  printf("fuzz_smoke: %d inputs\n", n);
  return n > 0 ? 0 : 1;
}

/* read_text.h: a small text file (a .opt source) read whole for a test,
 * NUL-terminated; files of up to 64 KiB (stdlib files are a few KiB). */
#ifndef OPTC_TEST_READ_TEXT_H
#define OPTC_TEST_READ_TEXT_H

#include <stdio.h>
#include <stdlib.h>

/* Returns the malloc'd text (free it) and its length in *len (may be
 * NULL), or NULL when the file cannot be read. */
static inline char *test_read_text(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  char *buf = malloc(1 << 16);
  size_t got = buf ? fread(buf, 1, (1 << 16) - 1, fp) : 0;
  fclose(fp);
  if (buf) buf[got] = '\0';
  if (len) *len = got;
  return buf;
}

#endif

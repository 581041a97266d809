/* tmpdir.h: a fresh directory for a test, /tmp/<prefix> plus mkdtemp's
 * six random characters.  The template's six placeholder letters are
 * written by memset, as mkdtemp wants them. */
#ifndef OPTC_TEST_TMPDIR_H
#define OPTC_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills buf (at least strlen("/tmp/") + strlen(prefix) + 7 bytes) and
 * creates the directory; returns buf, or NULL if mkdtemp failed. */
static inline char *test_mkdtemp(char *buf, size_t size, const char *prefix) {
  int n = snprintf(buf, size, "/tmp/%s", prefix);
  if (n < 0 || (size_t)n + 7 > size) return NULL;
  memset(buf + n, 'X', 6);
  buf[n + 6] = '\0';
  return mkdtemp(buf);
}

#endif

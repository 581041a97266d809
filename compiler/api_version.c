/* api_version.c: version and option defaults of the public API (optc.h). */
#include <string.h>

#include "optc.h"

#define OPTC_API __attribute__((visibility("default")))

OPTC_API const char *optc_version(void) { return OPTC_VERSION; }

OPTC_API void optc_options_init(OptcOptions *o) {
  memset(o, 0, sizeof *o);
  o->opt_level = 2;
}

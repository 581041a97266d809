#!/bin/sh
# run_golden.sh: golden tests of optc (see tests/golden/README.md).
#
#   tests/golden/run_golden.sh OPTC [--update] [FILE.opt | DIR]...
#
# Runs from the repository root.  For every tests/golden/**/*.opt (or the
# files and folders given):
#   FILE.err  first line `# exit: N`, then the exact stderr of
#             `OPTC check FILE` (FILE as a path relative to the root);
#   FILE.fmt  the exact stdout of `OPTC fmt FILE` (exit status 0);
#   FILE.ir   the exact stdout of `OPTC emit-ir FILE --after all` (exit
#             status 0): the IR before and after every pass, and the plan.
# Prints each failing file with a diff and exits 1 if any failed.
# --update rewrites the expectations from the current optc; an .opt with
# no expectation yet gets a .err when `optc check` fails or prints
# anything, and a .fmt otherwise.
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 OPTC [--update] [FILE.opt | DIR]..." >&2
  exit 2
fi
OPTC=$1
shift
UPDATE=0
if [ "${1:-}" = "--update" ]; then
  UPDATE=1
  shift
fi
case "$OPTC" in
  /*) ;;
  *) OPTC="$(pwd)/$OPTC" ;;
esac
cd "$(dirname "$0")/../.." || exit 2
if [ ! -x "$OPTC" ]; then
  echo "run_golden.sh: $OPTC is not an executable" >&2
  exit 2
fi

TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

list_files() {
  if [ $# -eq 0 ]; then
    find tests/golden -name '*.opt' -type f | LC_ALL=C sort
    return
  fi
  for a in "$@"; do
    if [ -d "$a" ]; then find "$a" -name '*.opt' -type f | LC_ALL=C sort
    else echo "$a"; fi
  done
}

failed=0
passed=0
nfiles=0

fail() { # file, what, expected file, actual file
  failed=$((failed + 1))
  echo "FAIL $1 ($2)"
  diff -u "$3" "$4" | sed -e '1,2d' -e 's/^/    /'
}

check_err() { # opt err
  "$OPTC" check "$1" >/dev/null 2>"$TMP/stderr"
  status=$?
  { echo "# exit: $status"; cat "$TMP/stderr"; } >"$TMP/actual"
  if [ "$UPDATE" = 1 ]; then
    cmp -s "$TMP/actual" "$2" || { cp "$TMP/actual" "$2"; echo "updated $2"; }
  elif cmp -s "$TMP/actual" "$2"; then
    passed=$((passed + 1))
  else
    fail "$1" "optc check: stderr and exit status" "$2" "$TMP/actual"
  fi
}

check_fmt() { # opt fmt
  "$OPTC" fmt "$1" >"$TMP/actual" 2>"$TMP/stderr"
  status=$?
  if [ $status -ne 0 ]; then
    cat "$TMP/stderr" >>"$TMP/actual"
    echo "# exit: $status" >>"$TMP/actual"
  fi
  if [ "$UPDATE" = 1 ]; then
    cmp -s "$TMP/actual" "$2" || { cp "$TMP/actual" "$2"; echo "updated $2"; }
  elif cmp -s "$TMP/actual" "$2"; then
    passed=$((passed + 1))
  else
    fail "$1" "optc fmt: stdout" "$2" "$TMP/actual"
  fi
}

check_ir() { # opt ir
  "$OPTC" emit-ir "$1" --after all >"$TMP/actual" 2>"$TMP/stderr"
  status=$?
  if [ $status -ne 0 ]; then
    cat "$TMP/stderr" >>"$TMP/actual"
    echo "# exit: $status" >>"$TMP/actual"
  fi
  if [ "$UPDATE" = 1 ]; then
    cmp -s "$TMP/actual" "$2" || { cp "$TMP/actual" "$2"; echo "updated $2"; }
  elif cmp -s "$TMP/actual" "$2"; then
    passed=$((passed + 1))
  else
    fail "$1" "optc emit-ir --after all: stdout" "$2" "$TMP/actual"
  fi
}

new_expectation() { # opt base
  "$OPTC" check "$1" >/dev/null 2>"$TMP/stderr"
  status=$?
  if [ $status -ne 0 ] || [ -s "$TMP/stderr" ]; then
    : >"$2.err"
    check_err "$1" "$2.err"
  else
    : >"$2.fmt"
    check_fmt "$1" "$2.fmt"
  fi
}

for opt in $(list_files "$@"); do
  nfiles=$((nfiles + 1))
  base=${opt%.opt}
  found=0
  if [ -f "$base.err" ]; then
    check_err "$opt" "$base.err"
    found=1
  fi
  if [ -f "$base.fmt" ]; then
    check_fmt "$opt" "$base.fmt"
    found=1
  fi
  if [ -f "$base.ir" ]; then
    check_ir "$opt" "$base.ir"
    found=1
  fi
  if [ $found = 0 ]; then
    if [ "$UPDATE" = 1 ]; then
      new_expectation "$opt" "$base"
    else
      failed=$((failed + 1))
      echo "FAIL $opt (no .err, .fmt or .ir expectation; run with --update)"
    fi
  fi
done

if [ "$UPDATE" = 1 ]; then
  echo "golden: expectations of $nfiles files up to date"
  exit 0
fi
echo "golden: $passed passed, $failed failed ($nfiles files)"
[ $failed -eq 0 ]

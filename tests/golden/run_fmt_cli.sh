#!/bin/sh
# run_fmt_cli.sh: `optc fmt` as a command: --check, -i, exit statuses,
# nothing written on syntax errors.   run_fmt_cli.sh OPTC
set -u
OPTC=$1
case "$OPTC" in /*) ;; *) OPTC="$(pwd)/$OPTC" ;; esac
TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 2
failed=0
expect() { # description, wanted status, actual status
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: exit status $3, want $2"
    failed=1
  fi
}
printf 'optimizer x\nupdate {\n  p = p - 0.1 * g\n}\n' >good.opt
printf 'optimizer  x\nupdate { p=p-0.1*g }\n' >ugly.opt
printf 'optimizer x\nupdate {\n  p = p -\n}\n' >bad.opt
cp ugly.opt ugly_orig.opt
cp bad.opt bad_orig.opt

"$OPTC" fmt ugly.opt >out.txt 2>err.txt; expect "fmt prints" 0 $?
cmp -s out.txt good.opt || { echo "FAIL fmt output differs from good.opt"; failed=1; }
[ -s err.txt ] && { echo "FAIL fmt wrote to stderr"; failed=1; }

"$OPTC" fmt --check good.opt >out.txt; expect "--check canonical" 0 $?
[ -s out.txt ] && { echo "FAIL --check printed for a canonical file"; failed=1; }
"$OPTC" fmt --check good.opt ugly.opt >out.txt; expect "--check not canonical" 1 $?
[ "$(cat out.txt)" = "ugly.opt: not canonical" ] || { echo "FAIL --check message: $(cat out.txt)"; failed=1; }
cmp -s ugly.opt ugly_orig.opt || { echo "FAIL --check changed a file"; failed=1; }

"$OPTC" fmt -i ugly.opt good.opt; expect "-i" 0 $?
cmp -s ugly.opt good.opt || { echo "FAIL -i did not rewrite"; failed=1; }

"$OPTC" fmt bad.opt >out.txt 2>err.txt; expect "syntax error" 1 $?
[ -s out.txt ] && { echo "FAIL fmt printed output for a file with errors"; failed=1; }
grep -q "bad.opt:3:10: error: expected an expression, saw end of line" err.txt ||
  { echo "FAIL diagnostics: $(cat err.txt)"; failed=1; }
"$OPTC" fmt -i bad.opt 2>/dev/null; expect "-i syntax error" 1 $?
cmp -s bad.opt bad_orig.opt || { echo "FAIL -i wrote a file with errors"; failed=1; }

"$OPTC" fmt --frobnicate good.opt 2>err.txt; expect "unknown flag" 2 $?
grep -q "optc fmt: error: unknown option '--frobnicate'" err.txt || { echo "FAIL usage message"; failed=1; }
"$OPTC" fmt 2>/dev/null; expect "no file" 2 $?
"$OPTC" fmt missing.opt 2>/dev/null; expect "missing file" 2 $?
"$OPTC" fmt good.opt ugly.opt >/dev/null 2>&1; expect "two files without a mode" 2 $?
"$OPTC" fmt --help >out.txt; expect "--help" 0 $?
grep -q "usage: optc fmt" out.txt || { echo "FAIL --help text"; failed=1; }

[ $failed = 0 ] && echo "fmt_cli: all passed"
exit $failed

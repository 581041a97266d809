#!/usr/bin/env bash
# `optc search` refuses a start program that does not check: the
# diagnostics as `optc check` prints them, exit 1, and no output directory.
#   search_cli.sh OPTC
set -u
optc=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'optimizer bad\nupdate {\n  p = p - lr * g\n}\n' >"$dir/bad.opt"
"$optc" search --start "$dir/bad.opt" --tasks quadratic --evals 5 --seed 1 \
  --out "$dir/out" >"$dir/stdout" 2>"$dir/stderr"
rc=$?
failed=0
[ "$rc" = 1 ] || { echo "FAILED: exit $rc, want 1"; failed=1; }
grep -q "bad.opt:3:11: error: unknown name 'lr'" "$dir/stderr" ||
  { echo "FAILED: no diagnostic:"; cat "$dir/stderr"; failed=1; }
[ ! -e "$dir/out" ] || { echo "FAILED: the output directory was created"; failed=1; }
if [ "$failed" = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$failed"

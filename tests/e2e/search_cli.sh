#!/usr/bin/env bash
# `optc search` refuses a start program that does not check (the
# diagnostics as `optc check` prints them, exit 1) and `--resume` with no
# checkpoint (exit 2); neither creates the output directory.
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
"$optc" search --start "$(dirname "$0")/../../stdlib/sgd.opt" --tasks quadratic --evals 5 --seed 1 --resume \
  --out "$dir/out2" >"$dir/stdout" 2>"$dir/stderr"
rc=$?
[ "$rc" = 2 ] || { echo "FAILED: --resume without checkpoint: exit $rc, want 2"; failed=1; }
grep -q "optc search: error: cannot resume: '$dir/out2/search.ckpt': No such file or directory" \
  "$dir/stderr" || { echo "FAILED: no resume error:"; cat "$dir/stderr"; failed=1; }
[ ! -e "$dir/out2" ] || { echo "FAILED: --resume created the output directory"; failed=1; }
if [ "$failed" = 0 ]; then echo "2 passed, 0 failed"; else echo "failed"; fi
exit "$failed"

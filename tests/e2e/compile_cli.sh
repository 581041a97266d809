#!/usr/bin/env bash
# `optc compile` and `optc emit-asm` refuse a --target-cpu LLVM does not
# know for x86-64 (LLVM alone would warn and then abort the process), exit
# 2 with the message, and leave no output file; an existing output file
# stays as it was.  A known CPU still compiles.
#   compile_cli.sh OPTC SOURCE_DIR
set -u
optc=$1
src=$2/stdlib/adam.opt
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0
passed=0
check() { # name, want exit, got exit
  if [ "$3" = "$2" ]; then passed=$((passed + 1)); else echo "FAILED: $1: exit $3, want $2"; failed=1; fi
}
for cpu in nosuchcpu i386; do
  "$optc" compile "$src" -o "$dir/lib.so" --target-cpu "$cpu" >"$dir/out" 2>"$dir/err"
  check "compile --target-cpu $cpu" 2 $?
  grep -q "optc compile: error: unknown target CPU '$cpu'" "$dir/err" ||
    { echo "FAILED: $cpu: no message:"; cat "$dir/err"; failed=1; }
  [ ! -e "$dir/lib.so" ] || { echo "FAILED: $cpu: lib.so was created"; failed=1; }
done
printf 'keep' >"$dir/asm.s"
"$optc" emit-asm "$src" -o "$dir/asm.s" --target-cpu nosuchcpu >"$dir/out" 2>"$dir/err"
check "emit-asm --target-cpu nosuchcpu" 2 $?
[ "$(cat "$dir/asm.s")" = keep ] || { echo "FAILED: emit-asm overwrote its output"; failed=1; }
"$optc" compile "$src" -o "$dir/lib.so" --target-cpu x86-64-v3 >"$dir/out" 2>"$dir/err"
check "compile --target-cpu x86-64-v3" 0 $?
[ -s "$dir/lib.so" ] || { echo "FAILED: x86-64-v3: no library"; failed=1; }
if [ "$failed" = 0 ]; then echo "$passed passed, 0 failed"; else echo "failed"; fi
exit "$failed"

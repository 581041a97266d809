#!/usr/bin/env bash
# `optc bench`: usage errors exit 2 with a message; a rule on 2-D
# parameters wants --shape and says so; --shape runs it on a matrix and
# reports the shape and the traffic of p-sized arrays only (Adafactor's R
# and C are not streams: 28 bytes and 3 sweeps, as `optc info` counts);
# --json gives the shape as n and cols; --rounds and --min-time set the
# rounds, and each ratio comes with its 95% interval.
#   bench_cli.sh OPTC SOURCE_DIR
set -u
optc=$1
std=$2/stdlib
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0
passed=0
fail() { echo "FAILED: $*"; failed=1; }
expect() { # want-exit, message substring, args...
  local want=$1 msg=$2
  shift 2
  "$optc" bench "$@" >"$dir/out" 2>"$dir/err"
  local got=$?
  if [ "$got" != "$want" ]; then fail "bench $*: exit $got, want $want"; return; fi
  if ! grep -qF -- "$msg" "$dir/err"; then fail "bench $*: no '$msg' in:"; cat "$dir/err"; return; fi
  passed=$((passed + 1))
}
expect 2 "--n and --shape: give one of them" "$std/adam.opt" --n 64 --shape 8x8
expect 2 "--shape wants ROWSxCOLS" "$std/adafactor.opt" --shape 0x8
expect 2 "--shape wants ROWSxCOLS" "$std/adafactor.opt" --shape 8x
expect 2 "--shape wants ROWSxCOLS" "$std/adafactor.opt" --shape x8
expect 2 "--shape wants ROWSxCOLS" "$std/adafactor.opt" --shape 8*8
expect 2 "--shape wants ROWSxCOLS" "$std/adafactor.opt" --shape 1000000x1000000
expect 2 "--shape needs a value" "$std/adafactor.opt" --shape
expect 2 "--threads wants 1..1024" "$std/adam.opt" --threads 0
expect 2 "--rounds wants 3..100000" "$std/adam.opt" --rounds 2
expect 2 "--rounds wants 3..100000" "$std/adam.opt" --rounds many
expect 2 "--min-time wants seconds in 0..3600" "$std/adam.opt" --min-time -1
expect 2 "--min-time wants seconds in 0..3600" "$std/adam.opt" --min-time nan
expect 2 "--min-time needs a value" "$std/adam.opt" --min-time
expect 1 "the rule works on 2-D parameters only" "$std/adafactor.opt" --n 4096
"$optc" bench "$std/adafactor.opt" --shape 64x48 >"$dir/out" 2>"$dir/err"
if [ $? != 0 ]; then
  fail "bench --shape 64x48:"; cat "$dir/err"
else
  for want in "rule: adafactor" "n: 3072" "shape: 64x48" "sweeps: 3" "bytes_per_element: 28" \
              "ratio_to_bandwidth: "; do
    grep -qxF -- "$want" <(sed 's/\(ratio_to_bandwidth: \).*/\1/' "$dir/out") ||
      { fail "bench --shape 64x48: no line '$want' in:"; cat "$dir/out"; }
  done
  passed=$((passed + 1))
fi
# Exactly R rounds when no time is asked for; each ratio with its 95%
# interval (five rounds: the whole range), no verdict below 16M.
"$optc" bench "$std/lion.opt" --n 5000 --rounds 5 --min-time 0 >"$dir/out" 2>"$dir/err"
if [ $? != 0 ]; then
  fail "bench --rounds 5:"; cat "$dir/err"
else
  for want in "reps: 5" "ratio_to_bandwidth_ci95: " "ratio_to_handwritten_ci95: "; do
    grep -qF -- "$want" "$dir/out" || { fail "bench --rounds 5: no '$want' in:"; cat "$dir/out"; }
  done
  for side in bandwidth handwritten; do # 0 < lo <= median <= hi
    awk -v s="$side" '$1 == "ratio_to_" s ":" { r = $2 }
      $1 == "ratio_to_" s "_ci95:" { lo = $2; hi = $3 }
      END { exit !(lo > 0 && lo <= r && r <= hi) }' "$dir/out" ||
      { fail "bench --rounds 5: the $side interval does not hold its median:"; cat "$dir/out"; }
  done
  if grep -q "^verdict" "$dir/out"; then fail "bench --n 5000: a verdict below 16M"; fi
  passed=$((passed + 1))
fi
# A narrow matrix (8 columns, fewer than a vector's lanes) as JSON: the
# shape in "n" and "cols".
"$optc" bench "$std/adafactor.opt" --shape 300x8 --json >"$dir/out" 2>"$dir/err"
if [ $? != 0 ]; then
  fail "bench --shape 300x8 --json:"; cat "$dir/err"
elif ! grep -qF '"n": 2400, "cols": 8,' "$dir/out"; then
  fail "bench --shape 300x8 --json: no n and cols in:"; cat "$dir/out"
else
  passed=$((passed + 1))
fi
if [ "$failed" = 0 ]; then echo "$passed passed, 0 failed"; else echo "failed"; fi
exit "$failed"

#!/usr/bin/env bash
# Every stdlib rule on every built-in task, a few steps each, through the
# CLI a newcomer uses (`optc run stdlib/X.opt --task T`).  A pair either
# runs to its `params_sha256:` line, or is refused because the rule needs
# something the task cannot give (an hvp, a dense Hessian, Gauss-Newton-
# Bartlett gradients, 2-D or single tensors) with the runtime's message, or ends with an honest numerical
# outcome of the method (a failed line search, parameters restored).
# Anything else (a crash, another error, no report) fails the test.
#
#   run_matrix.sh OPTC REPO_ROOT [JOBS]
set -u
optc=$1
root=$2
jobs=${3:-2}
cd "$root" || exit 2

tasks=$("$optc" run --help | awk '/^tasks:/ {f = 1; next} f && NF {print $1}')
[ -n "$tasks" ] || { echo "run_matrix: no tasks listed by 'optc run --help'"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

one() { # rule task outdir
  local rule=$1 task=$2 log
  log="$3/$(basename "$rule" .opt)@$task"
  "$optc" run "$rule" --task "$task" --steps 3 --threads 1 >"$log.out" 2>"$log.err"
  echo $? >"$log.rc"
}
export -f one
export optc

for rule in stdlib/*.opt; do
  for task in $tasks; do echo "$rule $task"; done
done | xargs -P "$jobs" -n 2 bash -c 'one "$0" "$1" '"$out"

ran=0 refused=0 stopped=0 failed=0
for rc_file in "$out"/*.rc; do
  base=${rc_file%.rc}
  name=$(basename "$base")
  rc=$(cat "$rc_file")
  if [ "$rc" = 0 ] && grep -q '^params_sha256: [0-9a-f]\{64\}$' "$base.out"; then
    ran=$((ran + 1))
  elif [ "$rc" = 1 ] && grep -Eq 'needs (Hessian-vector products|a dense Hessian|Gauss-Newton-Bartlett gradients|2-D)|one parameter|only for 2-D|is 1-D' "$base.err"; then
    refused=$((refused + 1))
  elif [ "$rc" = 1 ] && grep -q 'line search failed: .*parameters restored' "$base.err"; then
    stopped=$((stopped + 1))
    echo "stopped: $name: $(grep -m1 error "$base.err")"
  else
    failed=$((failed + 1))
    echo "FAILED: $name (exit $rc)"
    sed 's/^/    /' "$base.err" | head -8
  fi
done
echo "run matrix: $ran ran, $refused refused (rule needs what the task lacks), $stopped stopped by the method"

# --tol minimizes a deterministic task to a gradient-norm tolerance.
tol=$("$optc" run stdlib/lbfgs.opt --task mgh_rosenbrock --tol 1e-4 --steps 200 2>&1)
if grep -q '^stop: gradient norm below gtol$' <<<"$tol" && grep -q '^fevals: ' <<<"$tol"; then
  ran=$((ran + 1))
else
  failed=$((failed + 1))
  echo "FAILED: optc run --tol on lbfgs/mgh_rosenbrock:"
  sed 's/^/    /' <<<"$tol"
fi

echo "$((ran + refused + stopped)) passed, $failed failed"
[ "$failed" = 0 ]

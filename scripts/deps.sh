#!/usr/bin/env bash
# Installs the Debian packages optc needs, if any is missing.  Runs apt-get
# as root (directly, or through sudo when not root).  Idempotent: prints
# nothing and touches nothing when everything is there.
#
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh fuzz     + clang-19 and its libFuzzer runtime
#   scripts/deps.sh parity   + python3-torch, python3-numpy (fixture generation)
#   scripts/deps.sh bench    + liblbfgs-dev (comparator only)
set -euo pipefail

pkgs=(build-essential cmake make llvm-19-dev re2c bison libopenblas-dev
      libcmocka-dev zlib1g-dev libzstd-dev libxml2-dev python3)
for extra in "$@"; do
  case "$extra" in
    fuzz) pkgs+=(clang-19 libclang-rt-19-dev libomp-19-dev) ;;
    parity) pkgs+=(python3-torch python3-numpy) ;;
    bench) pkgs+=(liblbfgs-dev) ;;
    *) echo "deps.sh: unknown extra '$extra' (fuzz, parity, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "deps.sh: missing packages (${missing[*]}) and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

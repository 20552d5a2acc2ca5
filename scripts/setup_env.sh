#!/usr/bin/env bash
# Sets up everything BeatLM needs on a Debian machine: system packages (apt-get when root), a
# virtual environment and the pinned Python packages. Idempotent; `make setup` calls it.
#
# Usage: scripts/setup_env.sh [VENV_DIR]          (default: .venv)
# Environment:
#   PYTHON=python3.11        interpreter used to create the venv
#   TORCH_INDEX_URL=URL      where torch comes from (e.g. https://download.pytorch.org/whl/cu128 for
#                            a given CUDA, https://download.pytorch.org/whl/cpu for a CPU-only build)
#   BEATLM_SKIP_APT=1        do not stop when Debian packages are missing and we are not root
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root_dir/.venv}
python=${PYTHON:-python3}
req=$root_dir/requirements
lock=$req/lock.txt

# --- Debian packages -------------------------------------------------------------------------
mapfile -t apt_packages < <(grep -v -e '^#' -e '^$' "$req/apt.txt")
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "beatlm setup: installing Debian packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "beatlm setup: missing Debian packages: ${missing[*]}" >&2
      echo "beatlm setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
      echo "beatlm setup: (or set BEATLM_SKIP_APT=1 to go on without them)" >&2
      [ -n "${BEATLM_SKIP_APT:-}" ] || exit 1
    fi
  fi
else
  echo "beatlm setup: not a Debian system; make sure these are installed: ${apt_packages[*]}" >&2
fi

# --- Python packages -------------------------------------------------------------------------
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
torch_index=()
[ -z "${TORCH_INDEX_URL:-}" ] || torch_index=(--index-url "$TORCH_INDEX_URL")

echo "beatlm setup: installing Python packages into $venv"
# torch first and alone: on these machines pip takes a local CPU wheel; elsewhere the same pin is
# the CUDA build from PyPI unless TORCH_INDEX_URL says otherwise.
"${pip[@]}" install -c "$lock" "${torch_index[@]}" torch
# torchaudio's published wheels depend on a matching CUDA torch; BeatLM only uses its pure-Python
# transforms (see beatlm/bends/torchaudio_cpu.py), so it is installed without dependencies.
"${pip[@]}" install -c "$lock" --no-deps torchaudio
"${pip[@]}" install -c "$lock" -r "$req/base.txt" -r "$req/dev.txt"
"${pip[@]}" install -c "$lock" --no-deps -r "$req/no-deps.txt"
"${pip[@]}" install --no-deps -e "$root_dir"
"$venv/bin/python" -m beatlm.bends.torchaudio_cpu
echo "beatlm setup: done ($venv)"

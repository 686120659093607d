#!/usr/bin/env bash
# install.sh: makes sure moto_server is the moto that requirements.txt pins,
# installing the pinned set with pip when moto is missing or another version:
# from requirements.lock with --require-hashes (pip checks every file's
# sha256) when the lock exists, else from requirements.txt by exact versions
# only, with a note. `make check-moto` and tools/with-moto.sh run it; it says
# what to do by hand when it cannot install.
set -euo pipefail

here=$(dirname "$0")
requirements="$here/requirements.txt"
lock="$here/requirements.lock"
pinned=$(sed -n 's/^moto\[server\]==\([^ ]*\).*/\1/p' "$requirements")
if [ -z "$pinned" ]; then
  echo "error: $requirements pins no moto[server]==VERSION" >&2
  exit 1
fi

# The moto python3 imports, which the launcher runs: empty when there is none.
installed() {
  python3 -c 'from importlib.metadata import version; print(version("moto"))' 2>/dev/null || true
}

have=$(installed)
if [ "$have" = "$pinned" ] && command -v moto_server >/dev/null 2>&1; then
  exit 0
fi

# pins FILE: the NAME==VERSION lines of a requirements file, sorted.
pins() { sed -n 's/^\([A-Za-z0-9][^ =#]*==[^ \\#]*\).*/\1/p' "$1" | sort; }

if [ -f "$lock" ]; then
  if [ "$(pins "$lock")" != "$(pins "$requirements")" ]; then
    echo "error: $lock does not pin what $requirements pins: run make moto-lock (tools/motoserver/lock.sh) on a machine that reaches the package index" >&2
    exit 1
  fi
  args=(--require-hashes -r "$lock")
else
  echo "note: no $lock: installing by exact versions, without checking file hashes (make moto-lock writes the lock, on a machine that reaches the package index)" >&2
  args=(-r "$requirements")
fi
by_hand="python3 -m pip install ${args[*]}"
if [ -z "$have" ]; then
  echo "moto_server not found; installing moto $pinned with: $by_hand" >&2
else
  echo "moto $have is installed, the local stack is pinned to moto $pinned; installing it with: $by_hand" >&2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 not found. Install Python 3, then run: $by_hand" >&2
  exit 1
fi
if ! python3 -m pip install --quiet "${args[@]}"; then
  echo "error: pip could not install moto $pinned (its message is above). Run by hand: $by_hand" >&2
  echo "(in a virtual environment if your Python is managed by the system)" >&2
  exit 1
fi
have=$(installed)
if [ "$have" != "$pinned" ]; then
  echo "error: after installing, python3 imports moto ${have:-(none)}, not $pinned. Run by hand: $by_hand" >&2
  exit 1
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "error: moto $pinned is installed but moto_server is not on PATH: add pip's scripts folder ($(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')) to PATH" >&2
  exit 1
fi

#!/usr/bin/env bash
# lock.sh: writes requirements.lock, the set requirements.txt pins with the
# sha256 of every file pip may install for it, so that install.sh installs
# it with --require-hashes: pip then refuses any file whose hash is not in
# the lock. Run it (`make moto-lock`) on a machine that reaches the package
# index, whenever requirements.txt changes, and commit the lock.
#
# It downloads the pinned files (pip download, no dependencies beyond the
# pins: requirements.txt lists the whole set) and hashes each (pip hash).
# By default these are the files for this machine's Python and platform.
# LOCK_PLATFORMS adds the wheels of other machines (pip --platform tags,
# separated by spaces) for the Python version LOCK_PYTHON (e.g. 3.11), so
# one lock serves every machine the team works on, for instance:
#   LOCK_PLATFORMS="manylinux2014_x86_64 manylinux2014_aarch64 macosx_11_0_arm64" LOCK_PYTHON=3.11 make moto-lock
set -euo pipefail

here=$(dirname "$0")
requirements="$here/requirements.txt"
lock="$here/requirements.lock"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --dest "$work/files" -r "$requirements"
for platform in ${LOCK_PLATFORMS:-}; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "$platform" \
    ${LOCK_PYTHON:+--python-version "$LOCK_PYTHON"} --dest "$work/files" -r "$requirements"
done

# key NAME VERSION (or a file name): lower case, each run of -, _ and .
# one _, as pip compares names; a file of NAME==VERSION starts with
# key(NAME-VERSION) followed by _.
key() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sed 's/[-_.][-_.]*/_/g'; }

{
  echo "# Written by tools/motoserver/lock.sh from requirements.txt: every pinned"
  echo "# file's sha256 (pip download, then pip hash). Do not edit; run make moto-lock."
  echo "# Files of: this machine's platform${LOCK_PLATFORMS:+, $LOCK_PLATFORMS}${LOCK_PYTHON:+ (Python $LOCK_PYTHON)}."
  grep -v '^[[:space:]]*\(#\|$\)' "$requirements" | while read -r pin; do
    name=${pin%%==*}
    name=${name%%[*}
    want="$(key "$name-${pin#*==}")_"
    hashes=()
    for f in "$work"/files/*; do
      case "$(key "$(basename "$f")")" in
      "$want"*) hashes+=("$(python3 -m pip hash --algorithm sha256 "$f" | tail -n 1)") ;;
      esac
    done
    if [ "${#hashes[@]}" -eq 0 ]; then
      echo "error: pip downloaded no file for $pin" >&2
      exit 1
    fi
    printf '%s' "$pin"
    printf ' \\\n    %s' "${hashes[@]}"
    printf '\n'
  done
} >"$work/lock"
mv "$work/lock" "$lock"
echo "wrote $lock: $(grep -c -- '--hash=sha256:' "$lock") file hashes for $(grep -c '==' "$lock") pins"

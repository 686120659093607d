#!/usr/bin/env bash
# with-moto.sh CMD...: runs CMD with a private moto_server (DynamoDB, SQS, KMS,
# Secrets Manager) on a free loopback port, exported as AWS_ENDPOINT_URL, and
# stops it afterwards, also on failure or Ctrl-C. Installs the pinned moto
# (tools/motoserver/requirements.txt) when it is missing or another version.
set -euo pipefail

"$(dirname "$0")/motoserver/install.sh"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
# moto walks a whole table for a DynamoDB Query and a whole queue for most
# SQS calls; the launcher gives it faster paths to the same answers, on the
# moto version it was written for, and runs plain moto on any other (see
# tools/motoserver/README.md). Plain moto_server when python3 cannot import
# moto. The import is motoserver.launcherImports.
launcher="$(dirname "$0")/motoserver/launcher.py"
if python3 -c 'import moto.server' 2>/dev/null; then
  setsid python3 "$launcher" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
else
  setsid moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
fi
moto_pid=$!

# shellcheck disable=SC2317 # run by the EXIT trap
stop_moto() {
  kill -TERM -- "-$moto_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$moto_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$moto_pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop_moto EXIT
trap 'exit 130' INT TERM

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  if curl -fs -o /dev/null "$endpoint/moto-api/"; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "error: moto_server exited at start:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done
curl -fs -o /dev/null "$endpoint/moto-api/" || { echo "error: moto_server did not answer at $endpoint" >&2; exit 1; }
# What the launcher said of itself (a fallback to plain moto); moto's own
# request log stays in the log file.
grep '^launcher: ' "$log" >&2 || true

export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
  # What the server said of its own faults, for the failure at hand.
  echo "moto_server: $(grep -c '" 5[0-9][0-9] ' "$log" || true) answers with a 5xx status in this run" >&2
  # The exceptions by kind, then the last traceback in full.
  grep -E '^[A-Za-z_.]*(Error|Exception)\b' "$log" | sort | uniq -c | sort -rn | head -20 >&2 || true
  awk '/^Traceback/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$log" | tail -60 >&2 || true
fi
exit "$status"

#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh virtualenv with nothing but its declared dependencies
# (pinned by requirements.txt, none of the test tools), starts `creditbot serve` from it and waits
# for 200 from /readyz. A module the code imports but pyproject.toml does not declare, or a file
# the wheel does not carry (templates, migrations), fails here rather than in a deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/creditbot-wheel.XXXXXX)
server=""
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
.venv/bin/pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" .
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check -c requirements.txt "$work"/dist/creditbot-*.whl
for tool in pytest playwright hypothesis ruff; do
  if "$work/venv/bin/python" -c "import $tool" 2>/dev/null; then
    echo "check-wheel: the wheel pulled in the test tool $tool" >&2
    exit 1
  fi
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/run"
(cd "$work/run" && CREDITBOT_DEMO=1 CREDITBOT_DEMO_ENTITIES=5 CREDITBOT_RENDER_WORKERS=1 \
  CREDITBOT_DATA_DIR="$work/data" CREDITBOT_PORT="$port" exec "$work/venv/bin/creditbot" serve) \
  >"$work/serve.log" 2>&1 &
server=$!
status() {
  python3 -c 'import sys, urllib.request as u
try:
    print(u.urlopen(sys.argv[1], timeout=5).status)
except Exception as error:
    print(getattr(error, "code", 0))' "http://127.0.0.1:$port$1"
}
for _ in $(seq 1 300); do
  if [[ $(status /readyz) == 200 ]]; then
    page=$(status /)
    [[ $page == 200 ]] || { echo "check-wheel: the chat page answered $page" >&2; exit 1; }
    echo "check-wheel: the installed wheel serves (/readyz 200, / 200)"
    exit 0
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "check-wheel: creditbot serve exited; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "check-wheel: /readyz never answered 200; the service log:" >&2
cat "$work/serve.log" >&2
exit 1

#!/usr/bin/env bash
# Peer environments for bench/detectors.py, one venv per peer under bench/.venvs/ (git-ignored).
# Idempotent: a venv whose peer already imports is left alone. Usage: bash bench/peers.sh [alibi|evidently]...
# Pins (issue 3): alibi-detect 0.13 pins numpy 1.x; Evidently 0.7 does not import with pandas 3,
# so both venvs use numpy 1.26 and pandas 2.2 on Python 3.11.
# A peer that fails to install leaves bench/.venvs/<peer>.error (the pip log's last error line),
# which bench/detectors.py puts in its table.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.venvs"
py="${PEER_PYTHON:-python3.11}"
mkdir -p "$root"

declare -A pkgs=(
  [alibi]="alibi-detect==0.13.0 numpy==1.26.4 pandas==2.2.3 scipy<1.14"
  [evidently]="evidently==0.7.* numpy==1.26.4 pandas==2.2.3"
)
declare -A probe=(
  [alibi]="from alibi_detect.cd import KSDrift"
  [evidently]="from evidently import Report; from evidently.presets import DataDriftPreset"
)

install() {
  local name="$1" venv="$root/$1"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "${probe[$name]}" 2>/dev/null; then
    echo "$name: ready ($venv)"; rm -f "$root/$name.error"; return 0
  fi
  rm -rf "$venv"
  "$py" -m venv "$venv" || { echo "cannot create venv with $py" > "$root/$name.error"; return 1; }
  local log="$root/$name.pip.log"
  # shellcheck disable=SC2086
  if "$venv/bin/python" -m pip install -q --disable-pip-version-check ${pkgs[$name]} >"$log" 2>&1 \
     && "$venv/bin/python" -c "${probe[$name]}" >>"$log" 2>&1; then
    rm -f "$root/$name.error"; echo "$name: installed ($venv)"
  else
    grep -E '^(ERROR|[A-Za-z]*Error)' "$log" | tail -n 1 > "$root/$name.error"
    [ -s "$root/$name.error" ] || tail -n 1 "$log" > "$root/$name.error"
    echo "$name: FAILED: $(cat "$root/$name.error")"; return 1
  fi
}

status=0
for name in "${@:-alibi evidently}"; do
  for n in $name; do install "$n" || status=1; done
done
exit $status

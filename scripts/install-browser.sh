#!/usr/bin/env bash
# Install Debian's headless-capable Chromium and its WebDriver, used by the browser tests
# (tests/browser.py). Idempotent: does nothing when both binaries already exist.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
DRIVER=/usr/bin/chromedriver

if [[ -x "$CHROMIUM" && -x "$DRIVER" ]]; then
    echo "install-browser: $CHROMIUM and $DRIVER already present"
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-browser: need root (or sudo) to apt-get install chromium chromium-driver" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends chromium chromium-driver

"$CHROMIUM" --version
"$DRIVER" --version

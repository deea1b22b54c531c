#!/usr/bin/env bash
# Installs Debian's Chromium for the Web UI browser test when it is missing. Playwright's own browser
# download is not reachable here, so the test drives /usr/bin/chromium through playwright-core.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium present: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; then
  echo "chromium is missing and this user cannot install it; the Web UI browser test will be skipped" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
echo "Installing Debian's chromium (for the Web UI browser test)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium --version

#!/usr/bin/env bash
# Make sure a Chromium binary is available for the console's browser tests (tests/ui, Playwright).
# Idempotent: does nothing when one is already installed; otherwise installs Debian's chromium package
# with apt-get. Playwright's own browser download is not used (it does not work on these machines);
# the tests launch the system binary (SEMDNS_CHROMIUM overrides its path).
set -euo pipefail
found() {
  for candidate in "${SEMDNS_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then return 0; fi
  done
  command -v chromium >/dev/null 2>&1
}
if found; then
  exit 0
fi
bash "$(dirname "$0")/ensure-apt-command.sh" chromium chromium
found

#!/usr/bin/env bash
# Make sure `redis-server` is available (the tests start real Redis servers). Idempotent: does nothing
# when it is already on PATH; otherwise installs Debian's redis-server package with apt-get.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-apt-command.sh" redis-server redis-server

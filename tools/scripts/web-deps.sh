#!/bin/sh
# Installs the browser tests' npm packages (tests/web: playwright-core, pinned by
# package-lock.json) with `npm ci`, when node_modules is missing or older than the lock file.
# No browser is downloaded: the tests drive Debian's /usr/bin/chromium.
set -eu
cd "$(dirname "$0")/../../tests/web"
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "ykt: npm is missing (tools/scripts/deps.sh installs it)" >&2
    exit 1
fi
echo "ykt: npm ci in tests/web"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

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
# Node trusts only its own CA list; a site's TLS-inspecting proxy is in the system's.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
echo "ykt: npm ci in tests/web"
if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; then
    # Everything else builds and tests without it; the browser test reports itself skipped.
    echo "ykt: WARNING: npm ci failed (no access to the npm registry?): the browser tests" \
         "(ctest web.portal) will be skipped" >&2
fi

#!/bin/sh
# Installs the Debian 12 packages ykt needs to build, run and test, if any are missing.
# Uses apt-get directly as root, or through sudo otherwise.
set -eu

PACKAGES="build-essential cmake pkg-config git python3 openssl ca-certificates tzdata
  libuv1-dev liblua5.4-dev libsqlite3-dev libmbedtls-dev libinih-dev redis-tools sqlite3
  clang-14 libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev chromium fonts-wqy-microhei"

# The web portal's browser tests need Node.js and npm. A machine may have them from elsewhere
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package): ask for the
# Debian packages only when the commands are missing.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "ykt: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "ykt: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

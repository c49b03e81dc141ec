#!/bin/sh
# Prints the Debian version of the package built from this checkout:
# 0.0~gitYYYYMMDDHHMMSS.HASH, from the commit's UTC time, so that every
# later commit sorts later for dpkg and apt (there is no release tag yet);
# "+dirty" when the tree has uncommitted changes. DEB_VERSION overrides it.
set -e
cd "$(dirname "$0")"
when=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null) || when=0
hash=$(git rev-parse --short HEAD 2>/dev/null) || hash=unknown
dirty=
git diff --quiet HEAD 2>/dev/null || dirty=+dirty
echo "0.0~git${when}.${hash}${dirty}"

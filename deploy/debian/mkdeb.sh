#!/bin/sh
# mkdeb.sh BIN VERSION OUTDIR builds OUTDIR/gatescan_VERSION_ARCH.deb from
# the binary BIN, as it is (`make deb` builds it as a PIE first).
# DEB_COMPRESSION (default xz) and DEB_MAINTAINER change those fields.
#
# dpkg-deb over a `make install DESTDIR=` tree rather than nfpm: `make
# install` is already the one place that says which file goes where (its
# test checks the tree with systemd's own tools), dpkg-deb, dpkg-shlibdeps
# and lintian come with Debian, and nfpm would add a Go tool dependency
# and its own description of the same tree to keep in step with it.
#
# The tree gets Debian's paths (/usr/bin, /lib/systemd/system as Debian 12
# wants units), the binary stripped, copyright and changelog (a native package's); Depends comes
# from dpkg-shlibdeps on the binary itself, so it names the OpenCV runtime
# libraries (libopencv-core406 ...) it really links, whatever gocv pulls in.
set -eu
[ $# -eq 3 ] || { echo "usage: mkdeb.sh BIN VERSION OUTDIR" >&2; exit 2; }
bin=$1 version=$2 out=$3
for tool in dpkg-deb dpkg-shlibdeps strip; do
	command -v $tool >/dev/null || { echo "mkdeb.sh: $tool is missing: apt-get install dpkg-dev binutils" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-gatescan maintainers <gatescan@example.org>}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/debian/gatescan
# -o build: BIN is taken as built, not rebuilt.
make -s -C "$top" -o build install DESTDIR="$root" PREFIX=/usr UNITDIR=/lib/systemd/system BIN="$bin" >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/gatescan"

doc=$root/usr/share/doc/gatescan
install -m 0644 "$here/copyright" "$doc/copyright"
# The monitoring a port's IT department loads into its own Prometheus and
# Grafana.
install -D -m 0644 "$top/deploy/prometheus/gatescan.rules.yml" "$doc/examples/prometheus/gatescan.rules.yml"
install -D -m 0644 "$top/deploy/grafana/gatescan.json" "$doc/examples/grafana/gatescan.json"
{
	printf 'gatescan (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from commit %s.\n\n' "$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)"
	printf ' -- %s  %s\n' "$maintainer" "$(date -R -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH})"
} | gzip -9n > "$doc/changelog.gz"
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/gatescan"

# Depends: what the binary links, by package, and systemd for the user and
# directories (sysusers, tmpfiles) and the unit.
# (dpkg-shlibdeps finds the package's root by its DEBIAN directory.)
install -d -m 0755 "$root/DEBIAN"
printf 'Source: gatescan\n\nPackage: gatescan\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e debian/gatescan/usr/bin/gatescan)
depends="${shlibs#shlibs:Depends=}, systemd"

for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done
echo /etc/gatescan/gatescan.yaml > "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
	-e "s|@MAINTAINER@|$maintainer|" "$here/control.in" > "$root/DEBIAN/control"

mkdir -p "$out"
deb=$out/gatescan_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"

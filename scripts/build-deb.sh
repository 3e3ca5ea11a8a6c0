#!/usr/bin/env bash
# Builds the Debian package from a built tree (npm ci already ran: dist/ and the addon exist):
#   bash scripts/build-deb.sh [--out DIR]        (default DIR: build/deb)
# prints the path of build/deb/netlink-exporter_<version>_<arch>.deb.
#
# Contents:
#   /usr/lib/netlink-exporter/{dist/src, build/Release/*.node, node_modules, package.json, config}
#   /usr/bin/netlink-exporter                    sh wrapper: exec node .../dist/src/main.js
#   /lib/systemd/system/netlink-exporter.service deploy/systemd (enabled, started where systemd runs)
#   /etc/netlink-exporter/config.yml             conffile, a copy of config/default.yml
#   /etc/default/netlink-exporter                conffile, ARGS for the unit
#   /usr/share/doc/netlink-exporter/             README.md, copyright, netns.conf.example
# node_modules holds the production dependencies only, installed from package-lock.json with
# `npm ci --omit=dev --ignore-scripts` in a scratch directory (node-addon-api, needed only to
# compile the addon, is left out). Depends: nodejs (>= 20) plus what dpkg-shlibdeps finds for
# the addon. The addon is this machine's build: the package's architecture is dpkg's.
set -euo pipefail

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
out="$repo/build/deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    *) die "unknown argument: $1 (usage: build-deb.sh [--out DIR])" ;;
  esac
done

for cmd in dpkg-deb dpkg node npm; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing"
done
[ -f dist/src/main.js ] || die "dist/src/main.js is missing: run npm ci (or npm run build) first"
[ -f build/Release/netlink_socket.node ] || die "build/Release/netlink_socket.node is missing: run npm ci (or npm run build) first"
addons=(build/Release/*.node)

version=$(node -p 'require("./package.json").version')
# A semver pre-release (1.0.0-rc.1) must sort before the release in dpkg: 1.0.0~rc.1.
debversion=${version//-/\~}
arch=$(dpkg --print-architecture)
name=netlink-exporter
deb="$out/${name}_${debversion}_${arch}.deb"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/nle-deb-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
root="$scratch/root"
lib="$root/usr/lib/$name"
doc="$root/usr/share/doc/$name"
mkdir -p "$root/DEBIAN" "$lib/dist" "$lib/build/Release" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/etc/$name" "$root/etc/default" "$doc"

# --- the application ------------------------------------------------------------------------
cp -R dist/src "$lib/dist/src"
find "$lib/dist" -name '*.map' -delete
cp "${addons[@]}" "$lib/build/Release/"
cp package.json "$lib/"
cp -R config "$lib/config"

say "installing production dependencies (npm ci --omit=dev --ignore-scripts)"
deps="$scratch/deps"
mkdir -p "$deps"
cp package.json package-lock.json "$deps/"
(cd "$deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
rm -rf "$deps/node_modules/node-addon-api" "$deps/node_modules/.package-lock.json" "$deps/node_modules/.bin"
cp -R "$deps/node_modules" "$lib/node_modules"

# --- system integration ---------------------------------------------------------------------
install -m 0755 deploy/debian/netlink-exporter.sh "$root/usr/bin/$name"
install -m 0644 deploy/systemd/netlink-exporter.service "$root/lib/systemd/system/"
install -m 0644 config/default.yml "$root/etc/$name/config.yml"
install -m 0644 deploy/debian/default "$root/etc/default/$name"
install -m 0644 README.md "$doc/"
install -m 0644 deploy/systemd/netns.conf.example "$doc/"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

# --- control --------------------------------------------------------------------------------
# Shared libraries the addon links (libc6, libstdc++6, libgcc-s1), as dpkg-shlibdeps sees them.
shlibs=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  mkdir -p "$scratch/src/debian"
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > "$scratch/src/debian/control"
  shlibs=$(cd "$scratch/src" && dpkg-shlibdeps -O $(printf -- '-e%s ' "$lib"/build/Release/*.node) 2>/dev/null | sed -n 's/^shlibs:Depends=//p') || shlibs=""
fi
[ -n "$shlibs" ] || shlibs="libc6, libstdc++6, libgcc-s1"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $debversion
Architecture: $arch
Maintainer: netlink-exporter maintainers <root@localhost>
Installed-Size: $size
Depends: nodejs (>= 20), $shlibs, passwd
Section: net
Priority: optional
Description: Prometheus exporter for rtnetlink: flaps, address and route changes
 Listens to the kernel's rtnetlink notifications (links, addresses, routes,
 nexthop objects, neighbours) instead of polling, keeps a model of each watched
 network namespace and exports exact gauges and change counters on :9932.
 Runs as the unprivileged user netlink-exporter with CAP_NET_ADMIN only.
CONTROL
printf '/etc/%s/config.yml\n/etc/default/%s\n' "$name" "$name" > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "deploy/debian/$script" "$root/DEBIAN/$script"
done

# Modes independent of the umask and of the checkout.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f ! -path "$root/DEBIAN/*" ! -path "$root/usr/bin/*" -exec chmod 0644 {} +
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
say "built $deb"
echo "$deb"

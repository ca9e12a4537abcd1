#!/usr/bin/env bash
# build-base-image.sh — build the offline base image `cleanroom/node-base:24` (or $1) with
# `docker import`, for machines that cannot pull `node:24-bookworm-slim` (no registry here).
#
# The root filesystem holds only:
#   /usr/local/bin/node        the Node 24 binary that npm put in node_modules/node/bin/node
#                              (real file resolved; `strip --strip-all` when strip exists)
#   /lib/x86_64-linux-gnu/...  the shared libraries `ldd` lists for it (+ librt for native addons)
#   /lib64/ld-linux-x86-64.so.2  the dynamic loader
#   /usr/bin/openssl           the host's OpenSSL 3 CLI + libssl/libcrypto + /etc/ssl/openssl.cnf:
#                              scripts/gen-pki.ts (the compose `pki` one-shot) drives the openssl
#                              CLI; the nodes themselves do not use it
#   /bin/busybox, /bin/sh      busybox-static (apt package busybox-static, fetched with
#                              `apt-get download`, not installed on the host) — for debugging
#                              and `sh -c` healthchecks; the nodes themselves need no shell
#   /etc/passwd, /etc/group    root and a non-root `node` user/group (uid/gid 1000), like the
#                              official image; /home/node, /tmp (1777), /app
# Guarantees: idempotent — skips when the tag exists with this script's layout version
# (label org.cleanroom.base-version; FORCE=1 rebuilds); the image runs `node --version` (as
# root and as uid 1000) and `openssl version` before the script reports success; prints its
# size. Needs a Docker engine and, on first run, apt (Debian's repositories) for
# busybox-static. No CA certificates: nothing in a node talks TLS to the public internet (its
# peers use the project's own PKI).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

tag=${1:-${CLEANROOM_BASE_IMAGE:-cleanroom/node-base:24}}
size_of() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1/1e6}'; }

layout=2   # bump when the root filesystem's content changes
have=$(docker image inspect -f '{{index .Config.Labels "org.cleanroom.base-version"}}' "$tag" 2>/dev/null || true)
if [ "${FORCE:-0}" != 1 ] && [ "$have" = "$layout" ]; then
  echo "build-base-image: $tag exists ($(size_of "$tag")), skipping"
  exit 0
fi

node_bin=$(readlink -f node_modules/node/bin/node 2>/dev/null || true)
if [ -z "$node_bin" ] || [ ! -x "$node_bin" ]; then
  echo "build-base-image: node_modules/node/bin/node not found — run 'make install' first" >&2
  exit 1
fi
node_ver=$("$node_bin" --version)
case "$node_ver" in v2[4-9].*) ;; *) echo "build-base-image: $node_bin is $node_ver, want Node >= 24" >&2; exit 1 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc/ssl,tmp,app,root,home/node,usr/bin,usr/lib/ssl,usr/local/bin,lib/x86_64-linux-gnu,lib64}
chmod 1777 "$root/tmp"

# 1. Node, stripped of its static symbol table and debug info (126 MB → 108 MB); the dynamic
#    symbols native addons link against stay, the code is unchanged.
cp "$node_bin" "$root/usr/local/bin/node"
if command -v strip >/dev/null 2>&1; then strip --strip-all "$root/usr/local/bin/node"; fi

# 2. Its shared libraries, copied (symlinks resolved) to the paths the loader looks in.
copy_lib() { # $1 = path as ldd prints it
  case "$1" in
    */ld-linux-x86-64.so.2) cp -L "$1" "$root/lib64/ld-linux-x86-64.so.2" ;;
    *) cp -L "$1" "$root/lib/x86_64-linux-gnu/$(basename "$1")" ;;
  esac
}
while read -r lib; do copy_lib "$lib"; done < <(
  ldd "$node_bin" | awk '/=> \//{print $3} /^[ \t]*\/.*ld-linux/{print $1}'
)
# native addons (sodium-native) need nothing beyond these; librt is added for older prebuilds
libdir=$(dirname "$(ldd "$node_bin" | awk '/libc\.so\.6 =>/{print $3}')")
if [ -e "$libdir/librt.so.1" ]; then cp -L "$libdir/librt.so.1" "$root/lib/x86_64-linux-gnu/librt.so.1"; fi
[ -f "$root/lib64/ld-linux-x86-64.so.2" ] || { echo "build-base-image: dynamic loader not found via ldd" >&2; exit 1; }

# 2b. the openssl CLI for scripts/gen-pki.ts (installed on the host from apt when missing)
if ! command -v openssl >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "build-base-image: the openssl CLI is missing on this host (apt-get install openssl)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
ossl=$(readlink -f "$(command -v openssl)")
cp "$ossl" "$root/usr/bin/openssl"
while read -r lib; do copy_lib "$lib"; done < <(ldd "$ossl" | awk '/=> \//{print $3}')
cp -L /etc/ssl/openssl.cnf "$root/etc/ssl/openssl.cnf"
ln -s /etc/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"

# 3. busybox-static as /bin/sh (a .deb from Debian's repositories, unpacked, cached).
bb_cache=${XDG_CACHE_HOME:-$HOME/.cache}/cleanroom
mkdir -p "$bb_cache"
bb_deb=$(ls "$bb_cache"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$bb_deb" ]; then
  ( cd "$bb_cache" && { apt-get download busybox-static >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox-static >/dev/null; }; } )
  bb_deb=$(ls "$bb_cache"/busybox-static_*.deb | head -n1)
fi
dpkg-deb -x "$bb_deb" "$work/bb"
cp "$work/bb/bin/busybox" "$root/bin/busybox"
for applet in sh wget cat ls env ps; do ln -s busybox "$root/bin/$applet"; done

# 4. Users: root and node (1000:1000), as in the official node image.
cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
node:x:1000:
nogroup:x:65534:
G
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"

# 5. Import. Everything belongs to root except node's home (uid 1000 when we can chown — we
# are root in CI; otherwise it stays root-owned, which only matters for writes to $HOME).
chown -R 1000:1000 "$root/home/node" 2>/dev/null || true
tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change "ENV NODE_VERSION=${node_ver#v}" \
  --change 'WORKDIR /' \
  --change 'CMD ["node"]' \
  --change "LABEL org.cleanroom.base-version=$layout" \
  -m "cleanroom offline base: node $node_ver + ldd libs + busybox-static" \
  "$work/rootfs.tar" "$tag" >/dev/null

got=$(docker run --rm "$tag" node --version)
[ "$got" = "$node_ver" ] || { echo "build-base-image: image runs node $got, expected $node_ver" >&2; docker rmi "$tag" >/dev/null; exit 1; }
docker run --rm --user 1000:1000 "$tag" node -e "require('node:fs').writeFileSync('/tmp/x','')"
docker run --rm --user 1000:1000 "$tag" openssl version >/dev/null
if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
echo "build-base-image: built $tag (node $got, $(size_of "$tag"))"

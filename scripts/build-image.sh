#!/usr/bin/env bash
# scripts/build-image.sh — stage the build context and build the cleanroom node image.
#   image tag : $CLEANROOM_IMAGE       (default cleanroom/node:dev)
#   base      : $CLEANROOM_BASE_IMAGE  when set; else node:24-bookworm-slim when present or
#               pullable; else (no registry, e.g. CI here) scripts/build-base-image.sh builds
#               cleanroom/node-base:24 from the host's Node 24 and that is used.
# Guarantees: the image carries the label org.cleanroom.source-hash = sha256(staged context +
# Dockerfile + base image id); when an image with that tag and label already exists nothing is
# rebuilt; the image a rebuild replaces is removed when nothing uses it. Prints the tag, base,
# and size on the last line. Exit non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# settings not in the environment are taken from .env (the file docker compose reads)
env_file_value() { [ -f .env ] && sed -n "s/^$1=//p" .env | tail -n1 | tr -d '"'"'"; }
: "${CLEANROOM_IMAGE:=$(env_file_value CLEANROOM_IMAGE || true)}"
: "${CLEANROOM_BASE_IMAGE:=$(env_file_value CLEANROOM_BASE_IMAGE || true)}"
tag=${CLEANROOM_IMAGE:-cleanroom/node:dev}
official=node:24-bookworm-slim

base=${CLEANROOM_BASE_IMAGE:-}
if [ -z "$base" ]; then
  if docker image inspect "$official" >/dev/null 2>&1 || timeout 120 docker pull -q "$official" >/dev/null 2>&1; then
    base=$official
  else
    echo "build-image: $official cannot be pulled (no registry?) — using the offline base"
    base=cleanroom/node-base:24
    bash scripts/build-base-image.sh "$base"
  fi
elif ! docker image inspect "$base" >/dev/null 2>&1; then
  if [ "$base" = cleanroom/node-base:24 ]; then bash scripts/build-base-image.sh "$base"; else docker pull "$base"; fi
fi

bash scripts/stage-image.sh out/image-context
base_id=$(docker image inspect -f '{{.Id}}' "$base")
hash=$(printf '%s %s\n' "$(cat out/image-context/.source-hash)" "$base_id" | sha256sum | cut -c1-64)

have=$(docker image inspect -f '{{index .Config.Labels "org.cleanroom.source-hash"}}' "$tag" 2>/dev/null || true)
if [ "$have" = "$hash" ]; then
  echo "build-image: $tag is up to date (source hash ${hash:0:12})"
else
  start=$(date +%s)
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  log=$(mktemp)
  if ! docker build -f deploy/Dockerfile --build-arg "BASE=$base" \
      --label "org.cleanroom.source-hash=$hash" -t "$tag" out/image-context >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "build-image: docker build failed" >&2
    exit 1
  fi
  rm -f "$log"
  # the image this tag pointed to before is now untagged: remove it (fails harmlessly when a
  # container still uses it)
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
  echo "build-image: built $tag in $(( $(date +%s) - start ))s"
fi
size=$(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')
echo "build-image: $tag base=$base size=$size hash=${hash:0:12}"

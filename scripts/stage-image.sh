#!/usr/bin/env bash
# scripts/stage-image.sh — prepare the Docker build context for deploy/Dockerfile (default
# out/image-context/, or $1). Nothing is installed inside `docker build` (containers have no
# network here), so the context is assembled on the host:
#   deps/node_modules/   production dependencies only: the packages package-lock.json does not
#                        mark `dev`, copied from the host's node_modules (which `make install`
#                        fills with `npm ci`); checked against the lock's versions. So the
#                        `node` devDependency (the 126 MB npm-packaged Node binary), vitest,
#                        typescript, testcontainers … are absent; @grpc/proto-loader, node-seal
#                        and sodium-native are present (checked below, with sodium-native's
#                        linux-x64 glibc prebuild). Trimmed: foreign-platform `prebuilds/`,
#                        type declarations, source maps, @types/*.
#   app/                 package.json files (they carry "type": "module"), shared/ services/
#                        cli/ proto/ scripts/gen-pki.ts deploy/tasks.ts — without *.test.ts
#   skel/                empty mount-point directories (owned by uid 1000 in the image, so a
#                        fresh named volume mounted there is writable by the `node` user)
#   .source-hash         sha256 over every staged file + deploy/Dockerfile: the image is
#                        labelled with it, and scripts skip rebuilding an image whose label
#                        matches (scripts/e2e.sh, test/containers/harness.ts)
# Guarantees: the context is rebuilt from scratch each run (no stale files); exit non-zero
# with a message when node_modules is missing or out of step with package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$repo/node_modules/.bin:$PATH"
ctx=${1:-out/image-context}
platform=${STAGE_PLATFORM:-linux-x64}   # prebuilds kept for the image's platform

[ -d node_modules ] || { echo "stage: node_modules missing — run 'make install' first" >&2; exit 1; }
command -v node >/dev/null && node --version | grep -q '^v2[4-9]' || { echo "stage: need Node >= 24 at node_modules/.bin/node" >&2; exit 1; }

rm -rf "$ctx"
mkdir -p "$ctx/deps/node_modules" "$ctx/app" "$ctx/skel"

# 1. production dependency closure from the lock (top-level entries; nested node_modules of a
#    kept package come along with it). Workspace links (@cleanroom/*) stay symlinks into app/.
node -e '
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  const bad = [];
  for (const [key, meta] of Object.entries(lock.packages)) {
    if (!key.startsWith("node_modules/") || meta.dev) continue;
    const rel = key.slice("node_modules/".length);
    if (rel.includes("/node_modules/")) continue;           // comes with its parent
    if (rel.startsWith("@types/")) continue;                // declarations only
    if (meta.optional && !fs.existsSync(key)) continue;      // optional, other platform
    if (!meta.link) {
      let have = null;
      try { have = JSON.parse(fs.readFileSync(key + "/package.json", "utf8")).version; } catch {}
      if (have !== meta.version) bad.push(`${rel}: lock ${meta.version}, installed ${have}`);
    }
    console.log(rel);
  }
  if (bad.length) { console.error("stage: node_modules does not match package-lock.json (run make install):\n  " + bad.join("\n  ")); process.exit(1); }
' > "$ctx/.prod-packages"
tar -C node_modules -cf - -T "$ctx/.prod-packages" | tar -C "$ctx/deps/node_modules" -xf -
rm "$ctx/.prod-packages"

# trim: other platforms' prebuilt binaries, native sources, declarations, maps, docs
find "$ctx/deps/node_modules" -type d -name prebuilds -prune -print | while read -r pb; do
  find "$pb" -mindepth 1 -maxdepth 1 -type d ! -name "$platform" -exec rm -rf {} +
done
find "$ctx/deps/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.map' -o -name '*.md' -o -name '*.markdown' -o -name 'CMakeLists.txt' \
  -o -name '*.c' -o -name '*.cc' -o -name '*.h' \) -delete
rm -rf "$ctx/deps/node_modules/.bin" "$ctx/deps/node_modules/.package-lock.json"

for must in @grpc/grpc-js @grpc/proto-loader node-seal sodium-native "sodium-native/prebuilds/$platform"; do
  [ -e "$ctx/deps/node_modules/$must" ] || { echo "stage: $must missing from the production dependencies" >&2; exit 1; }
done
[ ! -e "$ctx/deps/node_modules/node" ] || { echo "stage: the node devDependency leaked into the image" >&2; exit 1; }

# 2. sources (working tree, so e2e tests what you have), without tests
copy_tree() { # $1 = directory relative to the repository
  [ -d "$1" ] || return 0
  (cd "$repo" && find "$1" \( -name node_modules -o -name '__tests__' -o -name fixtures \) -prune -o \
     -type f ! -name '*.test.ts' ! -name '*.spec.ts' -print0) |
    (cd "$repo" && tar --null -T - -cf -) | tar -C "$ctx/app" -xf -
}
cp package.json "$ctx/app/package.json"
for d in shared services cli proto; do copy_tree "$d"; done
mkdir -p "$ctx/app/scripts" "$ctx/app/deploy"
[ -f scripts/gen-pki.ts ] && cp scripts/gen-pki.ts "$ctx/app/scripts/gen-pki.ts"
cp deploy/tasks.ts "$ctx/app/deploy/tasks.ts"

# 3. mount points
mkdir -p "$ctx"/skel/{data,state,transcripts,pki,out/advertiser,out/media,out/truth,pki-out/advertiser,pki-out/media,pki-out/broker}
cp deploy/.dockerignore "$ctx/.dockerignore"

# 4. content hash (paths, modes, symlink targets, file contents, Dockerfile)
hash=$(node -e '
  const fs = require("node:fs"), path = require("node:path"), { createHash } = require("node:crypto");
  const [ctx, dockerfile] = process.argv.slice(1);
  const h = createHash("sha256");
  const walk = (rel) => {
    for (const name of fs.readdirSync(path.join(ctx, rel)).sort()) {
      const r = rel ? rel + "/" + name : name, abs = path.join(ctx, r), st = fs.lstatSync(abs);
      if (r === ".source-hash") continue;
      if (st.isSymbolicLink()) h.update(`L ${r} ${fs.readlinkSync(abs)}\n`);
      else if (st.isDirectory()) { h.update(`D ${r}\n`); walk(r); }
      else h.update(`F ${r} ${st.mode & 0o777} ${createHash("sha256").update(fs.readFileSync(abs)).digest("hex")}\n`);
    }
  };
  walk("");
  h.update(fs.readFileSync(dockerfile));
  console.log(h.digest("hex"));
' "$ctx" "$repo/deploy/Dockerfile")
echo "$hash" > "$ctx/.source-hash"
echo "stage: $ctx ready ($(du -sh "$ctx/deps" | cut -f1) deps, $(du -sh "$ctx/app" | cut -f1) app, source hash ${hash:0:12})"

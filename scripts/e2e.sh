#!/usr/bin/env bash
# scripts/e2e.sh — the docker compose end-to-end simulation, as a test.
#
# Steps: build the node image (scripts/build-image.sh: offline base when no registry), bring
# up a compose project with a unique name (gen-data + pki one-shots, media, broker,
# advertiser), run the `runner` one-shot (one look-alike session through the advertiser's
# admin API), check the outcome, print a summary, and ALWAYS tear down (trap: `down -v
# --remove-orphans`), then verify no container, network or volume of the project is left.
#
# What is checked: the runner exits 0 (session status "completed"), the advertiser's result
# has a look-alike audience (non-empty lookalike.audienceId, lookalike.audienceSize > 0), and
# lookalike.quality > 1 (the lift the media node reports for its audience over the base rate;
# when quality is an object, its `lift` field). The ground-truth lift cannot be recomputed
# here: the advertiser's result carries no per-user data (by design — A must never see B's
# users), and truth/ is never mounted into a node. matches.real > 0 is checked too.
#
# Settings: E2E_UNIVERSE (default 200000), E2E_SEED (1), E2E_UP_TIMEOUT (900 s for data, PKI
# and healthy nodes), E2E_KEEP=1 (do not tear down, to debug), CLEANROOM_IMAGE, CLEANROOM_BASE_IMAGE. Logs of every service are saved to
# out/e2e/<project>/ before teardown. Exit 0 only if every check passed and teardown was clean.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
t0=$(date +%s)

if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then compose=(docker-compose)
else echo "e2e: neither 'docker compose' nor 'docker-compose' is installed" >&2; exit 1; fi
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { echo "e2e: no Docker engine answers (try: sudo bash scripts/docker-up.sh)" >&2; exit 1; }

project="cleanroom-e2e-$(date +%s)-$$"
outdir="out/e2e/$project"
mkdir -p "$outdir"
export COMPOSE_PROJECT_NAME=$project
export CLEANROOM_IMAGE=${CLEANROOM_IMAGE:-cleanroom/node:dev}
export CLEANROOM_ADMIN_TOKEN
CLEANROOM_ADMIN_TOKEN=$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))')
export CLEANROOM_UNIVERSE=${E2E_UNIVERSE:-200000}
export CLEANROOM_SEED=${E2E_SEED:-1}
# random host ports: e2e must not collide with nodes you run by hand on 8081-8083
export ADVERTISER_ADMIN_PORT=0 MEDIA_ADMIN_PORT=0 BROKER_ADMIN_PORT=0
dc() { "${compose[@]}" -p "$project" -f docker-compose.yml "$@"; }

teardown() {
  local rc=$?
  set +e
  dc logs --no-color >"$outdir/compose.log" 2>&1
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "e2e: E2E_KEEP=1 — project $project left running; remove with: ${compose[*]} -p $project down -v --remove-orphans"
    exit $rc
  fi
  dc down -v --remove-orphans --timeout 10 >"$outdir/down.log" 2>&1
  local left
  left=$( { docker ps -aq --filter "label=com.docker.compose.project=$project"
            docker network ls -q --filter "label=com.docker.compose.project=$project"
            docker volume ls -q --filter "label=com.docker.compose.project=$project"; } | wc -l)
  if [ "$left" != 0 ]; then
    echo "e2e: teardown left $left containers/networks/volumes of $project behind" >&2
    [ $rc = 0 ] && rc=1
  else
    echo "e2e: torn down $project (no containers, networks or volumes left)"
  fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "e2e: project $project, universe $CLEANROOM_UNIVERSE, compose: ${compose[*]}"
bash scripts/build-image.sh | tee "$outdir/build.log"
t_built=$(date +%s)

echo "e2e: starting gen-data, pki, media, broker, advertiser"
if ! timeout "${E2E_UP_TIMEOUT:-900}" "${compose[@]}" -p "$project" -f docker-compose.yml up -d advertiser >"$outdir/up.log" 2>&1; then
  cat "$outdir/up.log" >&2
  echo "e2e: FAILED bringing the nodes up; last log lines:" >&2
  dc logs --no-color --tail=40 >&2 || true
  exit 1
fi
t_up=$(date +%s)
echo "e2e: nodes healthy after $((t_up - t_built))s; running the session"

set +e
dc run --rm -T --no-deps runner >"$outdir/runner.json" 2>"$outdir/runner.log"
runner_rc=$?
set -e
t_done=$(date +%s)
result_line=$(grep '^{' "$outdir/runner.json" | tail -n1 || true)
if [ -z "$result_line" ]; then
  echo "e2e: FAILED — the runner printed no JSON (exit $runner_rc); its log:" >&2
  tail -n 30 "$outdir/runner.log" >&2
  dc logs --no-color --tail=40 >&2 || true
  exit 1
fi
echo "$result_line" >"$outdir/result.json"

size=$(docker image inspect -f '{{.Size}}' "$CLEANROOM_IMAGE" | awk '{printf "%.1f MB", $1/1e6}')
verdict=$(node -e '
  const r = JSON.parse(process.argv[1]); const res = r.result ?? {}; const la = res.lookalike ?? {};
  const q = typeof la.quality === "number" ? la.quality : (la.quality && typeof la.quality.lift === "number" ? la.quality.lift : NaN);
  const checks = [
    ["runner exit 0 / status completed", r.status === "completed" && process.argv[2] === "0", `status=${r.status} exit=${process.argv[2]}${r.error ? " error=" + JSON.stringify(r.error) : ""}`],
    ["audience handle present", typeof la.audienceId === "string" && la.audienceId.length > 0, `audienceId=${la.audienceId}`],
    ["audience size > 0", Number(la.audienceSize) > 0, `audienceSize=${la.audienceSize}`],
    ["quality (lift) > 1", q > 1, `quality=${JSON.stringify(la.quality)}`],
    ["real matches > 0", Number(res.matches?.real) > 0, `matches=${JSON.stringify(res.matches)}`],
  ];
  for (const [name, ok, detail] of checks) console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`);
  console.log(`session ${r.sessionId} took ${r.elapsedSeconds}s`);
  process.exit(checks.every((c) => c[1]) ? 0 : 1);
' "$result_line" "$runner_rc") && ok=1 || ok=0

echo "---- e2e summary ($project)"
echo "$verdict"
echo "image $CLEANROOM_IMAGE: $size"
echo "time: build ${t_built:+$((t_built - t0))}s, bring-up $((t_up - t_built))s, session $((t_done - t_up))s, total $(( $(date +%s) - t0 ))s (before teardown)"
echo "logs: $outdir/"
if [ $ok = 1 ]; then echo "e2e: PASSED"; else
  echo "e2e: FAILED; runner log tail:" >&2; tail -n 20 "$outdir/runner.log" >&2
  dc logs --no-color --tail=30 >&2 || true
  exit 1
fi

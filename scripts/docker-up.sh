#!/usr/bin/env bash
# docker-up.sh — make a Docker engine answer on /var/run/docker.sock (CI and dev machines).
#
# What it does, idempotently:
#   1. when no `dockerd` is installed and we are root: apt-get install docker.io docker-compose
#      (engine 20.10 + compose v1.29 on Debian 12; the only sources reachable here are apt's);
#   2. when no engine answers: starts `dockerd --iptables=false` in its own session (setsid),
#      logging to /var/log/dockerd.log (--iptables=false: these machines have no NAT, and
#      containers need no outbound network — they only talk to each other);
#   3. waits (bounded, DOCKER_UP_TIMEOUT seconds, default 60) for the socket to answer;
#   4. prints the engine version and how long all this took.
# Guarantees: exit 0 only when `docker version` reaches a server; otherwise exit non-zero with
# one line saying why (callers such as .ci/run may carry on: the container tests then skip
# themselves with one clear line). Running it twice is harmless: an answering engine is reused.
set -euo pipefail

start=$(date +%s)
timeout_s=${DOCKER_UP_TIMEOUT:-60}
sock=/var/run/docker.sock

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_answers; then
  echo "docker-up: engine already answering: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "docker-up: no Docker engine answers at $sock and we are not root; not starting one" >&2
  exit 1
fi

have_compose() { command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; }
if ! command -v dockerd >/dev/null 2>&1 || ! have_compose; then
  echo "docker-up: installing docker.io and docker-compose from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io docker-compose >/dev/null
fi
# docker.io brings containerd, runc and the client; iptables is a hard dependency of the
# package but we run with --iptables=false anyway.

if ! engine_answers; then
  # A stale pid file or socket from an engine that died would make dockerd refuse to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  if ! { [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }; then
    [ -S "$sock" ] && rm -f "$sock"
    echo "docker-up: starting dockerd --iptables=false (log: /var/log/dockerd.log)"
    setsid dockerd --iptables=false >>/var/log/dockerd.log 2>&1 < /dev/null &
  fi
  deadline=$(( $(date +%s) + timeout_s ))
  until engine_answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "docker-up: engine did not answer on $sock within ${timeout_s}s; last lines of /var/log/dockerd.log:" >&2
      tail -n 20 /var/log/dockerd.log >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi

echo "docker-up: $(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}, API {{.Server.APIVersion}}')"
if command -v docker-compose >/dev/null 2>&1; then echo "docker-up: $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"; fi
echo "docker-up: ready in $(( $(date +%s) - start ))s"

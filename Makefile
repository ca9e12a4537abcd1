# cleanroom — the one place to build, test and run. Every target brings its own Node 24 (from
# the npm registry, into node_modules). Targets call the scripts in scripts/ (build, image,
# container and code-generation scripts); deploy/ holds only what ships: the Dockerfile, the
# Kubernetes manifests and the in-container task runner (deploy/tasks.ts).
#   make install      npm ci
#   make proto        regenerate shared/src/rpc/generated from proto/ (scripts/gen-proto.ts)
#   make pki          development PKI into .pki (scripts/gen-pki.ts)
#   make typecheck    tsc
#   make test         typecheck + unit group + container group (CI: .ci/run)
#   make demo         a simulated session end to end (cli simulate)
#   make bench        the benchmark (bench/bench.ts)
#   make bench-shard-store  sharded preparation through object storage (bench/shard-store.ts, s3rver)
#   make shape        code-shape figures: party/round lists, casts, non-null assertions, longest functions
#   make k8s          Kubernetes manifests per party; make k8s-check: they are up to date
#   make docker-up    start a Docker engine (Debian, root): scripts/docker-up.sh
#   make images       stage the build context and build cleanroom/node:dev (scripts/build-image.sh),
#                     write .env with a random admin token if absent
#   make e2e          the docker compose end-to-end simulation (scripts/e2e.sh), torn down after
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE := $(CURDIR)/node_modules/.bin/node

.PHONY: install proto pki typecheck test test-unit test-containers demo bench bench-scale bench-peer bench-shard-store shape k8s k8s-check docker-up images e2e clean

install: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@$(NODE) --version | grep -q '^v2[4-9]' || { echo "node_modules/.bin/node is not Node >= 24"; exit 1; }
	@touch $@

proto: install
	$(NODE) scripts/gen-proto.ts

pki: install
	$(NODE) scripts/gen-pki.ts --out .pki

typecheck: install
	tsc -p tsconfig.json

test-unit: install
	vitest run --project unit

test-containers: install
	vitest run --project containers

test: typecheck test-unit test-containers

demo: install
	$(NODE) cli/src/main.ts simulate --out out/demo --kind all

bench: install
	$(NODE) bench/bench.ts

# Media's universe preparation alone at 10^7 users (streamed, on disk): time, peak RSS, bytes per user
BENCH_SCALE_USERS ?= 10000000
bench-scale: install
	/usr/bin/time -v $(NODE) bench/scale.ts --universe $(BENCH_SCALE_USERS)

# Sharded preparation through object storage against s3rver on loopback: upload, download, merge,
# the Job run again on the same and on grown data, beside the sealing floor (docs/operations.md)
BENCH_SHARD_USERS ?= 1000000
BENCH_SHARDS ?= 4
bench-shard-store: install
	/usr/bin/time -v $(NODE) bench/shard-store.ts --universe $(BENCH_SHARD_USERS) --shards $(BENCH_SHARDS) --grow 1 --out out/shard-store

# This project's matching against @openmined/psi.js on equal sets (psi.js installed from the npm
# registry into out/peer-psi with --ignore-scripts, outside the project's dependencies)
bench-peer: install
	mkdir -p out/peer-psi && cd out/peer-psi && echo '{"name":"peer-psi","private":true}' > package.json && \
	  npm install --ignore-scripts --no-audit --no-fund --no-package-lock @openmined/psi.js@2.0.6
	$(NODE) bench/peer.ts --psi out/peer-psi

shape: install
	$(NODE) scripts/shape.ts

# Kubernetes manifests per party (deploy/k8s/<party>/) from deploy/k8s/values.json, schema-validated
k8s: install
	$(NODE) deploy/k8s/generate.ts

k8s-check: install
	$(NODE) deploy/k8s/generate.ts --check

docker-up:
	bash scripts/docker-up.sh

images: install
	bash scripts/build-image.sh
	@[ -f .env ] || { sed "s/^CLEANROOM_ADMIN_TOKEN=.*/CLEANROOM_ADMIN_TOKEN=$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')/" .env.example > .env && echo "wrote .env (random CLEANROOM_ADMIN_TOKEN)"; }

e2e: install
	bash scripts/e2e.sh

clean:
	rm -rf out node_modules

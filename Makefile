# cleanroom — every target brings its own Node 24 (from the npm registry, into node_modules).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE := $(CURDIR)/node_modules/.bin/node

.PHONY: install proto typecheck test test-unit test-containers demo bench bench-scale bench-peer e2e pki k8s k8s-check clean

install: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@$(NODE) --version | grep -q '^v2[4-9]' || { echo "node_modules/.bin/node is not Node >= 24"; exit 1; }
	@touch $@

proto: install
	$(NODE) scripts/gen-proto.ts

typecheck: install
	tsc -p tsconfig.json

test-unit: install
	vitest run --project unit

test-containers: install
	vitest run --project containers

test: typecheck test-unit test-containers

demo: install
	$(NODE) cli/src/main.ts simulate --out out/demo

bench: install
	$(NODE) bench/bench.ts

# Media's universe preparation alone at 10^7 users (streamed, on disk): time, peak RSS, bytes per user
BENCH_SCALE_USERS ?= 10000000
bench-scale: install
	/usr/bin/time -v $(NODE) bench/scale.ts --universe $(BENCH_SCALE_USERS)

# This project's matching against @openmined/psi.js on equal sets (psi.js installed from the npm
# registry into out/peer-psi with --ignore-scripts, outside the project's dependencies)
bench-peer: install
	mkdir -p out/peer-psi && cd out/peer-psi && echo '{"name":"peer-psi","private":true}' > package.json && \
	  npm install --ignore-scripts --no-audit --no-fund --no-package-lock @openmined/psi.js@2.0.6
	$(NODE) bench/peer.ts --psi out/peer-psi

# Kubernetes manifests per party (deploy/k8s/<party>/) from deploy/k8s/values.json, schema-validated
k8s: install
	$(NODE) deploy/k8s/generate.ts

k8s-check: install
	$(NODE) deploy/k8s/generate.ts --check

include deploy/e2e.mk

clean:
	rm -rf out node_modules

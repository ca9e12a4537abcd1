# deploy/e2e.mk — container targets, included by the Makefile (`include deploy/e2e.mk`).
#   make images   stage the build context, build cleanroom/node:dev (offline base when no
#                 registry is reachable) and write .env with a random admin token if absent
#   make e2e      the docker compose end-to-end simulation (scripts/e2e.sh), torn down after
# Both need a Docker engine: `sudo bash scripts/docker-up.sh` starts one on Debian.
.PHONY: images e2e

images: install
	bash deploy/build-image.sh
	@[ -f .env ] || { sed "s/^CLEANROOM_ADMIN_TOKEN=.*/CLEANROOM_ADMIN_TOKEN=$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')/" .env.example > .env && echo "wrote .env (random CLEANROOM_ADMIN_TOKEN)"; }

e2e: install
	bash scripts/e2e.sh

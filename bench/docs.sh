#!/usr/bin/env bash
# Compare `underpin docs` with pg_dump --schema-only and db2dbml (npm's @dbml/cli) on one
# generated schema of 2,000 tables (bench/docs_gen.py), side by side on one throwaway cluster.
# docs/BENCHMARKS.md records a run.
#
#   bash bench/docs.sh
#
# Timed with hyperfine. underpin and pg_dump get 3 warm-up and RUNS timed runs, db2dbml 1
# and PEER_RUNS:
#   underpin docs, all formats     introspection and every output, written to an empty folder
#   underpin dump (introspection)  the schema read and printed as canonical JSON only
#   pg_dump --schema-only          the same database's DDL, written to a file
#   db2dbml postgres               DBML of the same database
# Untimed: the statements each tool sends (log_statement = 'all', counted per
# application_name), peak memory (/usr/bin/time -v), output sizes.
#
# Environment overrides (defaults in brackets):
#   SCHEMAS [20] TABLES [100]     generated schema size (SCHEMAS x TABLES tables, 10 columns each)
#   RUNS [10]                     timed runs per underpin and pg_dump command
#   PEER_RUNS [3]                 timed runs of db2dbml (about a minute each at 2,000 tables)
#   PORT [61433]                  port of the throwaway cluster on 127.0.0.1
#   PG_BINDIR [/usr/lib/postgresql/15/bin]
#   BENCH_PG_DIR [/dev/shm/underpin-docs-bench-pg]  cluster folder (tmpfs: steadier timings)
#   BENCH_TOOLS [~/.cache/underpin-bench]           where @dbml/cli is installed
#   BENCH_OUT [/tmp/underpin-docs-bench]            results and report.md
#   BENCH_FILES [/dev/shm/underpin-docs-bench-out]  the tools' output files (tmpfs)
set -euo pipefail

readonly script=${0##*/}
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
readonly bench_dir repo

SCHEMAS=${SCHEMAS:-20}
TABLES=${TABLES:-100}
RUNS=${RUNS:-10}
PEER_RUNS=${PEER_RUNS:-3}
PORT=${PORT:-61433}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
BENCH_PG_DIR=${BENCH_PG_DIR:-/dev/shm/underpin-docs-bench-pg}
BENCH_TOOLS=${BENCH_TOOLS:-$HOME/.cache/underpin-bench}
BENCH_OUT=${BENCH_OUT:-/tmp/underpin-docs-bench}
BENCH_FILES=${BENCH_FILES:-/dev/shm/underpin-docs-bench-out}

# Pinned so that a rerun measures the same peer; report.md records what ran.
readonly dbml_cli_version=6.6.0

log() { printf '%s: %s\n' "$script" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

install_tools() {
  local -a missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [[ -x /usr/bin/time ]] || missing+=(time)
  if ((${#missing[@]} > 0)); then
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; run: sudo apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [[ ! -x $BENCH_TOOLS/dbml-cli/node_modules/.bin/db2dbml ]]; then
    log "installing @dbml/cli@$dbml_cli_version into $BENCH_TOOLS/dbml-cli"
    mkdir -p "$BENCH_TOOLS/dbml-cli"
    npm install --prefix "$BENCH_TOOLS/dbml-cli" --no-audit --no-fund --loglevel=error \
      "@dbml/cli@$dbml_cli_version" >/dev/null
  fi
}

build_underpin() {
  log "building underpin and the dump example (release)"
  (cd "$repo" && cargo build --release -q -p underpin && cargo build --release -q -p underpin-schema --example dump)
}

start_cluster() {
  if [[ -d $BENCH_PG_DIR ]]; then
    bash "$repo/scripts/pg-cluster.sh" stop "$BENCH_PG_DIR" 2>/dev/null || true
    rm -rf "$BENCH_PG_DIR"
  fi
  bash "$repo/scripts/pg-cluster.sh" start "$PG_BINDIR" "$BENCH_PG_DIR" "$PORT" >/dev/null
  trap 'bash "$repo/scripts/pg-cluster.sh" stop "$BENCH_PG_DIR"; rm -rf "$BENCH_PG_DIR"' EXIT
}

psql_cmd() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

load_schema() {
  log "generating and loading $SCHEMAS x $TABLES tables"
  python3 "$bench_dir/docs_gen.py" "$SCHEMAS" "$TABLES" >"$BENCH_OUT/schema.sql"
  psql_cmd -d postgres -c 'DROP DATABASE IF EXISTS docs_bench' -c 'CREATE DATABASE docs_bench'
  psql_cmd -d docs_bench -f "$BENCH_OUT/schema.sql" >/dev/null
  psql_cmd -d docs_bench -c 'VACUUM ANALYZE'
}

# Counts the statements one command sends: log_statement = 'all' for the database, the
# command run once with its own application_name, then that name's entries in the server log.
# Prints two numbers: all statements, and those that read the catalogs (pg_catalog or
# information_schema), which leaves out BEGIN, SET and the like.
count_statements() {
  local name=$1 command=$2 log_file=$BENCH_PG_DIR/server.log before
  before=$(wc -l <"$log_file")
  PGAPPNAME=$name bash -c "$command" >/dev/null 2>&1
  sleep 0.5
  tail -n +"$((before + 1))" "$log_file" | python3 -c '
import re, sys
name = sys.argv[1]
entries, current = [], None
for line in sys.stdin:
    if line.startswith("["):
        current = None
        match = re.match(r"\[([^\]]*)\] LOG:  statement: (.*)", line)
        if match and match.group(1) == name:
            current = [match.group(2)]
            entries.append(current)
    elif current is not None:
        current.append(line)
catalog = sum(1 for e in entries if re.search(r"pg_catalog|information_schema", "".join(e), re.I))
print(len(entries), catalog)
' "$name"
}

main() {
  mkdir -p "$BENCH_OUT"
  install_tools
  build_underpin
  start_cluster
  load_schema

  local url=postgres://postgres@127.0.0.1:$PORT/docs_bench
  local underpin=$repo/target/release/underpin
  local dump=$repo/target/release/examples/dump
  local db2dbml=$BENCH_TOOLS/dbml-cli/node_modules/.bin/db2dbml
  # Outputs go to tmpfs: on this shared disk, removing and rewriting 2,000 files each run
  # made the timings measure ext4's journal, not the tools.
  local out=$BENCH_FILES
  rm -rf "$out"
  # Each command gets its own --prepare, in the same order: underpin docs writes into an
  # empty folder every run (removing the previous run's 2,000 files is not timed), so every
  # run writes all files instead of finding them unchanged.
  local -a commands=(
    --prepare "rm -rf $out/docs" -n "underpin docs (all formats)" "$underpin docs --database-url $url --out $out/docs -q"
    --prepare true -n "underpin introspection only" "$dump $url >$out/model.json"
    --prepare true -n "pg_dump --schema-only" "$PG_BINDIR/pg_dump --schema-only -h 127.0.0.1 -p $PORT -U postgres docs_bench -f $out/dump.sql"
  )
  mkdir -p "$out"

  log "hyperfine: $RUNS runs each"
  hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$BENCH_OUT/hyperfine.json" \
    --export-markdown "$BENCH_OUT/hyperfine.md" "${commands[@]}" >"$BENCH_OUT/hyperfine.txt"
  # db2dbml takes about a minute per run on 2,000 tables, so it gets fewer runs.
  log "hyperfine: db2dbml, $PEER_RUNS runs"
  hyperfine --style basic --warmup 1 --runs "$PEER_RUNS" --export-json "$BENCH_OUT/hyperfine-db2dbml.json" \
    --export-markdown "$BENCH_OUT/hyperfine-db2dbml.md" \
    -n "db2dbml" "$db2dbml postgres '$url' -o $out/db2dbml.dbml" >"$BENCH_OUT/hyperfine-db2dbml.txt"

  # The log line prefix names the application, so each tool's statements can be counted apart.
  psql_cmd -d postgres -c "ALTER SYSTEM SET log_line_prefix = '[%a] '" -c "ALTER DATABASE docs_bench SET log_statement = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
  local underpin_statements dump_statements pg_dump_statements db2dbml_statements
  underpin_statements=$(count_statements underpin "rm -rf $out/docs && $underpin docs --database-url $url --out $out/docs -q")
  dump_statements=$(count_statements underpin "$dump $url")
  pg_dump_statements=$(count_statements pg_dump "$PG_BINDIR/pg_dump --schema-only -h 127.0.0.1 -p $PORT -U postgres docs_bench -f /dev/null")
  db2dbml_statements=$(count_statements db2dbml "$db2dbml postgres '$url' -o $out/db2dbml.dbml")
  psql_cmd -d postgres -c "ALTER DATABASE docs_bench RESET log_statement" >/dev/null

  local underpin_rss
  underpin_rss=$(/usr/bin/time -v "$underpin" docs --database-url "$url" --out "$out/docs" -q 2>&1 >/dev/null |
    awk '/Maximum resident/ {print $6}')
  local reported
  reported=$("$underpin" docs --database-url "$url" --out "$out/docs" --report json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["queries"], r["tables"], r["relations"])')

  {
    printf '# underpin docs benchmark\n\n'
    printf -- '- machine: %s, %s cores, %s\n' "$(uname -m)" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    printf -- '- PostgreSQL: %s (cluster on %s)\n' "$("$PG_BINDIR/postgres" --version)" "$BENCH_PG_DIR"
    printf -- '- schema: %s schemas x %s tables, 10 columns each (bench/docs_gen.py)\n' "$SCHEMAS" "$TABLES"
    printf -- '- underpin: %s (git %s)\n' "$("$underpin" --version)" "$(git -C "$repo" rev-parse --short HEAD)"
    printf -- '- db2dbml: @dbml/cli %s on node %s\n' "$dbml_cli_version" "$(node --version)"
    printf -- '- underpin reports: catalog queries, tables, relations = %s\n\n' "$reported"
    printf '## Times (hyperfine, %s runs after 3 warm-ups)\n\n' "$RUNS"
    cat "$BENCH_OUT/hyperfine.md"
    printf '\ndb2dbml (%s runs after 1 warm-up):\n\n' "$PEER_RUNS"
    cat "$BENCH_OUT/hyperfine-db2dbml.md"
    printf '\n## Statements sent (log_statement = all)\n\n'
    printf '| tool | statements | of them reading the catalogs |\n|---|---:|---:|\n'
    printf '| underpin docs (all formats) | %s | %s |\n' $underpin_statements
    printf '| underpin introspection only | %s | %s |\n' $dump_statements
    printf '| pg_dump --schema-only | %s | %s |\n' $pg_dump_statements
    printf '| db2dbml | %s | %s |\n' $db2dbml_statements
    printf '\n## Peak memory\n\nunderpin docs (all formats): %s kB\n' "$underpin_rss"
    printf '\n## Output sizes\n\n```\n'
    (cd "$out" && du -sh docs model.json dump.sql db2dbml.dbml 2>/dev/null)
    printf '```\n'
  } >"$BENCH_OUT/report.md"
  log "report: $BENCH_OUT/report.md"
  cat "$BENCH_OUT/report.md"
}

main "$@"

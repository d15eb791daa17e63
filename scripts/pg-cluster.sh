#!/usr/bin/env bash
# Start and stop throwaway PostgreSQL clusters for tests and local development.
#
#   scripts/pg-cluster.sh start BINDIR DIR [PORT]
#       Create a cluster in DIR/data with BINDIR's initdb (only when DIR contains none yet) and
#       start it. Prints two lines on stdout: the URL, then the port.
#   scripts/pg-cluster.sh stop DIR
#       Shut the cluster down in immediate mode. DIR stays on disk; remove it yourself.
#
# The server listens on 127.0.0.1 and on a Unix socket in DIR, trusts every connection
# (superuser postgres, no password) and runs with fsync, synchronous_commit and
# full_page_writes off: fast, but an operating-system crash can lose or corrupt its data.
# Any local user can connect over TCP, so never load real data into such a cluster.
#
# PostgreSQL refuses to run as root. Under root, initdb and the server run as the postgres
# system user (created when missing), who must be able to reach BINDIR and DIR.
#
# Without PORT, a free port is picked at random from UNDERPIN_TEST_PORT_RANGE
# (default 20000-31999). That default stays below Linux's default ephemeral range
# (32768-60999), so an outgoing connection cannot take the port between the check and
# the server's bind. If another server takes it first anyway, start retries with a new port.
set -euo pipefail

readonly script=${0##*/}
readonly server_user=postgres
readonly max_port_attempts=5
readonly ready_timeout_seconds=60

log() { printf '%s: %s\n' "$script" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: $script start BINDIR DIR [PORT]   initdb if needed, start; prints URL and port
       $script stop DIR                  immediate shutdown of the cluster in DIR
EOF
  exit 2
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a command as the owner of the server processes: the postgres user under root, the
# caller otherwise. The working folder is DIR, because initdb and pg_ctl warn when the
# server user cannot read the folder they start in.
as_server_user() {
  local dir=$1
  shift
  if is_root; then
    (cd "$dir" && runuser -u "$server_user" -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

ensure_server_user() {
  if id "$server_user" >/dev/null 2>&1; then
    return
  fi
  log "creating system user $server_user to run the server (PostgreSQL refuses root)"
  # The same home folder and shell as Debian's postgresql-common, so a later
  # `apt-get install postgresql` accepts the existing user.
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
    --shell /bin/bash --comment "PostgreSQL administrator" "$server_user"
}

# Prints one port from UNDERPIN_TEST_PORT_RANGE on which nothing listens on 127.0.0.1.
pick_port() {
  local range=${UNDERPIN_TEST_PORT_RANGE:-20000-31999}
  if ! [[ $range =~ ^([0-9]+)-([0-9]+)$ ]] || ((BASH_REMATCH[1] > BASH_REMATCH[2] || BASH_REMATCH[2] > 65535)); then
    die "UNDERPIN_TEST_PORT_RANGE='$range' is invalid: expected LOW-HIGH with LOW <= HIGH <= 65535, e.g. 20000-31999"
  fi
  command -v python3 >/dev/null ||
    die "python3 not found on PATH; it is needed to find a free port (or pass PORT as the last argument)"

  # Binding without SO_REUSEADDR also rejects ports that still have connections in
  # TIME_WAIT, which errs on the safe side.
  python3 - "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" <<'EOF' || die "no free port on 127.0.0.1 in $range; set UNDERPIN_TEST_PORT_RANGE to another range"
import random, socket, sys
low, high = int(sys.argv[1]), int(sys.argv[2])
ports = list(range(low, high + 1))
random.shuffle(ports)
for port in ports[:200]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    sys.exit(0)
sys.exit(1)
EOF
}

# Quotes a value as a postgresql.conf string literal.
conf_string() { printf "'%s'" "${1//\'/\'\'}"; }

# Prints the folder of the server's loadable modules, or nothing when BINDIR has no
# pg_config to ask.
pkglibdir() {
  local bindir=$1
  if [[ -x $bindir/pg_config ]]; then
    "$bindir/pg_config" --pkglibdir 2>/dev/null || true
  fi
}

init_cluster() {
  local bindir=$1 dir=$2
  local data=$dir/data

  log "initdb $data ($("$bindir/postgres" --version))"
  # --no-sync matches fsync = off below: the cluster is thrown away after the run.
  if ! as_server_user "$dir" "$bindir/initdb" --no-sync -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
    >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    die "initdb failed for $data (output above, also in $dir/initdb.log)"
  fi

  # Settings go into postgresql.conf rather than pg_ctl -o, which splits paths at spaces,
  # and they survive a restart by hand.
  local preload=''
  local modules
  modules=$(pkglibdir "$bindir")
  if [[ -n $modules && -f $modules/pg_stat_statements.so ]]; then
    preload="shared_preload_libraries = 'pg_stat_statements'"
  fi
  cat >>"$data/postgresql.conf" <<EOF

# Added by $script: a throwaway cluster for tests, with durability switched off.
listen_addresses = '127.0.0.1'
unix_socket_directories = $(conf_string "$dir")
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_statement = 'none'
$preload
EOF
}

# Waits until pg_isready reports that the server on PORT accepts connections.
wait_until_ready() {
  local bindir=$1 port=$2
  local deadline=$((SECONDS + ready_timeout_seconds))
  local status
  while true; do
    status=0
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres || status=$?
    ((status != 0)) || return 0
    ((SECONDS < deadline)) ||
      die "the server on 127.0.0.1:$port is not ready after ${ready_timeout_seconds}s (pg_isready exit code $status: 1 rejecting, 2 no response)"
    sleep 0.1
  done
}

cmd_start() {
  (($# == 2 || $# == 3)) || usage
  local bindir=$1 dir=$2 requested_port=${3:-}
  [[ -z $requested_port || $requested_port =~ ^[0-9]+$ ]] ||
    die "PORT '$requested_port' is not a number"

  local tool
  for tool in initdb pg_ctl postgres pg_isready; do
    [[ -x $bindir/$tool ]] ||
      die "$bindir/$tool not found or not executable; BINDIR must be a PostgreSQL server bin folder such as /usr/lib/postgresql/15/bin"
  done
  bindir=$(cd "$bindir" && pwd)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local data=$dir/data

  if is_root; then
    ensure_server_user
    chown "$server_user:" "$dir"
    runuser -u "$server_user" -- test -x "$bindir/postgres" ||
      die "user $server_user cannot execute $bindir/postgres: every folder above it must be searchable by others (chmod o+x), e.g. not under a home folder with mode 700"
    runuser -u "$server_user" -- test -w "$dir" ||
      die "user $server_user cannot write to $dir: every folder above it must be searchable by others (chmod o+x)"
  fi

  if [[ -f $data/PG_VERSION ]]; then
    log "reusing the cluster in $data"
  else
    init_cluster "$bindir" "$dir"
  fi
  # stop reads which pg_ctl belongs to this cluster from here.
  printf '%s\n' "$bindir" >"$dir/bindir"

  local attempt port log_lines
  for ((attempt = 1; ; attempt++)); do
    port=${requested_port:-$(pick_port)}
    log_lines=0
    [[ -f $dir/server.log ]] && log_lines=$(wc -l <"$dir/server.log")

    if as_server_user "$dir" "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t "$ready_timeout_seconds" \
      -o "-p $port" start >"$dir/pg_ctl.log" 2>&1; then
      break
    fi

    local new_log
    new_log=$(tail -n +"$((log_lines + 1))" "$dir/server.log" 2>/dev/null || true)
    if [[ -z $requested_port && $new_log == *"could not bind"* ]] && ((attempt < max_port_attempts)); then
      log "port $port was taken before the server could bind it; trying another"
      continue
    fi
    cat "$dir/pg_ctl.log" >&2
    printf '%s\n' "$new_log" >&2
    die "pg_ctl start failed for $data on port $port (server log above, also in $dir/server.log)"
  done

  wait_until_ready "$bindir" "$port"
  printf 'postgres://postgres@127.0.0.1:%s/postgres\n%s\n' "$port" "$port"
}

cmd_stop() {
  (($# == 1)) || usage
  local dir=$1
  local data=$dir/data
  [[ -f $dir/bindir ]] || die "$dir/bindir not found, so $dir contains no cluster started by $script"
  local bindir
  bindir=$(<"$dir/bindir")

  if [[ ! -f $data/postmaster.pid ]]; then
    log "no server running in $data"
    return
  fi

  local owner
  owner=$(stat -c %U "$data")
  local -a run_as=()
  if is_root && [[ $owner != root ]]; then
    run_as=(runuser -u "$owner" --)
  fi
  if (cd "$dir" && "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop) >"$dir/pg_ctl-stop.log" 2>&1; then
    log "stopped the server in $data"
    return
  fi

  # pg_ctl stop fails when the server was already gone and left a stale postmaster.pid, or
  # when the server did not stop in time. Only in the second case is the PID still a postgres.
  local pid
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
    log "pg_ctl stop failed ($(tr '\n' ' ' <"$dir/pg_ctl-stop.log")); sending SIGKILL to postmaster $pid"
    kill -KILL "$pid"
  else
    log "no server running in $data (stale postmaster.pid)"
  fi
}

(($# >= 1)) || usage
command=$1
shift
case $command in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
*) usage ;;
esac

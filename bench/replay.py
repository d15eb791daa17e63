#!/usr/bin/env python3
"""Turn the statements a server logged into a psql script that sends them again.

    python3 bench/replay.py SERVER_LOG FIRST_LINE OUT_SQL

Reads SERVER_LOG from line FIRST_LINE (1-based) on, keeps every `LOG:  statement: ...` entry
(log_statement = 'all', simple query protocol) with its continuation lines, and writes them to
OUT_SQL, one statement per entry. bench/run.sh replays underpin's statements through psql this
way, which separates the time the server spends on underpin's SQL from the time underpin's own
process adds.

underpin's history writes check that the server process holding the migration lock is the
one running them, naming that process as `pid = <number>`. The replay runs in another server
process, so every `pid = <number>` becomes `pid = pg_catalog.pg_backend_pid()`.

The log line prefix must start with PostgreSQL's default `%m [%p] ` (timestamp, then process
id), which scripts/pg-cluster.sh leaves unchanged. Statements sent with the extended protocol
(`execute` entries) are not kept: their parameters are logged separately.
"""

import re
import sys
from pathlib import Path

ENTRY = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] (\w+):  (.*)$")
STATEMENT = "statement: "
LOCK_HOLDER_PID = re.compile(r"\bpid = \d+\b")


def extract(lines: list) -> list:
    statements = []
    current = None
    for line in lines:
        match = ENTRY.match(line)
        if match:
            if current is not None:
                statements.append(current)
                current = None
            level, message = match.groups()
            if level == "LOG" and message.startswith(STATEMENT):
                current = message[len(STATEMENT):]
        elif current is not None:
            # The server indents each continuation line of a logged statement with one tab.
            current += "\n" + line.removeprefix("\t")
    if current is not None:
        statements.append(current)
    return [LOCK_HOLDER_PID.sub("pid = pg_catalog.pg_backend_pid()", statement) for statement in statements]


def main() -> int:
    if len(sys.argv) != 4 or not sys.argv[2].isdigit() or int(sys.argv[2]) < 1:
        print("usage: replay.py SERVER_LOG FIRST_LINE OUT_SQL (FIRST_LINE counts from 1)", file=sys.stderr)
        return 2
    log_path, first_line, out_path = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])

    lines = log_path.read_text(encoding="utf-8").splitlines()[first_line - 1 :]
    statements = extract(lines)
    if not statements:
        print(f"replay.py: no `LOG:  statement:` entries in {log_path} from line {first_line}; is log_statement = 'all' set?", file=sys.stderr)
        return 1

    # psql ends a statement at a semicolon outside quotes, so each entry gets exactly one.
    out_path.write_text("".join(statement.rstrip().rstrip(";") + ";\n" for statement in statements), encoding="utf-8")
    print(f"replay.py: wrote {len(statements)} statements to {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

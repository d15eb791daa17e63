#!/usr/bin/env python3
"""Generate one set of trivial migrations in every layout the benchmark compares.

    python3 bench/gen.py COUNT OUT_DIR

Writes, for versions 1..COUNT (zero-padded to five digits so every tool sorts them alike):

    OUT_DIR/native/00001_t00001.sql              dbmate layout (underpin's native format)
    OUT_DIR/sqlx/00001_t00001.up.sql, .down.sql  sqlx-cli pairs
    OUT_DIR/diesel/00001_t00001/up.sql, down.sql diesel_cli folders
    OUT_DIR/npm/00001_t00001.sql                 node-pg-migrate SQL files
    OUT_DIR/psql/up-per-file.sql                 BEGIN; <up>; COMMIT; per migration
    OUT_DIR/psql/up-single.sql                   every up script in one transaction
    OUT_DIR/psql/up-history.sql                  per migration: BEGIN; <up>; a history INSERT; COMMIT;
    OUT_DIR/psql/up-one-message.sql              the same four statements sent as one message
    OUT_DIR/psql/down-per-file.sql               BEGIN; <down>; COMMIT; newest first

The two history scripts are the floor for a tool that records each migration in its own
transaction: up-history.sql with one round trip per statement, up-one-message.sql with one
round trip per migration (psql sends statements joined by `\;` as one simple-protocol query).

Migration N creates table tNNNNN (id int primary key, v text) and its down script drops it.
OUT_DIR must not exist yet, so a stale set of another size is never mixed in.
"""

import sys
from pathlib import Path

VERSION_WIDTH = 5


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def generate(count: int, out: Path) -> None:
    up_per_file = []
    up_single = ["BEGIN;\n"]
    history_table = "CREATE TABLE bench_history (version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());\n"
    up_history = [history_table]
    up_one_message = [history_table]
    down_per_file = []

    for number in range(1, count + 1):
        version = f"{number:0{VERSION_WIDTH}d}"
        table = f"t{version}"
        stem = f"{version}_{table}"
        up = f"CREATE TABLE {table} (id int primary key, v text);\n"
        down = f"DROP TABLE {table};\n"

        write(out / "native" / f"{stem}.sql", f"-- migrate:up\n{up}\n-- migrate:down\n{down}")
        write(out / "sqlx" / f"{stem}.up.sql", up)
        write(out / "sqlx" / f"{stem}.down.sql", down)
        write(out / "diesel" / stem / "up.sql", up)
        write(out / "diesel" / stem / "down.sql", down)
        write(out / "npm" / f"{stem}.sql", f"-- Up Migration\n{up}\n-- Down Migration\n{down}")

        up_per_file.append(f"BEGIN;\n{up}COMMIT;\n")
        up_single.append(up)
        record = f"INSERT INTO bench_history (version, name) VALUES ('{version}', '{table}');\n"
        up_history.append(f"BEGIN;\n{up}{record}COMMIT;\n")
        up_one_message.append(f"BEGIN \\; {up.rstrip().rstrip(';')} \\; {record.rstrip().rstrip(';')} \\; COMMIT;\n")
        down_per_file.append(f"BEGIN;\n{down}COMMIT;\n")

    up_single.append("COMMIT;\n")
    down_per_file.reverse()
    write(out / "psql" / "up-per-file.sql", "".join(up_per_file))
    write(out / "psql" / "up-single.sql", "".join(up_single))
    write(out / "psql" / "up-history.sql", "".join(up_history))
    write(out / "psql" / "up-one-message.sql", "".join(up_one_message))
    write(out / "psql" / "down-per-file.sql", "".join(down_per_file))


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: gen.py COUNT OUT_DIR", file=sys.stderr)
        return 2

    count_text, out_text = sys.argv[1], sys.argv[2]
    if not count_text.isdigit() or not 1 <= int(count_text) < 10**VERSION_WIDTH:
        print(
            f"gen.py: COUNT '{count_text}' is invalid: expected a whole number from 1 to {10**VERSION_WIDTH - 1}",
            file=sys.stderr,
        )
        return 2

    out = Path(out_text)
    if out.exists():
        print(f"gen.py: {out} already exists; remove it or pick another OUT_DIR", file=sys.stderr)
        return 2

    generate(int(count_text), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Render the results of bench/run.sh as Markdown tables.

    python3 bench/report.py RESULTS_DIR > report.md

Reads from RESULTS_DIR: hyperfine's JSON exports (a-up, c-down and d-size-N in rounds named
NAME.roundK.json, b-noop.json in one piece), the /usr/bin/time -v outputs (mem-*.time),
statements.tsv, server-time.tsv, machine.txt and load.txt. Every time is a median over all
runs of a command; every ratio divides two medians.
"""

import json
import re
import statistics
import sys
from pathlib import Path

LABELS = {
    "psql-per-file": "psql, `BEGIN; file; COMMIT;` per file (lower bound)",
    "psql-single": "psql, whole set in one transaction",
    "psql-history": "psql, per file plus a history INSERT",
    "psql-one-message": "psql, per file plus a history INSERT, one message per file",
    "psql-underpin-replay": "psql replaying underpin's own statements",
    "underpin": "underpin, dbmate-style files",
    "underpin-sqlx": "underpin, the sqlx folder",
    "underpin-diesel": "underpin, the diesel folder",
    "diesel": "diesel_cli",
    "sqlx": "sqlx-cli",
    "dbmate": "dbmate",
    "node-pg-migrate": "node-pg-migrate (default: one transaction for the whole run)",
    "node-pg-migrate-per-file": "node-pg-migrate `--no-single-transaction`",
    "psql SELECT 1": "psql `-c 'SELECT 1'` (process start and connect)",
    "underpin status": "underpin `migrate status`",
}

PEERS = ["diesel", "sqlx", "dbmate", "node-pg-migrate", "node-pg-migrate-per-file"]

# Targets set for underpin before these measurements.
UP_RATIO_TARGET = 1.10
NOOP_TARGET_MS = 15.0
PEAK_RSS_TARGET_MB = 30.0


def label(name: str) -> str:
    return LABELS.get(name, name)


def load_hyperfine(results: Path, name: str) -> dict:
    """Map each command name to its runs, merged over NAME.json and every NAME.roundK.json.

    Each entry has `times` (seconds, all runs) and `cpu` (client user + system seconds, mean
    over the files, as hyperfine reports a mean per file).
    """
    paths = sorted(results.glob(f"{name}.round*.json"))
    if (results / f"{name}.json").exists():
        paths.append(results / f"{name}.json")
    merged = {}
    for path in paths:
        for entry in json.loads(path.read_text())["results"]:
            runs = merged.setdefault(entry["command"], {"times": [], "cpu": []})
            runs["times"] += entry["times"]
            runs["cpu"].append(entry["user"] + entry["system"])
    for runs in merged.values():
        runs["cpu"] = statistics.mean(runs["cpu"])
    return merged


def median(runs: dict) -> float:
    return statistics.median(runs["times"])


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def millis(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def spread(runs: dict, unit=seconds) -> str:
    return f"{unit(min(runs['times']))} – {unit(max(runs['times']))}"


def table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def max_rss_kib(results: Path, name: str):
    """Return the largest maximum resident set size (KiB) over NAME.*.time, or None."""
    values = []
    for path in sorted(results.glob(f"{name}.*.time")):
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text())
        if match is None:
            raise SystemExit(f"report.py: {path} has no 'Maximum resident set size' line; rerun bench/run.sh")
        values.append(int(match.group(1)))
    return max(values) if values else None


def mib(kib) -> str:
    return f"{kib / 1024:.1f} MiB" if kib is not None else "–"


def section_up(results: Path, size: int) -> tuple:
    runs = load_hyperfine(results, "a-up")
    if not runs:
        return "", {}
    bound = median(runs["psql-per-file"])
    history = median(runs["psql-history"]) if "psql-history" in runs else None
    rows = []
    for name, entry in runs.items():
        value = median(entry)
        rows.append(
            [
                label(name),
                seconds(value),
                spread(entry),
                f"{value / bound:.2f}×",
                f"{value / history:.2f}×" if history else "–",
                f"{value / size * 1000:.2f} ms",
                f"{entry['cpu']:.2f} s",
                len(entry["times"]),
            ]
        )
    header = ["tool", "median", "min – max", "÷ psql per file", "÷ psql + history", "per migration", "client CPU", "runs"]
    return table(header, rows), runs


def section_noop(results: Path) -> tuple:
    runs = load_hyperfine(results, "b-noop")
    if not runs:
        return "", {}
    rows = [
        [label(name), millis(median(entry)), spread(entry, millis), f"{entry['cpu'] * 1000:.1f} ms", len(entry["times"])]
        for name, entry in runs.items()
    ]
    return table(["tool", "median", "min – max", "client CPU (mean)", "runs"], rows), runs


def section_down(results: Path, up_runs: dict) -> str:
    runs = load_hyperfine(results, "c-down")
    if not runs:
        return ""
    bound = median(runs["psql-per-file"])
    rows = []
    for name, entry in runs.items():
        value = median(entry)
        up = median(up_runs[name]) if name in up_runs else None
        rows.append(
            [
                label(name),
                seconds(value),
                spread(entry),
                f"{value / bound:.2f}×",
                seconds(up) if up else "–",
                f"{value / up:.2f}" if up else "–",
                len(entry["times"]),
            ]
        )
    header = ["tool", "roll back all: median", "min – max", "÷ psql per file", "apply all (a)", "back ÷ apply", "runs"]
    return table(header, rows)


def section_sizes(results: Path) -> tuple:
    sizes = sorted(int(path.stem.split(".")[0].removeprefix("d-size-")) for path in results.glob("d-size-*.round1.json"))
    rows = []
    per_migration = {}
    for size in sizes:
        runs = load_hyperfine(results, f"d-size-{size}")
        psql, underpin = median(runs["psql-per-file"]), median(runs["underpin"])
        history = median(runs["psql-history"])
        per_migration[size] = underpin / size
        rows.append(
            [
                size,
                seconds(psql),
                seconds(history),
                seconds(underpin),
                f"{underpin / psql:.2f}×",
                f"{psql / size * 1000:.2f} ms",
                f"{underpin / size * 1000:.2f} ms",
                mib(max_rss_kib(results, f"mem-underpin-up-{size}")),
            ]
        )
    header = [
        "migrations",
        "psql per file",
        "psql + history",
        "underpin up",
        "underpin ÷ psql per file",
        "psql per migration",
        "underpin per migration",
        "underpin peak RSS",
    ]
    return table(header, rows), per_migration, sizes


def section_memory(results: Path, largest: int) -> tuple:
    rows = []
    peaks = {}
    for name, description in [
        (f"mem-underpin-up-{largest}", f"`up`, {largest} pending"),
        (f"mem-underpin-noop-{largest}", f"no-op `up`, {largest} applied"),
        (f"mem-underpin-status-{largest}", f"`status`, {largest} applied"),
    ]:
        rss = max_rss_kib(results, name)
        if rss is None:
            continue
        peaks[name] = rss
        rows.append([description, f"{mib(rss)} ({rss * 1024 / 1e6:.1f} MB)"])
    return table(["underpin command", "peak RSS, largest of 3 runs"], rows), peaks


def section_peer_memory(results: Path, size: int) -> str:
    rows = []
    for name in ["underpin"] + PEERS:
        up = max_rss_kib(results, f"mem-peer-{name}-up-{size}")
        noop = max_rss_kib(results, f"mem-peer-{name}-noop-{size}")
        if up is None and noop is None:
            continue
        rows.append([label(name), mib(up), mib(noop)])
    return table(["tool", f"`up`, {size} pending", f"no-op `up`, {size} applied"], rows) if rows else ""


def section_statements(results: Path) -> str:
    path = results / "statements.tsv"
    if not path.exists():
        return ""
    rows = []
    for line in path.read_text().splitlines()[1:]:
        name, small, small_count, large, large_count = line.split("\t")
        small, small_count, large, large_count = map(int, (small, small_count, large, large_count))
        per = (large_count - small_count) / (large - small)
        fixed = small_count - per * small
        rows.append([label(name), f"{per:.1f}", f"{fixed:.0f}"])
    return table(["tool", "statements per migration", "statements per run, fixed"], rows)


def section_server_time(results: Path) -> str:
    path = results / "server-time.tsv"
    if not path.exists():
        return ""
    rows = []
    for line in path.read_text().splitlines()[1:]:
        tool, calls, plan_ms, exec_ms, statement = line.split("\t", 4)
        rows.append([label(tool), f"`{statement.strip()}`", calls, plan_ms, exec_ms])
    return table(["tool", "statement", "calls", "planning, ms total", "execution, ms total"], rows)


def verdicts(size: int, up_runs: dict, noop_runs: dict, per_migration: dict, peaks: dict) -> list:
    lines = []
    if up_runs:
        ratio = median(up_runs["underpin"]) / median(up_runs["psql-per-file"])
        verdict = "met" if ratio <= UP_RATIO_TARGET else "missed"
        lines.append(f"- (a) underpin ÷ psql per file = {ratio:.2f} (target ≤ {UP_RATIO_TARGET:.2f}): {verdict}")
        peers = [p for p in PEERS if p in up_runs]
        not_beaten = [p for p in peers if median(up_runs[p]) <= median(up_runs["underpin"])]
        if not_beaten:
            lines.append(f"- (a) faster than every peer: missed; not faster than {', '.join(not_beaten)}")
        elif peers:
            lines.append(f"- (a) faster than every peer ({', '.join(peers)}): met")
    if "underpin" in noop_runs:
        value = median(noop_runs["underpin"]) * 1000
        verdict = "met" if value <= NOOP_TARGET_MS else "missed"
        lines.append(f"- (b) no-op up with {size} applied = {value:.1f} ms (target ≤ {NOOP_TARGET_MS:.0f} ms): {verdict}")
    if len(per_migration) >= 2:
        sizes = sorted(per_migration)
        growth = per_migration[sizes[-1]] / per_migration[sizes[0]]
        lines.append(f"- (d) underpin's time per migration at {sizes[-1]} ÷ at {sizes[0]} = {growth:.2f} (1.00 is exactly linear)")
    if peaks:
        worst_mb = max(peaks.values()) * 1024 / 1e6
        verdict = "met" if worst_mb <= PEAK_RSS_TARGET_MB else "missed"
        lines.append(f"- (d) underpin's largest peak RSS = {worst_mb:.1f} MB (target ≤ {PEAK_RSS_TARGET_MB:.0f} MB): {verdict}")
    return lines


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: report.py RESULTS_DIR", file=sys.stderr)
        return 2
    results = Path(sys.argv[1])
    machine = (results / "machine.txt").read_text()
    size_match = re.search(r"SIZE=(\d+)", machine)
    if size_match is None:
        raise SystemExit(f"report.py: {results / 'machine.txt'} has no SIZE=N line; rerun bench/run.sh")
    size = int(size_match.group(1))

    up_text, up_runs = section_up(results, size)
    noop_text, noop_runs = section_noop(results)
    sizes_text, per_migration, sizes = section_sizes(results)
    memory_text, peaks = section_memory(results, max(sizes)) if sizes else ("", {})

    out = [
        "## Machine\n",
        "```\n" + machine.rstrip() + "\n```\n",
        "Load average (uptime) before timing and at the start of each scenario:\n",
        "```\n" + (results / "load.txt").read_text().rstrip() + "\n```\n",
        "## Targets\n",
        "\n".join(verdicts(size, up_runs, noop_runs, per_migration, peaks)) + "\n",
        f"## (a) Apply {size} migrations to an empty database\n",
        up_text + "\n",
        f"## (b) No-op `up` with {size} applied (whole process)\n",
        noop_text + "\n",
        f"## (c) Roll back all {size}\n",
        section_down(results, up_runs) + "\n",
        "## (d) Growth with the number of migrations\n",
        sizes_text + "\n",
        memory_text + "\n",
        f"Peak RSS of every tool at {size} migrations (one run each):\n",
        section_peer_memory(results, size) + "\n",
        "## Statements sent to the server\n",
        section_statements(results) + "\n",
        f"## Server time per statement, {size} migrations (pg_stat_statements)\n",
        section_server_time(results) + "\n",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

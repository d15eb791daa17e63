#!/usr/bin/env python3
"""Render the results of bench/run.sh as Markdown tables.

    python3 bench/report.py RESULTS_DIR > report.md

Reads hyperfine's JSON exports (a-up, b-noop, c-down, d-size-N), the /usr/bin/time -v
outputs (mem-*.time), statements.tsv, machine.txt and load.txt from RESULTS_DIR. Every time
is a median over the runs hyperfine made; ratios divide two medians.
"""

import json
import re
import statistics
import sys
from pathlib import Path

LABELS = {
    "psql-per-file": "psql, `BEGIN; file; COMMIT;` per file (lower bound)",
    "psql-single": "psql, whole set in one transaction (reference)",
    "underpin": "underpin, dbmate-style files",
    "underpin-sqlx": "underpin, reading the sqlx folder",
    "underpin-diesel": "underpin, reading the diesel folder",
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


def load_hyperfine(path: Path) -> dict:
    """Map each command name in a hyperfine export to its result entry."""
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    return {entry["command"]: entry for entry in results}


def median(entry: dict) -> float:
    return statistics.median(entry["times"])


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def millis(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def max_rss_kib(path_prefix: Path) -> tuple:
    """Return the largest maximum resident set size (KiB) over the attempts, and their count."""
    values = []
    for path in sorted(path_prefix.parent.glob(path_prefix.name + ".*.time")):
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text())
        if match is None:
            raise SystemExit(f"report.py: {path} has no 'Maximum resident set size' line; rerun bench/run.sh")
        values.append(int(match.group(1)))
    return (max(values), len(values)) if values else (None, 0)


def section_up(results: Path, size: int) -> tuple:
    runs = load_hyperfine(results / "a-up.json")
    if not runs:
        return "", {}
    bound = median(runs["psql-per-file"])
    rows = []
    for name, entry in runs.items():
        value = median(entry)
        rows.append(
            [
                label(name),
                seconds(value),
                f"{seconds(entry['min'])} – {seconds(entry['max'])}",
                f"{value / bound:.2f}×",
                f"{value / size * 1000:.2f} ms",
                f"{(entry['user'] + entry['system']):.2f} s",
                len(entry["times"]),
            ]
        )
    text = table(
        ["tool", "median", "min – max", "÷ psql per file", "per migration", "client CPU (mean)", "runs"],
        rows,
    )
    return text, runs


def section_noop(results: Path) -> tuple:
    runs = load_hyperfine(results / "b-noop.json")
    if not runs:
        return "", {}
    rows = [
        [
            label(name),
            millis(median(entry)),
            f"{millis(entry['mean'])} ± {millis(entry['stddev'] or 0.0)}",
            millis(entry["min"]),
            len(entry["times"]),
        ]
        for name, entry in runs.items()
    ]
    return table(["tool", "median", "mean ± σ", "min", "runs"], rows), runs


def section_down(results: Path, up_runs: dict) -> tuple:
    runs = load_hyperfine(results / "c-down.json")
    if not runs:
        return "", {}
    bound = median(runs["psql-per-file"])
    rows = []
    for name, entry in runs.items():
        value = median(entry)
        up = median(up_runs[name]) if name in up_runs else None
        rows.append(
            [
                label(name),
                seconds(value),
                f"{value / bound:.2f}×",
                seconds(up) if up else "–",
                f"{value / up:.2f}" if up else "–",
                len(entry["times"]),
            ]
        )
    text = table(["tool", "roll back all: median", "÷ psql per file", "apply all: median (a)", "back ÷ apply", "runs"], rows)
    return text, runs


def section_sizes(results: Path) -> tuple:
    sizes = sorted(
        int(path.stem.removeprefix("d-size-")) for path in results.glob("d-size-*.json")
    )
    rows = []
    per_migration = {}
    for size in sizes:
        runs = load_hyperfine(results / f"d-size-{size}.json")
        psql, underpin = median(runs["psql-per-file"]), median(runs["underpin"])
        per_migration[size] = underpin / size
        rss, _ = max_rss_kib(results / f"mem-up-{size}")
        rows.append(
            [
                size,
                seconds(psql),
                seconds(underpin),
                f"{underpin / psql:.2f}×",
                f"{underpin / size * 1000:.2f} ms",
                f"{rss / 1024:.1f} MiB" if rss else "–",
            ]
        )
    text = table(
        ["migrations", "psql per file: median", "underpin up: median", "÷ psql", "underpin per migration", "underpin peak RSS"],
        rows,
    )
    return text, per_migration, sizes


def section_memory(results: Path, largest: int) -> tuple:
    rows = []
    peaks = {}
    for name, what in [
        (f"mem-up-{largest}", f"`up`, {largest} pending"),
        (f"mem-noop-up-{largest}", f"no-op `up`, {largest} applied"),
        (f"mem-status-{largest}", f"`status`, {largest} applied"),
    ]:
        rss, attempts = max_rss_kib(results / name)
        if rss is None:
            continue
        peaks[name] = rss
        rows.append([what, f"{rss / 1024:.1f} MiB ({rss * 1024 / 1e6:.1f} MB)", attempts])
    return table(["underpin command", "peak RSS (largest of the attempts)", "attempts"], rows), peaks


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


def verdicts(size: int, up_runs: dict, noop_runs: dict, per_migration: dict, peaks: dict) -> list:
    lines = []
    if up_runs:
        ratio = median(up_runs["underpin"]) / median(up_runs["psql-per-file"])
        verdict = "met" if ratio <= UP_RATIO_TARGET else "missed"
        lines.append(f"- (a) underpin ÷ psql per file = {ratio:.2f} (target ≤ {UP_RATIO_TARGET:.2f}): {verdict}")
        slower = [p for p in PEERS if p in up_runs and median(up_runs[p]) <= median(up_runs["underpin"])]
        peers = [p for p in PEERS if p in up_runs]
        if slower:
            lines.append(f"- (a) faster than every peer: missed, not faster than {', '.join(slower)}")
        elif peers:
            lines.append(f"- (a) faster than every peer ({', '.join(peers)}): met")
    if "underpin" in noop_runs:
        value = median(noop_runs["underpin"]) * 1000
        verdict = "met" if value <= NOOP_TARGET_MS else "missed"
        lines.append(f"- (b) no-op up with {size} applied = {value:.1f} ms (target ≤ {NOOP_TARGET_MS:.0f} ms): {verdict}")
    if len(per_migration) >= 2:
        sizes = sorted(per_migration)
        growth = per_migration[sizes[-1]] / per_migration[sizes[0]]
        lines.append(
            f"- (d) time per migration at {sizes[-1]} ÷ at {sizes[0]} = {growth:.2f} (1.00 is exactly linear)"
        )
    if peaks:
        worst_kib = max(peaks.values())
        worst_mb = worst_kib * 1024 / 1e6
        verdict = "met" if worst_mb <= PEAK_RSS_TARGET_MB else "missed"
        lines.append(f"- (d) largest peak RSS = {worst_mb:.1f} MB (target ≤ {PEAK_RSS_TARGET_MB:.0f} MB): {verdict}")
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
    down_text, _ = section_down(results, up_runs)
    sizes_text, per_migration, sizes = section_sizes(results)
    memory_text, peaks = section_memory(results, max(sizes)) if sizes else ("", {})

    out = [
        "## Machine\n",
        "```\n" + machine.rstrip() + "\n```\n",
        "Load average before each scenario:\n",
        "```\n" + (results / "load.txt").read_text().rstrip() + "\n```\n",
        "## Targets\n",
        "\n".join(verdicts(size, up_runs, noop_runs, per_migration, peaks)) + "\n",
        f"## (a) Apply {size} migrations to an empty database\n",
        up_text + "\n",
        f"## (b) No-op `up` with {size} applied (whole process)\n",
        noop_text + "\n",
        f"## (c) Roll back all {size}\n",
        down_text + "\n",
        "## (d) Growth with the number of migrations\n",
        sizes_text + "\n",
        memory_text + "\n",
        "## Statements sent to the server\n",
        section_statements(results) + "\n",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Print the SQL of a large generated schema for the `underpin docs` benchmark.

    python3 bench/docs_gen.py [SCHEMAS] [TABLES_PER_SCHEMA] > schema.sql

Defaults: 20 schemas of 100 tables, 10 columns each (20,000 columns). Every table has an
identity primary key and a comment; most have one or two foreign keys to earlier tables,
about one in five of them into another schema; foreign key columns are indexed; some tables
carry a unique constraint, a check constraint or a partial index. The output is the same
for the same arguments, so every run measures the same schema.
"""

import random
import sys

COLUMN_TYPES = [
    ("name", "text NOT NULL"),
    ("code", "character varying(40)"),
    ("quantity", "numeric(12,2) NOT NULL DEFAULT 0"),
    ("active", "boolean NOT NULL DEFAULT true"),
    ("created_at", "timestamp with time zone NOT NULL DEFAULT now()"),
    ("attributes", "jsonb"),
    ("external_id", "uuid"),
    ("rank", "integer"),
]


def main() -> None:
    schemas = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    per_schema = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rng = random.Random(20261204)
    out = sys.stdout.write
    out("BEGIN;\n")
    tables: list[tuple[str, str]] = []
    for s in range(schemas):
        schema = f"area_{s:02d}"
        out(f"CREATE SCHEMA {schema};\n")
        out(f"COMMENT ON SCHEMA {schema} IS 'Generated business area {s}.';\n")
        for t in range(per_schema):
            table = f"entity_{t:03d}"
            columns = ["id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
            columns += [f"{name} {kind}" for name, kind in COLUMN_TYPES]
            references = []
            if tables and t > 0:
                for _ in range(rng.choice([1, 1, 2])):
                    if rng.random() < 0.2 or t < 2:
                        target = rng.choice(tables)
                    else:
                        target = (schema, f"entity_{rng.randrange(t):03d}")
                    references.append(target)
            # Ten columns in all: the primary key, eight data columns and one reference or a note.
            if references:
                for n, (ref_schema, ref_table) in enumerate(references[:1]):
                    columns.append(f"{ref_schema}_{ref_table}_id bigint REFERENCES {ref_schema}.{ref_table} (id) ON DELETE CASCADE")
            else:
                columns.append("note text")
            if len(references) > 1:
                # Replaces the `rank` column so the count stays at ten.
                ref_schema, ref_table = references[1]
                columns[8] = f"rank bigint REFERENCES {ref_schema}.{ref_table} (id)"
            if rng.random() < 0.3:
                columns.append(f"CONSTRAINT {table}_code_key UNIQUE (code)")
            if rng.random() < 0.3:
                columns.append(f"CONSTRAINT {table}_quantity_check CHECK (quantity >= 0)")
            out(f"CREATE TABLE {schema}.{table} (\n  " + ",\n  ".join(columns) + "\n);\n")
            out(f"COMMENT ON TABLE {schema}.{table} IS 'Generated entity {t} of area {s}.';\n")
            out(f"COMMENT ON COLUMN {schema}.{table}.name IS 'Display name.';\n")
            if references:
                ref_schema, ref_table = references[0]
                out(f"CREATE INDEX ON {schema}.{table} ({ref_schema}_{ref_table}_id);\n")
            if rng.random() < 0.2:
                out(f"CREATE INDEX ON {schema}.{table} (created_at) WHERE active;\n")
            tables.append((schema, table))
    out("COMMIT;\n")


if __name__ == "__main__":
    main()

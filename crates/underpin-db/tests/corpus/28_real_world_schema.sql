-- A slice of an S&OP schema: enums, domains, generated columns, partial indexes, views.
CREATE TYPE plan_status AS ENUM ('draft', 'approved', 'archived');
CREATE DOMAIN positive_qty AS numeric CHECK (VALUE >= 0);
CREATE TABLE product (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  label text NOT NULL DEFAULT '',
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(label, ''))) STORED
);
CREATE TABLE demand_forecast (
  product_id bigint REFERENCES product (id) ON DELETE CASCADE,
  week date NOT NULL,
  qty positive_qty NOT NULL,
  status plan_status NOT NULL DEFAULT 'draft',
  CONSTRAINT week_is_monday CHECK (extract(isodow FROM week) = 1)
);
CREATE INDEX demand_forecast_open_idx ON demand_forecast (product_id, week) WHERE status <> 'archived';
CREATE VIEW weekly_demand AS
  SELECT p.sku, f.week, sum(f.qty) AS qty
  FROM demand_forecast f JOIN product p ON p.id = f.product_id
  GROUP BY 1, 2;
COMMENT ON TABLE product IS 'Products; one row per SKU. Don''t delete.';
COMMENT ON COLUMN product.sku IS $$Stock keeping unit; unique$$;

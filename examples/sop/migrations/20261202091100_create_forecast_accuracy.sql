-- migrate:up
CREATE VIEW sop.forecast_vs_actual AS
SELECT f.organization_id,
       f.scenario_id,
       f.product_id,
       f.location_id,
       f.period_start,
       f.quantity::numeric                   AS forecast_quantity,
       a.quantity::numeric                   AS actual_quantity,
       f.quantity::numeric - a.quantity      AS error,
       abs(f.quantity::numeric - a.quantity) AS absolute_error
  FROM sop.demand_forecasts AS f
  JOIN sop.demand_actuals AS a
    ON a.organization_id = f.organization_id
   AND a.product_id = f.product_id
   AND a.location_id = f.location_id
   AND a.period_start = f.period_start;
COMMENT ON VIEW sop.forecast_vs_actual IS 'Each forecast next to the actual demand of the same product, location and month. Only months with loaded actuals appear.';
COMMENT ON COLUMN sop.forecast_vs_actual.organization_id IS 'Tenant.';
COMMENT ON COLUMN sop.forecast_vs_actual.scenario_id IS 'Scenario of the forecast.';
COMMENT ON COLUMN sop.forecast_vs_actual.product_id IS 'Product.';
COMMENT ON COLUMN sop.forecast_vs_actual.location_id IS 'Location.';
COMMENT ON COLUMN sop.forecast_vs_actual.period_start IS 'Planning month (its first day).';
COMMENT ON COLUMN sop.forecast_vs_actual.forecast_quantity IS 'Forecast quantity.';
COMMENT ON COLUMN sop.forecast_vs_actual.actual_quantity IS 'Actual quantity.';
COMMENT ON COLUMN sop.forecast_vs_actual.error IS 'Forecast minus actual. Positive means over-forecast.';
COMMENT ON COLUMN sop.forecast_vs_actual.absolute_error IS 'Absolute value of error.';

-- Aggregated over locations per product and month. Refresh after each
-- actuals load with REFRESH MATERIALIZED VIEW CONCURRENTLY, which needs the
-- unique index below and lets readers keep reading during the refresh.
CREATE MATERIALIZED VIEW sop.forecast_accuracy AS
SELECT v.organization_id,
       v.scenario_id,
       v.product_id,
       p.family_id,
       v.period_start,
       sum(v.forecast_quantity) AS forecast_quantity,
       sum(v.actual_quantity)   AS actual_quantity,
       sum(v.absolute_error)    AS absolute_error,
       sum(v.absolute_error) / nullif(sum(v.actual_quantity), 0) AS wape,
       sum(v.error) / nullif(sum(v.actual_quantity), 0)          AS bias
  FROM sop.forecast_vs_actual AS v
  JOIN sop.products AS p ON p.id = v.product_id
 GROUP BY v.organization_id, v.scenario_id, v.product_id, p.family_id, v.period_start;
CREATE UNIQUE INDEX forecast_accuracy_key ON sop.forecast_accuracy (scenario_id, product_id, period_start);
CREATE INDEX forecast_accuracy_family_idx ON sop.forecast_accuracy (organization_id, family_id, period_start);
COMMENT ON MATERIALIZED VIEW sop.forecast_accuracy IS 'Forecast accuracy per scenario, product and month, summed over locations. Refresh after loading actuals.';
COMMENT ON COLUMN sop.forecast_accuracy.organization_id IS 'Tenant.';
COMMENT ON COLUMN sop.forecast_accuracy.scenario_id IS 'Scenario of the forecasts.';
COMMENT ON COLUMN sop.forecast_accuracy.product_id IS 'Product.';
COMMENT ON COLUMN sop.forecast_accuracy.family_id IS 'Product family at refresh time, for roll-ups by family.';
COMMENT ON COLUMN sop.forecast_accuracy.period_start IS 'Planning month (its first day).';
COMMENT ON COLUMN sop.forecast_accuracy.forecast_quantity IS 'Forecast summed over locations.';
COMMENT ON COLUMN sop.forecast_accuracy.actual_quantity IS 'Actual demand summed over locations.';
COMMENT ON COLUMN sop.forecast_accuracy.absolute_error IS 'Sum of per-location absolute errors.';
COMMENT ON COLUMN sop.forecast_accuracy.wape IS 'Weighted absolute percentage error as a fraction: absolute_error / actual_quantity. NULL when actual demand was zero.';
COMMENT ON COLUMN sop.forecast_accuracy.bias IS 'Signed error as a fraction of actual demand. Positive means over-forecast. NULL when actual demand was zero.';

-- migrate:down
DROP MATERIALIZED VIEW sop.forecast_accuracy;
DROP VIEW sop.forecast_vs_actual;

-- migrate:up
CREATE TABLE sop.demand_actuals (
    organization_id uuid               NOT NULL,
    product_id      uuid               NOT NULL,
    location_id     uuid               NOT NULL,
    period_start    sop.planning_month NOT NULL,
    quantity        sop.quantity       NOT NULL,
    loaded_at       timestamptz        NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, location_id, period_start),
    CONSTRAINT demand_actuals_product_fkey FOREIGN KEY (organization_id, product_id)
        REFERENCES sop.products (organization_id, id),
    CONSTRAINT demand_actuals_location_fkey FOREIGN KEY (organization_id, location_id)
        REFERENCES sop.locations (organization_id, id)
);
COMMENT ON TABLE sop.demand_actuals IS 'Demand that actually occurred (shipments or orders) per product, location and month, loaded from the ERP system. Forecast accuracy compares forecasts with these rows.';
COMMENT ON COLUMN sop.demand_actuals.organization_id IS 'Tenant that owns the product and the location.';
COMMENT ON COLUMN sop.demand_actuals.product_id IS 'Product that was demanded.';
COMMENT ON COLUMN sop.demand_actuals.location_id IS 'Location where the demand occurred.';
COMMENT ON COLUMN sop.demand_actuals.period_start IS 'Planning month (its first day).';
COMMENT ON COLUMN sop.demand_actuals.quantity IS 'Actual quantity in the product''s unit of measure.';
COMMENT ON COLUMN sop.demand_actuals.loaded_at IS 'When the ERP load last wrote the row.';

-- migrate:down
DROP TABLE sop.demand_actuals;

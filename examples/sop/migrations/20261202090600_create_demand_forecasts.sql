-- migrate:up
-- Range-partitioned by month so that old months can be detached and
-- archived without a long DELETE, and so that queries for a horizon read
-- only the partitions it covers.
CREATE TABLE sop.demand_forecasts (
    organization_id uuid               NOT NULL,
    scenario_id     uuid               NOT NULL,
    product_id      uuid               NOT NULL,
    location_id     uuid               NOT NULL,
    period_start    sop.planning_month NOT NULL,
    quantity        sop.quantity       NOT NULL,
    source          text               NOT NULL DEFAULT 'statistical'
        CHECK (source IN ('statistical', 'sales_input', 'planner_override')),
    updated_by      uuid,
    updated_at      timestamptz        NOT NULL DEFAULT now(),
    -- A primary key on a partitioned table must include the partition key.
    PRIMARY KEY (scenario_id, product_id, location_id, period_start),
    CONSTRAINT demand_forecasts_scenario_fkey FOREIGN KEY (organization_id, scenario_id)
        REFERENCES sop.scenarios (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT demand_forecasts_product_fkey FOREIGN KEY (organization_id, product_id)
        REFERENCES sop.products (organization_id, id),
    CONSTRAINT demand_forecasts_location_fkey FOREIGN KEY (organization_id, location_id)
        REFERENCES sop.locations (organization_id, id),
    CONSTRAINT demand_forecasts_updated_by_fkey FOREIGN KEY (organization_id, updated_by)
        REFERENCES sop.users (organization_id, id) ON DELETE SET NULL (updated_by)
) PARTITION BY RANGE (period_start);
-- Created on the parent, so every partition, present and future, gets it.
CREATE INDEX demand_forecasts_product_period_idx ON sop.demand_forecasts (organization_id, product_id, period_start);
CREATE INDEX demand_forecasts_location_id_idx ON sop.demand_forecasts (location_id);
COMMENT ON TABLE sop.demand_forecasts IS 'Forecast demand per scenario, product, location and planning month. Partitioned by month on period_start.';
COMMENT ON COLUMN sop.demand_forecasts.organization_id IS 'Tenant. Part of every foreign key, so a forecast cannot mix rows of two tenants.';
COMMENT ON COLUMN sop.demand_forecasts.scenario_id IS 'Scenario the forecast belongs to. Deleting the scenario deletes its forecasts.';
COMMENT ON COLUMN sop.demand_forecasts.product_id IS 'Forecast product.';
COMMENT ON COLUMN sop.demand_forecasts.location_id IS 'Location where the demand occurs, usually a distribution centre.';
COMMENT ON COLUMN sop.demand_forecasts.period_start IS 'Planning month (its first day). Partition key.';
COMMENT ON COLUMN sop.demand_forecasts.quantity IS 'Forecast quantity in the product''s unit of measure.';
COMMENT ON COLUMN sop.demand_forecasts.source IS 'Where the number came from: the statistical model, sales input, or a planner override.';
COMMENT ON COLUMN sop.demand_forecasts.updated_by IS 'User who last changed the row, or NULL for rows written by the forecasting job.';
COMMENT ON COLUMN sop.demand_forecasts.updated_at IS 'When the row was last written.';

-- One partition per month of the 2027 planning year. Months outside it land
-- in the default partition until their own partition is created.
CREATE TABLE sop.demand_forecasts_2027_01 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-01-01') TO ('2027-02-01');
CREATE TABLE sop.demand_forecasts_2027_02 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-02-01') TO ('2027-03-01');
CREATE TABLE sop.demand_forecasts_2027_03 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-03-01') TO ('2027-04-01');
CREATE TABLE sop.demand_forecasts_2027_04 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-04-01') TO ('2027-05-01');
CREATE TABLE sop.demand_forecasts_2027_05 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-05-01') TO ('2027-06-01');
CREATE TABLE sop.demand_forecasts_2027_06 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-06-01') TO ('2027-07-01');
CREATE TABLE sop.demand_forecasts_2027_07 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-07-01') TO ('2027-08-01');
CREATE TABLE sop.demand_forecasts_2027_08 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-08-01') TO ('2027-09-01');
CREATE TABLE sop.demand_forecasts_2027_09 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-09-01') TO ('2027-10-01');
CREATE TABLE sop.demand_forecasts_2027_10 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-10-01') TO ('2027-11-01');
CREATE TABLE sop.demand_forecasts_2027_11 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-11-01') TO ('2027-12-01');
CREATE TABLE sop.demand_forecasts_2027_12 PARTITION OF sop.demand_forecasts
    FOR VALUES FROM ('2027-12-01') TO ('2028-01-01');
CREATE TABLE sop.demand_forecasts_default PARTITION OF sop.demand_forecasts DEFAULT;

COMMENT ON TABLE sop.demand_forecasts_2027_01 IS 'Demand forecasts for January 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_02 IS 'Demand forecasts for February 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_03 IS 'Demand forecasts for March 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_04 IS 'Demand forecasts for April 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_05 IS 'Demand forecasts for May 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_06 IS 'Demand forecasts for June 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_07 IS 'Demand forecasts for July 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_08 IS 'Demand forecasts for August 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_09 IS 'Demand forecasts for September 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_10 IS 'Demand forecasts for October 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_11 IS 'Demand forecasts for November 2027.';
COMMENT ON TABLE sop.demand_forecasts_2027_12 IS 'Demand forecasts for December 2027.';
COMMENT ON TABLE sop.demand_forecasts_default IS 'Demand forecasts for months that have no partition of their own. Move its rows out before creating a partition for their month.';

-- migrate:down
-- Dropping the partitioned table drops its partitions and indexes with it.
DROP TABLE sop.demand_forecasts;

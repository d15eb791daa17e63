-- migrate:up
CREATE SCHEMA sop;
COMMENT ON SCHEMA sop IS 'Sales and operations planning: tenants, master data, demand and supply plans, consensus, audit and documents.';

-- Planning quantities are never negative, so a sign error in an import
-- fails at the insert instead of skewing totals.
CREATE DOMAIN sop.quantity AS numeric(18, 3)
    CHECK (VALUE >= 0);
COMMENT ON DOMAIN sop.quantity IS 'Non-negative planning quantity in the unit of measure of its product, three decimal places.';

-- extract() on a date is immutable. date_trunc('month', d) would resolve
-- to the timestamptz variant, which is only stable because it depends on
-- the TimeZone setting.
CREATE DOMAIN sop.planning_month AS date
    CHECK (extract(day FROM VALUE) = 1);
COMMENT ON DOMAIN sop.planning_month IS 'First day of a calendar month. Plans and forecasts are bucketed by month.';

CREATE DOMAIN sop.sku AS text
    CHECK (VALUE ~ '^[A-Z0-9][A-Z0-9._-]{0,39}$');
COMMENT ON DOMAIN sop.sku IS 'Stock keeping unit: 1 to 40 upper-case letters, digits, dots, underscores or hyphens, starting with a letter or digit.';

-- migrate:down
DROP DOMAIN sop.sku;
DROP DOMAIN sop.planning_month;
DROP DOMAIN sop.quantity;
DROP SCHEMA sop;

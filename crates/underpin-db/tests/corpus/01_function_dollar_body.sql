-- A plpgsql function with a named dollar tag, then a call.
CREATE OR REPLACE FUNCTION add_audit_col(target regclass) RETURNS void AS $body$
DECLARE
  tname text := quote_ident(target::text);
BEGIN
  EXECUTE 'ALTER TABLE ' || tname || ' ADD COLUMN IF NOT EXISTS audited_at timestamptz';
END;
$body$ LANGUAGE plpgsql;
CREATE TABLE gadget (id int);
SELECT add_audit_col('gadget');

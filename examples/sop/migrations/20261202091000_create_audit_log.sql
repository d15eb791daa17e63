-- migrate:up
CREATE TABLE sop.audit_log (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    -- No foreign key: the log must outlive the rows and tenants it describes.
    organization_id uuid,
    table_name      text        NOT NULL,
    operation       text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    row_key         jsonb       NOT NULL,
    payload         jsonb       NOT NULL,
    actor_user_id   uuid,
    database_role   text        NOT NULL DEFAULT current_user,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX audit_log_organization_occurred_idx ON sop.audit_log (organization_id, occurred_at);
CREATE INDEX audit_log_row_key_idx ON sop.audit_log USING gin (row_key jsonb_path_ops);
COMMENT ON TABLE sop.audit_log IS 'History of changes to plans, approvals and role grants, written by the trigger function sop.write_audit_row.';
COMMENT ON COLUMN sop.audit_log.id IS 'Sequence number, increasing in insertion order.';
COMMENT ON COLUMN sop.audit_log.occurred_at IS 'Start time of the transaction that made the change (now() is fixed per transaction).';
COMMENT ON COLUMN sop.audit_log.organization_id IS 'Tenant of the changed row. Kept after the tenant is deleted.';
COMMENT ON COLUMN sop.audit_log.table_name IS 'Name of the changed table within schema sop.';
COMMENT ON COLUMN sop.audit_log.operation IS 'INSERT, UPDATE or DELETE.';
COMMENT ON COLUMN sop.audit_log.row_key IS 'Primary key of the changed row as a JSON object, for example {"id": "…"}. Searchable with @>.';
COMMENT ON COLUMN sop.audit_log.payload IS 'Row before and after the change as {"old": …, "new": …, "changed": [column names]}. old is null for INSERT and new is null for DELETE.';
COMMENT ON COLUMN sop.audit_log.actor_user_id IS 'Application user from the setting sop.user_id (SET LOCAL sop.user_id = ''…''), or NULL when the change came from a job or a console.';
COMMENT ON COLUMN sop.audit_log.database_role IS 'Database role that ran the statement.';
COMMENT ON COLUMN sop.audit_log.transaction_id IS 'Transaction that made the change. Groups the rows of one logical edit.';

-- Generic row trigger. Its arguments name the primary key columns of the
-- table it is attached to, so one function serves tables with different keys.
CREATE FUNCTION sop.write_audit_row()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    subject_row jsonb;  -- NEW, or OLD for DELETE
    row_pk jsonb := '{}';
    changed text[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_row := to_jsonb(OLD);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_row := to_jsonb(NEW);
    END IF;
    subject_row := coalesce(new_row, old_row);

    FOR i IN 0 .. TG_NARGS - 1 LOOP
        row_pk := row_pk || jsonb_build_object(TG_ARGV[i], subject_row -> TG_ARGV[i]);
    END LOOP;

    -- An UPDATE that changes nothing still fires the trigger. Skip it so the
    -- log only holds real changes.
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(n.key ORDER BY n.key), '{}')
          INTO changed
          FROM jsonb_each(new_row) AS n
         WHERE n.value IS DISTINCT FROM old_row -> n.key;
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;

    INSERT INTO sop.audit_log (organization_id, table_name, operation, row_key, payload, actor_user_id)
    VALUES (
        (subject_row ->> 'organization_id')::uuid,
        TG_TABLE_NAME,
        TG_OP,
        row_pk,
        jsonb_build_object('old', old_row, 'new', new_row, 'changed', to_jsonb(changed)),
        nullif(current_setting('sop.user_id', true), '')::uuid
    );
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION sop.write_audit_row() IS 'AFTER row trigger that appends the change to sop.audit_log. Trigger arguments: the primary key column names of the table.';

CREATE TRIGGER consensus_plans_audit
    AFTER INSERT OR UPDATE OR DELETE ON sop.consensus_plans
    FOR EACH ROW EXECUTE FUNCTION sop.write_audit_row('id');
CREATE TRIGGER plan_approvals_audit
    AFTER INSERT OR UPDATE OR DELETE ON sop.plan_approvals
    FOR EACH ROW EXECUTE FUNCTION sop.write_audit_row('id');
CREATE TRIGGER user_roles_audit
    AFTER INSERT OR UPDATE OR DELETE ON sop.user_roles
    FOR EACH ROW EXECUTE FUNCTION sop.write_audit_row('user_id', 'role');

-- migrate:down
DROP TRIGGER user_roles_audit ON sop.user_roles;
DROP TRIGGER plan_approvals_audit ON sop.plan_approvals;
DROP TRIGGER consensus_plans_audit ON sop.consensus_plans;
DROP FUNCTION sop.write_audit_row();
DROP TABLE sop.audit_log;

CREATE TABLE locked_row (id int, is_locked boolean);
CREATE FUNCTION refuse_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.is_locked THEN RAISE EXCEPTION 'row % is locked', OLD.id; END IF; RETURN OLD;
END;
$$;
CREATE TRIGGER refuse_locked BEFORE DELETE ON locked_row FOR EACH ROW EXECUTE FUNCTION refuse_locked();

CREATE FUNCTION safe_div(a numeric, b numeric) RETURNS numeric LANGUAGE plpgsql AS $fn$
DECLARE
  result numeric;
BEGIN
  BEGIN
    result := a / b;
  EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'division by zero; returning NULL';
    RETURN NULL;
  END;
  CASE WHEN result > 100 THEN result := 100; ELSE NULL; END CASE;
  RETURN result;
END;
$fn$;
SELECT safe_div(1, 0), safe_div(500, 2);
CREATE FUNCTION upsert_loop() RETURNS void AS '
BEGIN
  LOOP
    EXIT;
  END LOOP;
END;
' LANGUAGE plpgsql;

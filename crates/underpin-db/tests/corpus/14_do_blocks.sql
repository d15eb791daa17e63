DO $$
BEGIN
  RAISE NOTICE 'inside a DO block; with a semicolon';
END
$$;
DO LANGUAGE plpgsql $do$
DECLARE
  i int;
BEGIN
  FOR i IN 1..3 LOOP
    PERFORM i;
  END LOOP;
END;
$do$;
DO $_$ BEGIN NULL; END $_$;

CREATE TABLE totals (n int);
CREATE FUNCTION bump_atomic_total() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE totals SET n = n + 1;
END;
$$;
GRANT EXECUTE ON FUNCTION bump_atomic_total() TO PUBLIC;
CREATE TABLE atomic_log (id int); SELECT 1;
CREATE TABLE "begin" (atomic int);
SELECT atomic FROM "begin";

CREATE OR REPLACE FUNCTION atomic_sum(a int, b int) RETURNS int
  LANGUAGE sql
  IMMUTABLE
  PARALLEL SAFE
BEGIN ATOMIC
  SELECT a + b;
END;
CREATE OR REPLACE FUNCTION returns_table(n int) RETURNS TABLE (x int) LANGUAGE sql
BEGIN ATOMIC
  SELECT g FROM generate_series(1, n) AS g;
END;
SELECT atomic_sum(1, 2), (SELECT count(*) FROM returns_table(3));
create function lowercase_body(x int) returns int language sql begin atomic; select x; end;

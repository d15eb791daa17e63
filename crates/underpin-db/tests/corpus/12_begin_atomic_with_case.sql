CREATE FUNCTION sign_label(x int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN x > 0 THEN 'positive; really' WHEN x < 0 THEN 'negative' ELSE 'zero' END;
END;
CREATE FUNCTION sign_twice(x int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
  SELECT sign_label(x);
  SELECT CASE x WHEN 1 THEN 'one' END || (CASE WHEN true THEN 'b' END);
END;
SELECT sign_label(-3), sign_twice(1);

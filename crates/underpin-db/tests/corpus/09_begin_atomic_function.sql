CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT n + 1;
END;
CREATE TABLE after_plus_one (id int);
SELECT plus_one(41);

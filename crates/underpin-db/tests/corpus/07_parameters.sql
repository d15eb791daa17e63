PREPARE pick(int, text) AS SELECT $1 + 1, $2 || ';';
EXECUTE pick(1, 'x');
DEALLOCATE pick;
CREATE FUNCTION add_two(int, int) RETURNS int AS $$ SELECT $1 + $2; $$ LANGUAGE sql;
SELECT add_two(1, 2);

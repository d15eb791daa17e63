CREATE FUNCTION make_helper() RETURNS void LANGUAGE plpgsql AS $outer$
BEGIN
  EXECUTE $inner$
    CREATE OR REPLACE FUNCTION helper() RETURNS text LANGUAGE sql AS $$ SELECT 'x;y'::text $$
  $inner$;
  EXECUTE $q$SELECT $1$q$ USING 1;
END;
$outer$;
SELECT make_helper();
SELECT $a$ $b$ not the end; $b$ $a$ AS text_with_other_tags;
SELECT $tag_1$ $TAG_1$ still inside $tag_1$;
SELECT $$$$, $x$$x$;

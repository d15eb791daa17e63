CREATE TABLE foo$bar (a$b int, c$ int);
INSERT INTO foo$bar VALUES (1, 2);
SELECT a$b, c$ FROM foo$bar;
SELECT 1 AS x$y$;

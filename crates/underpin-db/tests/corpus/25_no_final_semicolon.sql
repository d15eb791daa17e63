CREATE TABLE tail_demo (id int);
SELECT 1;
SELECT count(*) FROM tail_demo -- the last statement has no semicolon

SELECT U&'d\0061t\+000061; ok' AS u1;
SELECT U&'\0041;' UESCAPE '!' AS u2;
CREATE TABLE U&"d\0061t\+000061;tbl" (id int);
SELECT * FROM U&"d\0061t\+000061;tbl";
SELECT u&'x' AS lower_prefix;

-- Semicolons inside line and block comments; none of them ends a statement.
CREATE TABLE widget (id int); -- trailing; comment; with; semicolons
/* a block comment; with; semicolons */
INSERT INTO widget /* inline; comment */ VALUES (1);
SELECT id -- split; here?
  FROM widget;
/*; leading */ SELECT 2;

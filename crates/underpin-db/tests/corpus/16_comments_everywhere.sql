/* file header */
-- another header line

CREATE /* c */ TABLE -- c
  everywhere ( /* c */ id int -- c
  , /* c; */ label text /* c */ ) -- c;
;
INSERT/**/INTO/**/everywhere/**/VALUES(1,'a');--c
SELECT 1+/*x;*/2, 3-- comment right after a number;
, 4;
SELECT 5 -
-6;
-- a final comment; with a semicolon

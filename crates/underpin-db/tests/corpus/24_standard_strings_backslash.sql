SELECT 'C:\temp\';
SELECT 'a\'; SELECT 2;
SELECT 'ends with backslash \\';
SELECT 'two' 'parts' FROM (SELECT 1) AS s WHERE false;

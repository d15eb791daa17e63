SELECT 'C:\temp\';
SELECT 'a\'; SELECT 2;
SELECT 'ends with backslash \\';
SELECT 'two'
  'parts; joined' FROM (SELECT 1) AS s WHERE false;

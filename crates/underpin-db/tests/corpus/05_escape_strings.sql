SELECT E'it\'s; fine';
SELECT e'back\\slash; ' AS a, E'\x41\101\u0041; \n' AS b;
SELECT E'first part; '
  'continued; part';
SELECT E'\\';
SELECT 'plain \ is ordinary';

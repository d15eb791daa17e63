SELECT (ARRAY[1,2,3])[1:2] AS slice, '{1,2}'::int[] AS arr, 1::text || ';' AS t;
SELECT '{"a": ";"}'::jsonb -> 'a', '{"a": 1}'::jsonb ? 'a';
SELECT 2 ^ 3, 7 % 3, |/ 16, 10 >= 2, 'a' ~ 'a;';
SELECT (1, 2) = (1, 2); SELECT 1.5e3, .5, 1e-2;

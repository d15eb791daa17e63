-- Ünïcödé: identifiers, strings and comments; 日本語; emoji 🐘
CREATE TABLE größe (naïve_column text, "日本;語" int, émoji text DEFAULT '🐘;🐘');
INSERT INTO größe VALUES ('ça; marche', 1, '✓');
SELECT naïve_column, "日本;語" FROM größe; /* 注释; */
SELECT $é$ dollar tag of é; $é$, $日本$;$日本$;

-- Collation: MariaDB compares text under the column's collation (utf8mb4_general_ci by default:
-- case-insensitive, trailing spaces ignored); a merge across shards orders, groups and
-- deduplicates the same way, or refuses (non-ASCII text, other collations).
INSERT INTO users (id, user_id, name) VALUES (930001, 3, 'Zed'), (930002, 4, 'adam'), (930003, 5, 'Bob'), (930004, 6, 'bob'), (930005, 7, 'bob ');
SELECT name, id FROM users WHERE id >= 930000 ORDER BY name, id;
SELECT name, id FROM users WHERE id >= 930000 ORDER BY name DESC, id;
SELECT id FROM users WHERE id >= 930000 ORDER BY name, id LIMIT 2;
SELECT DISTINCT name FROM users WHERE id >= 930000 AND name <> 'bob ' AND name <> 'Bob' ORDER BY name;
SELECT lower(name) AS n, count(*) FROM users WHERE id >= 930000 AND name <> 'bob ' GROUP BY lower(name) ORDER BY n;
SELECT count(*) FROM users WHERE id >= 930000 AND name = 'BOB';
SELECT min(name), max(name) FROM users WHERE id >= 930000;
SELECT min(name), max(name) FROM users WHERE id >= 930000 AND name NOT IN ('Bob', 'bob ');
SELECT user_id % 2 AS k, min(name) AS lo, max(name) AS hi FROM users WHERE id >= 930000 AND name NOT IN ('Bob', 'bob ') GROUP BY k ORDER BY k;
SELECT max(name) AS hi, count(*) AS n FROM users WHERE id >= 930000 HAVING count(*) > 1;
SELECT count(DISTINCT name) FROM users WHERE id >= 930000;
SELECT group_concat(name ORDER BY name, id) FROM users WHERE id >= 930000;
SELECT group_concat(id ORDER BY name DESC, id) FROM users WHERE id >= 930000;
SELECT id, name FROM users WHERE id >= 930000 ORDER BY BINARY name, id;
INSERT INTO users (id, user_id, name) VALUES (930006, 8, 'Émile');
SELECT min(name) FROM users WHERE id >= 930000;
SELECT name, id FROM users WHERE id >= 930000 ORDER BY name, id;
DELETE FROM users WHERE user_id = 3 AND id >= 930000;
DELETE FROM users WHERE user_id = 4 AND id >= 930000;
DELETE FROM users WHERE user_id = 5 AND id >= 930000;
DELETE FROM users WHERE user_id = 6 AND id >= 930000;
DELETE FROM users WHERE user_id = 7 AND id >= 930000;
DELETE FROM users WHERE user_id = 8 AND id >= 930000;
SELECT count(*) FROM users WHERE id >= 930000;
-- A UNION of two tables' text columns, ordered and deduplicated under their shared general_ci.
SELECT name FROM users WHERE id >= 930000 AND name NOT IN ('Bob', 'bob ') UNION SELECT status FROM payments ORDER BY 1;

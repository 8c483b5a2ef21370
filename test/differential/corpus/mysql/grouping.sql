-- GROUP BY, HAVING, grouped aggregates merged across shards.
SELECT vip, group_concat(name ORDER BY name SEPARATOR ';') FROM users GROUP BY vip ORDER BY vip;
SELECT status, count(*) FROM payments GROUP BY status ORDER BY status LIMIT 1, 1;
SELECT status, count(*) FROM payments GROUP BY status WITH ROLLUP;
SELECT status, count(*) FROM payments GROUP BY status ORDER BY status DESC;

-- GROUP BY, HAVING, grouped aggregates merged across shards.
SELECT post_id, count(*) FROM likes GROUP BY post_id HAVING count(*) >= 3 ORDER BY post_id;
SELECT vip, string_agg(name, ';' ORDER BY name) FROM users GROUP BY vip ORDER BY vip;
SELECT status, count(*) FROM payments GROUP BY ROLLUP (status) ORDER BY status;

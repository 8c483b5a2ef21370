-- Aggregates over a whole sharded table (scatter, merged by shardgate), MySQL spelling.
SELECT COUNT(*), count(vip) FROM users;
SELECT AVG(amount) FROM payments;
SELECT avg(amount) mean_amount FROM payments;
SELECT sum(status = 'settled') AS settled, count(*) AS all_rows FROM payments;
SELECT ifnull(sum(amount), 0) FROM payments WHERE status = 'nothing';
SELECT group_concat(name ORDER BY name) FROM users WHERE user_id < 8;
SELECT group_concat(id ORDER BY id SEPARATOR ';') FROM posts WHERE user_id IN (1, 2, 3, 4);
SELECT group_concat(DISTINCT status ORDER BY status) FROM payments;
SELECT bit_or(id), bit_and(id), bit_xor(id) FROM users;
SELECT std(amount), stddev(amount), variance(amount) FROM payments;
SELECT json_arrayagg(id) FROM users WHERE user_id = 3;
SELECT sum(amount), avg(amount) FROM payments WHERE user_id IN (3, 4, 5, 6);
-- VARIANCE() and STD(), which the grammar does not read, analyzed as VAR_POP() and STDDEV_POP().
SELECT user_id, variance(amount), std(amount) FROM payments GROUP BY user_id ORDER BY user_id LIMIT 6;
SELECT variance(balance) AS v, std(balance) AS s, count(*) FROM balances WHERE user_id <> 3;

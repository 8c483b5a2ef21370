-- Joins: co-located on the shard key (per shard is exact), with a reference table, and not
-- co-located (the planner side of #10 must run them across shards or refuse them).
-- known: planner #10: join of sharded tables on a column that is not the shard key runs per shard
SELECT count(*) FROM users u JOIN posts p ON p.id = u.id;
-- known: planner #10: join of sharded tables on a column that is not the shard key runs per shard
SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id;
-- known: planner #10: subquery over another sharded table not correlated on the shard key runs per shard
SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts);
-- known: planner #10: join of sharded tables on a column that is not the shard key runs per shard
SELECT l.id, p.title FROM likes l JOIN posts p ON p.id = l.post_id ORDER BY 1, 2 LIMIT 10;

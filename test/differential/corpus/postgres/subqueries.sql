-- Subqueries: on the shard key (co-located) and in FROM.
-- known: planner #10: subquery over another sharded table not correlated on the shard key runs per shard
SELECT id, user_id FROM likes WHERE post_id IN (SELECT id FROM posts) ORDER BY id;

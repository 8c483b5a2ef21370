-- UNION [ALL], INTERSECT, EXCEPT.
SELECT user_id FROM payments UNION SELECT user_id FROM likes ORDER BY 1;
SELECT user_id FROM payments UNION ALL SELECT user_id FROM likes ORDER BY 1;
SELECT status FROM payments UNION SELECT event FROM analytics_events;
SELECT id FROM posts WHERE user_id < 4 UNION ALL SELECT id FROM comments WHERE user_id < 4 ORDER BY 1 LIMIT 10;
SELECT name FROM users WHERE vip UNION SELECT name FROM users WHERE user_id < 3 ORDER BY 1;
SELECT topic FROM trending_topics UNION SELECT status FROM payments ORDER BY 1;
SELECT user_id FROM users EXCEPT SELECT user_id FROM payments WHERE amount > 200 ORDER BY 1;
SELECT id FROM users WHERE user_id = 2 UNION SELECT id FROM posts WHERE user_id = 2 ORDER BY 1;
-- Evaluated by the proxy over every shard's tagged branch rows (set and multiset rules).
SELECT user_id FROM payments INTERSECT ALL SELECT user_id FROM likes ORDER BY 1;
SELECT user_id FROM likes EXCEPT ALL SELECT user_id FROM payments ORDER BY 1;
SELECT status FROM payments EXCEPT SELECT 'pending' ORDER BY 1;
SELECT user_id FROM payments UNION SELECT user_id FROM likes UNION ALL SELECT user_id FROM users WHERE vip ORDER BY 1;
SELECT user_id FROM payments EXCEPT SELECT user_id FROM likes INTERSECT SELECT user_id FROM users ORDER BY 1;
(SELECT user_id FROM payments EXCEPT SELECT user_id FROM likes) INTERSECT SELECT user_id FROM users ORDER BY 1 LIMIT 3 OFFSET 1;
SELECT topic FROM trending_topics UNION ALL SELECT status FROM payments WHERE user_id < 5 ORDER BY 1;
SELECT id, topic FROM trending_topics UNION ALL SELECT id, event FROM analytics_events WHERE user_id = 3;
SELECT NULL::int AS x FROM users WHERE user_id < 3 INTERSECT SELECT NULL::int FROM likes;

-- UNION [ALL], INTERSECT, EXCEPT (MariaDB 10.3+).
SELECT user_id FROM likes WHERE user_id < 5 UNION SELECT user_id FROM posts WHERE user_id < 7 ORDER BY 1;
SELECT user_id FROM likes WHERE user_id < 5 UNION ALL SELECT user_id FROM posts WHERE user_id < 7 ORDER BY 1;
SELECT id FROM users WHERE user_id = 3 UNION ALL SELECT id FROM posts WHERE user_id = 3 ORDER BY 1;
SELECT user_id FROM likes INTERSECT SELECT user_id FROM posts ORDER BY 1;
SELECT user_id FROM users EXCEPT SELECT user_id FROM likes ORDER BY 1;
SELECT topic FROM trending_topics UNION SELECT name FROM users WHERE user_id < 3 ORDER BY 1;
-- Evaluated by the proxy over every shard's tagged branch rows (INTERSECT binds tighter; text
-- compared under the columns' collations).
SELECT id FROM posts EXCEPT SELECT post_id FROM likes ORDER BY 1 LIMIT 10;
SELECT status FROM payments INTERSECT SELECT status FROM payments WHERE amount > 100 ORDER BY 1;
SELECT id FROM users UNION SELECT id FROM posts INTERSECT SELECT post_id FROM comments ORDER BY 1 DESC LIMIT 5;
SELECT user_id FROM balances UNION ALL SELECT id FROM trending_topics UNION SELECT user_id FROM likes ORDER BY 1;
SELECT id FROM trending_topics UNION ALL SELECT user_id FROM balances WHERE balance > 800 ORDER BY 1;
-- INTERSECT ALL / EXCEPT ALL (MariaDB 10.5+; node-sql-parser reads them without ALL, which the
-- analyzer puts back): duplicates kept as often as both sides (or the left side beyond the right) hold them.
SELECT user_id FROM likes INTERSECT ALL SELECT user_id FROM posts ORDER BY 1;
SELECT user_id FROM likes EXCEPT ALL SELECT user_id FROM posts WHERE user_id < 10 ORDER BY 1;
SELECT user_id FROM comments UNION ALL SELECT user_id FROM likes EXCEPT ALL SELECT user_id FROM posts INTERSECT ALL SELECT user_id FROM likes ORDER BY 1 LIMIT 30;
-- Text columns of different tables: compared under the collation every branch's column shares.
SELECT body FROM comments UNION SELECT currency FROM payments UNION SELECT title FROM posts WHERE user_id < 4 ORDER BY 1 LIMIT 20;
SELECT event FROM analytics_events EXCEPT SELECT status FROM payments ORDER BY 1 DESC;

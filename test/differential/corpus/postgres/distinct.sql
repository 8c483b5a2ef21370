-- DISTINCT and DISTINCT ON.
SELECT DISTINCT status, currency FROM payments ORDER BY 1, 2;
SELECT DISTINCT post_id FROM likes ORDER BY post_id LIMIT 10;
SELECT DISTINCT post_id FROM likes ORDER BY post_id DESC LIMIT 5 OFFSET 3;
SELECT DISTINCT ON (user_id) user_id, id, amount FROM payments ORDER BY user_id, id;
SELECT DISTINCT ON (user_id) user_id, id, amount FROM payments ORDER BY user_id, amount DESC, id;
SELECT DISTINCT ON (user_id) user_id, id FROM posts ORDER BY user_id, id DESC LIMIT 10;
SELECT DISTINCT ON (status) status, id, amount FROM payments ORDER BY status, amount DESC, id;
SELECT count(*) FROM (SELECT DISTINCT post_id FROM likes) d;

-- don't split here
CREATE TABLE note (body text); -- it's fine
/* won't break either; isn't that nice */
INSERT INTO note VALUES ('it''s quoted; really');
SELECT body FROM note WHERE body <> 'don''t'; -- 'unbalanced

CREATE TABLE rule_src (id int);
CREATE TABLE rule_a (id int);
CREATE TABLE rule_b (id int);
CREATE RULE fan_out AS ON INSERT TO rule_src DO ALSO (
  INSERT INTO rule_a VALUES (NEW.id);
  INSERT INTO rule_b VALUES (NEW.id)
);
INSERT INTO rule_src VALUES (1);
SELECT (SELECT count(*) FROM rule_a), (SELECT count(*) FROM rule_b);

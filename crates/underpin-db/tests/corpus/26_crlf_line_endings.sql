CREATE TABLE crlf_demo (id int);
INSERT INTO crlf_demo
  VALUES (1); -- comment; here
SELECT * FROM crlf_demo;

CREATE TABLE proc_log (msg text);
CREATE PROCEDURE log_twice(msg text) LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO proc_log VALUES (msg);
  INSERT INTO proc_log VALUES (msg || ';');
END;
CALL log_twice('hello');
CREATE OR REPLACE PROCEDURE log_twice(msg text)
LANGUAGE sql
begin atomic
  insert into proc_log values (msg);
end;

CREATE TABLE "odd;name" ("semi;colon" int, "quote""inside" text, "it's" int);
INSERT INTO "odd;name" VALUES (1, 'a', 2);
SELECT "semi;colon", "quote""inside", "it's" FROM "odd;name";
CREATE TABLE "--not a comment" ("/* nor this */" int);
SELECT "/* nor this */" FROM "--not a comment";

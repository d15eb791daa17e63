SELECT B'1010' AS bits, X'1F' AS hex, N'national; text' AS nat;
SELECT b'01' || B'10', x'ff';
SELECT B'0101'
  '1111' AS continued_bits;

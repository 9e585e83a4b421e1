-- Nothing to change on SQLite: one writer at a time, so the zero change a
-- held comment makes to its article's count row costs no waiting. The
-- folder exists so both backends keep the same migration names
-- (PostgreSQL's version stops held comments locking the count row).
SELECT 1;

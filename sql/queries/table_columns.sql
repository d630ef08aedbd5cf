-- The columns of a table of this database and their ClickHouse types, for writers that serialize rows by type
-- (io/warehouse/row-binary.ts: RowBinary has no names or type tags, so the layout must follow the types).
SELECT
    name,
    type
FROM system.columns
WHERE database = currentDatabase() AND table = {table:String}

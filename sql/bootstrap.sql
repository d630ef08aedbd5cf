-- Not a migration: the migration runner's own bookkeeping, created (idempotently) by io/warehouse/migrate.ts
-- before every run, ahead of the numbered migrations.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS gridstream_migrations
(
    version UInt32 COMMENT 'Number of the migration file sql/NNN_name.sql.',
    name String COMMENT 'File name of the migration.',
    checksum String COMMENT 'SHA-256 (hex) of the migration as run on this database: the file with its version gates resolved and its "-- @" lines left out, before {{retention_days}} is filled in. An applied migration whose file now gives another checksum is refused.',
-- @if datetime64
    applied_at DateTime64(3, 'UTC') COMMENT 'When the migration was applied, UTC.',
-- @else
--  applied_at String COMMENT 'When the migration was applied, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; applied_at_ms is the same instant as a number).',
--  applied_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(applied_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(applied_at, 21, 3)) + throwIf(length(applied_at) != 23) COMMENT 'applied_at as epoch milliseconds (computed on insert).',
-- @end
    clickhouse_version String COMMENT 'version() of the ClickHouse server that applied the migration (empty for migrations applied before gridstream recorded it). gridstream adapts its SQL to the oldest version recorded here, so a database created on an older server keeps working after the server is upgraded.'
)
ENGINE = ReplacingMergeTree
ORDER BY version
-- @if table_comment
COMMENT 'Schema migrations applied to this database by gridstream, one row per migration (read with FINAL).'
-- @end
;

-- Databases created before clickhouse_version was recorded (only ever by current ClickHouse) gain the column.
-- @if add_column_if_not_exists
ALTER TABLE gridstream_migrations ADD COLUMN IF NOT EXISTS clickhouse_version String COMMENT 'version() of the ClickHouse server that applied the migration (empty for migrations applied before gridstream recorded it). gridstream adapts its SQL to the oldest version recorded here, so a database created on an older server keeps working after the server is upgraded.'
-- @end
;

CREATE TABLE IF NOT EXISTS gridstream_retention
(
    retention_days UInt32 COMMENT 'Retention of the time-series tables (their TTL), days.',
-- @if datetime64
    applied_at DateTime64(3, 'UTC') COMMENT 'When this retention was applied, UTC.'
-- @else
--  applied_at String COMMENT 'When this retention was applied, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; applied_at_ms is the same instant as a number).',
--  applied_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(applied_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(applied_at, 21, 3)) + throwIf(length(applied_at) != 23) COMMENT 'applied_at as epoch milliseconds (computed on insert).'
-- @end
)
ENGINE = MergeTree
-- @if datetime64
ORDER BY applied_at
-- @else
-- ORDER BY applied_at_ms
-- @end
-- @if table_comment
COMMENT 'History of the retention setting; the latest row is the retention the TTLs use now.'
-- @end
;

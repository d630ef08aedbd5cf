-- Meter readings: every MeterReading gridstream accepted (topic gridstream.readings).
-- {{retention_days}} is replaced by the configured retention when the migration is applied.
-- @note Written for current ClickHouse. A clause that an older server lacks is gated: the lines after
-- @note "-- @if <feature>" are for servers with the feature, the commented-out lines after "-- @else" replace
-- @note them on servers without it, such as Debian's 18.16 (io/warehouse/dialect.ts resolves the gates;
-- @note io/warehouse/README.md, "Older ClickHouse servers", explains each one). Lines starting "-- @" are not
-- @note part of the SQL that runs, nor of the migration's checksum.
-- @note Without DateTime64, a time column holds its UTC text 'YYYY-MM-DD hh:mm:ss.sss', exactly as
-- @note DateTime64(3) prints it, and a column <name>_ms beside it holds the same instant in epoch
-- @note milliseconds, computed by the server on insert (it refuses text of any other form); keys, versions and
-- @note partitions use the _ms column there.
CREATE TABLE IF NOT EXISTS readings
(
    meter_id String COMMENT 'Meter that sent the reading (topology_meters.meter_id).',
    dt_id String COMMENT 'Distribution transformer (DT) the meter was connected to when the reading was ingested (topology_transformers.dt_id).',
-- @if datetime64
    ts DateTime64(3, 'UTC') COMMENT 'Event time of the reading as the meter stamped it, UTC, millisecond precision.',
-- @else
--  ts String COMMENT 'Event time of the reading as the meter stamped it, UTC, millisecond precision, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; ts_ms is the same instant as a number).',
--  ts_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(ts, 1, 19), 'UTC')) * 1000 + toUInt64(substring(ts, 21, 3)) + throwIf(length(ts) != 23) COMMENT 'ts as epoch milliseconds (computed on insert).',
-- @end
    p_kw Float64 COMMENT 'Signed active power averaged over the reading interval, kW: import (grid to customer) positive, export negative.',
    q_kvar Nullable(Float64) COMMENT 'Reactive power, kvar; NULL when the meter does not report it.',
-- @if nested_comments
    legs Nested(leg UInt8, v Float64, i Float64) COMMENT 'Per leg (phase), parallel arrays: legs.leg = leg number 1 to 3, legs.v = RMS voltage in V, legs.i = RMS current in A. Use ARRAY JOIN legs for one row per leg.',
-- @else
--  `legs.leg` Array(UInt8) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: the leg number, 1 to 3. Use ARRAY JOIN legs for one row per leg.',
--  `legs.v` Array(Float64) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: RMS voltage in V.',
--  `legs.i` Array(Float64) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: RMS current in A.',
-- @end
    e_imp_kwh Nullable(Float64) COMMENT 'Cumulative imported-energy register, kWh; NULL when not reported.',
    e_exp_kwh Nullable(Float64) COMMENT 'Cumulative exported-energy register, kWh; NULL when not reported.',
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the reading, UTC. Among copies of the same (dt_id, meter_id, ts) the latest received is kept.'
-- @else
--  received_at String COMMENT 'When gridstream received the reading, UTC, as text YYYY-MM-DD hh:mm:ss.sss. Among copies of the same (dt_id, meter_id, ts) the latest received is kept.',
--  received_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(received_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(received_at, 21, 3)) + throwIf(length(received_at) != 23) COMMENT 'received_at as epoch milliseconds (computed on insert); the ReplacingMergeTree version.'
-- @end
)
-- @if datetime64
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (dt_id, meter_id, ts)
-- @else
-- ENGINE = ReplacingMergeTree(received_at_ms)
-- PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000), 'UTC'))
-- ORDER BY (dt_id, meter_id, ts_ms)
-- @end
-- @if ttl
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Accepted meter readings, one row per meter and event time. A replayed or re-sent reading replaces the earlier copy: query with FINAL (or argMax by received_at) to count each reading once. Rows older than the retention (TTL on ts) are removed.';
-- @else
-- ;
-- @end

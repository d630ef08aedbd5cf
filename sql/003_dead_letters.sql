-- Input that could not be accepted (topic gridstream.deadletters), with its exact bytes.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md. Without EPHEMERAL columns (Debian's
-- @note 18.16, which also lacks base64Decode) the base64 input raw_base64 is stored, and raw is decoded from it
-- @note by a plain SQL expression: each group of four base64 characters gives 24 bits, written as six hex
-- @note digits; the digits of all groups, less the padding, are unhex'ed.
CREATE TABLE IF NOT EXISTS dead_letters
(
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the input, UTC.',
-- @else
--  received_at String COMMENT 'When gridstream received the input, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; received_at_ms is the same instant as a number).',
--  received_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(received_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(received_at, 21, 3)) + throwIf(length(received_at) != 23) COMMENT 'received_at as epoch milliseconds (computed on insert).',
-- @end
    source_topic String COMMENT 'MQTT or log topic the input arrived on.',
-- @if low_cardinality
    reason_code LowCardinality(String) COMMENT 'Stable reason code: invalid_json, schema, invalid_value, bad_topic, unknown_meter, too_late, too_large.',
-- @else
--  reason_code String COMMENT 'Stable reason code: invalid_json, schema, invalid_value, bad_topic, unknown_meter, too_late, too_large.',
-- @end
    reason String COMMENT 'Human-readable reason, naming the offending field.',
    key Nullable(String) COMMENT 'Meter, station or asset id taken from the topic, when known.',
-- @if ephemeral
    raw_base64 String EPHEMERAL COMMENT 'Insert-only input (not stored): the payload base64-encoded, decoded into raw. Needed because JSON cannot carry arbitrary bytes.',
    raw String DEFAULT base64Decode(raw_base64) COMMENT 'The payload exactly as received, byte for byte (may be invalid UTF-8: select base64Encode(raw) or hex(raw) to see such bytes safely).'
-- @else
--  raw_base64 String COMMENT 'The payload base64-encoded, as inserted (stored: this server has no EPHEMERAL columns). Needed because JSON cannot carry arbitrary bytes.',
--  raw String DEFAULT unhex(substring(arrayStringConcat(arrayMap(g -> substring(hex(toUInt32(16777216 + arraySum(arrayMap(j -> bitShiftLeft(toUInt32(greatest(toInt64(position('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', substring(raw_base64, g * 4 + j + 1, 1))) - 1, 0)), 18 - 6 * j), range(4))))), 3, 6), range(intDiv(length(raw_base64), 4)))), 1, 2 * (intDiv(length(raw_base64), 4) * 3 - (length(raw_base64) - length(replaceAll(raw_base64, '=', '')))))) COMMENT 'The payload exactly as received, byte for byte, decoded from raw_base64 (may be invalid UTF-8: select hex(raw) to see such bytes safely).'
-- @end
)
ENGINE = ReplacingMergeTree
-- @if datetime64
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, source_topic, cityHash64(raw))
-- @else
-- PARTITION BY toYYYYMM(toDateTime(intDiv(received_at_ms, 1000), 'UTC'))
-- ORDER BY (received_at_ms, source_topic, cityHash64(raw))
-- @end
-- @if ttl
TTL toDateTime(received_at) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Rejected input with its raw bytes, topic and reason; every row here is also counted by the dead-letter metric. A replay of the dead-letter topic replaces identical rows (same time, topic and bytes) under FINAL.';
-- @else
-- ;
-- @end

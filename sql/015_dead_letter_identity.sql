-- Dead letters keyed by their identity (dead_letter_id: a hash of where the input came from, why it was
-- rejected and its bytes; io/warehouse/rows.ts deadLetterId) instead of the time they were written: a replay of
-- the dead-letter topic, a log record the sink fails to decode again after a restart, or an MQTT message the
-- broker redelivers after a crash replaces its row instead of adding one. The table is rebuilt under the new
-- key (ClickHouse cannot change a sorting key in place) and its rows copied over, each given its identity by
-- the column's DEFAULT; the partition and offset of the sink's undecodable records, until now only in their
-- source_topic ('topic[partition]@offset'), are read out of it, so a replay after this migration meets the
-- rows copied here.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and sql/003_dead_letters.sql (how 18.16 stores raw_base64).
-- @note Every statement can run again: a run that stopped after the RENAME drops the old table (already
-- @note copied) and copies the new one onto itself. Only a RENAME interrupted between its two tables (no
-- @note dead_letters left, dead_letters_keyed holding every row) needs a hand: RENAME TABLE
-- @note dead_letters_keyed TO dead_letters, then migrate again.
DROP TABLE IF EXISTS dead_letters_unkeyed;

CREATE TABLE IF NOT EXISTS dead_letters_keyed
(
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the input, UTC (from the dead-letter record, not the time of the insert).',
-- @else
--  received_at String COMMENT 'When gridstream received the input, UTC, as text YYYY-MM-DD hh:mm:ss.sss (from the dead-letter record, not the time of the insert; this server has no DateTime64; received_at_ms is the same instant as a number).',
--  received_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(received_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(received_at, 21, 3)) + throwIf(length(received_at) != 23) COMMENT 'received_at as epoch milliseconds (computed on insert).',
-- @end
    source_topic String COMMENT 'MQTT or log topic the input arrived on (for a log record the sink could not decode: topic[partition]@offset).',
    source_partition Nullable(Int32) COMMENT 'Log partition of the input, when it came from the log; NULL for input rejected before it reached the log (MQTT).',
    source_offset Nullable(Int64) COMMENT 'Log offset of the input in source_partition, when it came from the log; else NULL.',
-- @if low_cardinality
    reason_code LowCardinality(String) COMMENT 'Stable reason code: invalid_json, schema, invalid_value, bad_topic, unknown_meter, too_late, too_large, undecodable_record.',
-- @else
--  reason_code String COMMENT 'Stable reason code: invalid_json, schema, invalid_value, bad_topic, unknown_meter, too_late, too_large, undecodable_record.',
-- @end
    reason String COMMENT 'Human-readable reason, naming the offending field.',
    key Nullable(String) COMMENT 'Meter, station or asset id taken from the topic, when known.',
-- @if ephemeral
    raw_base64 String EPHEMERAL COMMENT 'Insert-only input (not stored): the payload base64-encoded, decoded into raw. Needed because JSON cannot carry arbitrary bytes.',
    raw String DEFAULT base64Decode(raw_base64) COMMENT 'The payload exactly as received, byte for byte (may be invalid UTF-8: select base64Encode(raw) or hex(raw) to see such bytes safely).',
-- @else
--  raw_base64 String COMMENT 'The payload base64-encoded, as inserted (stored: this server has no EPHEMERAL columns). Needed because JSON cannot carry arbitrary bytes.',
--  raw String DEFAULT unhex(substring(arrayStringConcat(arrayMap(g -> substring(hex(toUInt32(16777216 + arraySum(arrayMap(j -> bitShiftLeft(toUInt32(greatest(toInt64(position('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', substring(raw_base64, g * 4 + j + 1, 1))) - 1, 0)), 18 - 6 * j), range(4))))), 3, 6), range(intDiv(length(raw_base64), 4)))), 1, 2 * (intDiv(length(raw_base64), 4) * 3 - (length(raw_base64) - length(replaceAll(raw_base64, '=', '')))))) COMMENT 'The payload exactly as received, byte for byte, decoded from raw_base64 (may be invalid UTF-8: select hex(raw) to see such bytes safely).',
-- @end
    dead_letter_id String DEFAULT lower(hex(substring(SHA256(concat(toString(length(source_topic)), ':', source_topic, '|', ifNull(toString(source_partition), '-'), '|', ifNull(toString(source_offset), '-'), '|', toString(length(reason_code)), ':', toString(reason_code), '|', ifNull(concat(toString(length(key)), ':', key), '-'), '|', toString(length(raw)), ':', raw)), 1, 16))) COMMENT 'The dead letter''s identity (the sorting key): the first 128 bits, hex, of the SHA-256 of its source topic, partition, offset, reason code, key and raw bytes, each length-prefixed; not its time. gridstream sends it (io/warehouse/rows.ts deadLetterId); this DEFAULT computes the same for rows inserted without it.'
)
ENGINE = ReplacingMergeTree
-- @if datetime64
PARTITION BY toYYYYMM(received_at)
-- @else
-- PARTITION BY toYYYYMM(toDateTime(intDiv(received_at_ms, 1000), 'UTC'))
-- @end
ORDER BY dead_letter_id
-- @if ttl
TTL toDateTime(received_at) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Rejected input with its raw bytes, source and reason, one row per dead letter (dead_letter_id: read with FINAL); every row here is also counted by the dead-letter metric. A replay, or a redelivery of the same input, replaces its row; the same bytes rejected again on the same topic for the same reason (not from the log) are that row again too.';
-- @else
-- ;
-- @end

-- The rows so far, each given its identity by the DEFAULT (the sink's undecodable records with their partition
-- and offset read from source_topic). Run again, it copies them again: the copies have the same id and merge.
-- @if ephemeral
INSERT INTO dead_letters_keyed (received_at, source_topic, source_partition, source_offset, reason_code, reason, key, raw)
-- @else
-- INSERT INTO dead_letters_keyed (received_at, source_topic, source_partition, source_offset, reason_code, reason, key, raw_base64, raw)
-- @end
SELECT
    received_at,
    source_topic,
    toInt32OrNull(extract(source_topic, '\\[(\\d+)\\]@\\d+$')) AS source_partition,
    toInt64OrNull(extract(source_topic, '\\[\\d+\\]@(\\d+)$')) AS source_offset,
    reason_code,
    reason,
    key,
-- @if ephemeral
    raw
-- @else
--  raw_base64,
--  raw
-- @end
FROM dead_letters;

RENAME TABLE dead_letters TO dead_letters_unkeyed, dead_letters_keyed TO dead_letters;

DROP TABLE IF EXISTS dead_letters_unkeyed;

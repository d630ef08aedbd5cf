-- Input that could not be accepted (topic gridstream.deadletters), with its exact bytes.
CREATE TABLE IF NOT EXISTS dead_letters
(
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the input, UTC.',
    source_topic String COMMENT 'MQTT or log topic the input arrived on.',
    reason_code LowCardinality(String) COMMENT 'Stable reason code: invalid_json, schema, invalid_value, bad_topic, unknown_meter, too_late, too_large.',
    reason String COMMENT 'Human-readable reason, naming the offending field.',
    key Nullable(String) COMMENT 'Meter, station or asset id taken from the topic, when known.',
    raw_base64 String EPHEMERAL COMMENT 'Insert-only input (not stored): the payload base64-encoded, decoded into raw. Needed because JSON cannot carry arbitrary bytes.',
    raw String DEFAULT base64Decode(raw_base64) COMMENT 'The payload exactly as received, byte for byte (may be invalid UTF-8: select base64Encode(raw) or hex(raw) to see such bytes safely).'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, source_topic, cityHash64(raw))
TTL toDateTime(received_at) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Rejected input with its raw bytes, topic and reason; every row here is also counted by the dead-letter metric. A replay of the dead-letter topic replaces identical rows (same time, topic and bytes) under FINAL.';

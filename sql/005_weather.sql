-- Ambient temperature observations (topic gridstream.weather).
CREATE TABLE IF NOT EXISTS weather
(
    station_id LowCardinality(String) COMMENT 'Weather station (topology_transformers.weather_station_id).',
    ts DateTime64(3, 'UTC') COMMENT 'Time of the observation, UTC.',
    ambient_c Float64 COMMENT 'Ambient air temperature, degrees Celsius.',
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the observation, UTC; among copies of the same (station_id, ts) the latest received is kept.'
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (station_id, ts)
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Ambient temperature per weather station and time (input to the transformer thermal model). Query with FINAL to count each observation once.';

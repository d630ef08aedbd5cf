-- Meter readings: every MeterReading gridstream accepted (topic gridstream.readings).
-- {{retention_days}} is replaced by the configured retention when the migration is applied.
CREATE TABLE IF NOT EXISTS readings
(
    meter_id String COMMENT 'Meter that sent the reading (topology_meters.meter_id).',
    dt_id String COMMENT 'Distribution transformer (DT) the meter was connected to when the reading was ingested (topology_transformers.dt_id).',
    ts DateTime64(3, 'UTC') COMMENT 'Event time of the reading as the meter stamped it, UTC, millisecond precision.',
    p_kw Float64 COMMENT 'Signed active power averaged over the reading interval, kW: import (grid to customer) positive, export negative.',
    q_kvar Nullable(Float64) COMMENT 'Reactive power, kvar; NULL when the meter does not report it.',
    legs Nested(leg UInt8, v Float64, i Float64) COMMENT 'Per leg (phase), parallel arrays: legs.leg = leg number 1 to 3, legs.v = RMS voltage in V, legs.i = RMS current in A. Use ARRAY JOIN legs for one row per leg.',
    e_imp_kwh Nullable(Float64) COMMENT 'Cumulative imported-energy register, kWh; NULL when not reported.',
    e_exp_kwh Nullable(Float64) COMMENT 'Cumulative exported-energy register, kWh; NULL when not reported.',
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the reading, UTC. Among copies of the same (dt_id, meter_id, ts) the latest received is kept.'
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (dt_id, meter_id, ts)
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Accepted meter readings, one row per meter and event time. A replayed or re-sent reading replaces the earlier copy: query with FINAL (or argMax by received_at) to count each reading once. Rows older than the retention (TTL on ts) are removed.';

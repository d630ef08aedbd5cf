-- 15-minute DT load envelopes (topic gridstream.envelopes), one row per DT and slot after replacement.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md. Without the Bool type (Debian's 18.16)
-- @note is_final is Enum8('false' = 0, 'true' = 1), which gridstream's server client reads back as JSON true / false.
CREATE TABLE IF NOT EXISTS envelopes
(
    dt_id String COMMENT 'Distribution transformer (DT) the envelope describes (topology_transformers.dt_id).',
-- @if datetime64
    slot_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute slot [slot_start, slot_end), a UTC quarter hour.',
    slot_end DateTime64(3, 'UTC') ALIAS slot_start + INTERVAL 15 MINUTE COMMENT 'End of the slot, exclusive: slot_start + 15 minutes (computed, not stored).',
-- @else
--  slot_start String COMMENT 'Start of the 15-minute slot [slot_start, slot_end), a UTC quarter hour, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; slot_start_ms is the same instant as a number).',
--  slot_start_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(slot_start, 1, 19), 'UTC')) * 1000 + toUInt64(substring(slot_start, 21, 3)) + throwIf(length(slot_start) != 23) COMMENT 'slot_start as epoch milliseconds (computed on insert).',
--  slot_end String ALIAS concat(toString(toDateTime(intDiv(slot_start_ms + 900000, 1000), 'UTC')), '.', substring(toString(1000 + (slot_start_ms + 900000) % 1000), 2)) COMMENT 'End of the slot, exclusive: slot_start + 15 minutes, as text (computed, not stored).',
-- @end
    version UInt64 COMMENT 'Version of the slot: grows with every change and is identical on replay; the row with the highest version is the current one (ReplacingMergeTree version).',
-- @if bool
    is_final Bool COMMENT 'True once the watermark passed slot end plus the allowed lateness; later data can still revise the slot with a higher version.',
-- @else
--  is_final Enum8('false' = 0, 'true' = 1) COMMENT 'True once the watermark passed slot end plus the allowed lateness; later data can still revise the slot with a higher version. (This server has no Bool type.)',
-- @end
    net_mean_kw Float64 COMMENT 'Mean net active power through the DT over the slot, kW (import positive).',
    min_kw Float64 COMMENT 'Lowest one-minute DT net power in the slot, kW.',
    max_kw Float64 COMMENT 'Highest one-minute DT net power in the slot, kW.',
    p95_kw Float64 COMMENT '95th percentile of the one-minute DT net power in the slot, kW.',
    import_kwh Float64 COMMENT 'Energy delivered by the DT into the LV network in the slot, kWh.',
    export_kwh Float64 COMMENT 'Energy fed back through the DT (reverse power flow) in the slot, kWh.',
    q_mean_kvar Nullable(Float64) COMMENT 'Mean net reactive power, kvar; NULL when no meter reported it.',
-- @if nested_comments
    legs Nested(leg UInt8, v_min Float64, v_mean Float64, v_max Float64) COMMENT 'Per leg (phase), parallel arrays of the voltage across all meters of the DT in the slot: legs.leg = leg number, legs.v_min / legs.v_mean / legs.v_max in V. Use ARRAY JOIN legs for one row per leg.',
-- @else
--  `legs.leg` Array(UInt8) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs (the voltage across all meters of the DT in the slot): the leg number. Use ARRAY JOIN legs for one row per leg.',
--  `legs.v_min` Array(Float64) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: lowest voltage in the slot, V.',
--  `legs.v_mean` Array(Float64) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: mean voltage in the slot, V.',
--  `legs.v_max` Array(Float64) COMMENT 'Per leg (phase), parallel arrays of the Nested structure legs: highest voltage in the slot, V.',
-- @end
    meters_reporting UInt32 COMMENT 'Meters with at least one reading in the slot.',
    meters_connected UInt32 COMMENT 'Meters connected to the DT in the topology.',
    readings UInt32 COMMENT 'Distinct readings aggregated into the slot.',
    ami_coverage_pct Float64 COMMENT 'Share of meter-slots with AMI data over the 30 days ending with this slot, percent.',
    data_quality Enum8('ami-direct' = 1, 'ami-imputed' = 2, 'modelled-only' = 3) COMMENT 'Data-quality tier: ami-direct = AMI covers at least 90% of the last 30 days; ami-imputed = partial AMI, gaps imputed; modelled-only = no AMI, thermal model and nameplate only.'
)
ENGINE = ReplacingMergeTree(version)
-- @if datetime64
PARTITION BY toYYYYMM(slot_start)
ORDER BY (dt_id, slot_start)
-- @else
-- PARTITION BY toYYYYMM(toDateTime(intDiv(slot_start_ms, 1000), 'UTC'))
-- ORDER BY (dt_id, slot_start_ms)
-- @end
-- @if ttl
TTL toDateTime(slot_start) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Per DT and 15-minute UTC slot, the load envelope (load profile). Every revision of a slot is inserted; query with FINAL (or argMax by version) to see only the newest revision of each slot.';
-- @else
-- ;
-- @end

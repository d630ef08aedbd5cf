-- 15-minute DT load envelopes (topic gridstream.envelopes), one row per DT and slot after replacement.
CREATE TABLE IF NOT EXISTS envelopes
(
    dt_id String COMMENT 'Distribution transformer (DT) the envelope describes (topology_transformers.dt_id).',
    slot_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute slot [slot_start, slot_end), a UTC quarter hour.',
    slot_end DateTime64(3, 'UTC') ALIAS slot_start + INTERVAL 15 MINUTE COMMENT 'End of the slot, exclusive: slot_start + 15 minutes (computed, not stored).',
    version UInt64 COMMENT 'Version of the slot: grows with every change and is identical on replay; the row with the highest version is the current one (ReplacingMergeTree version).',
    is_final Bool COMMENT 'True once the watermark passed slot end plus the allowed lateness; later data can still revise the slot with a higher version.',
    net_mean_kw Float64 COMMENT 'Mean net active power through the DT over the slot, kW (import positive).',
    min_kw Float64 COMMENT 'Lowest one-minute DT net power in the slot, kW.',
    max_kw Float64 COMMENT 'Highest one-minute DT net power in the slot, kW.',
    p95_kw Float64 COMMENT '95th percentile of the one-minute DT net power in the slot, kW.',
    import_kwh Float64 COMMENT 'Energy delivered by the DT into the LV network in the slot, kWh.',
    export_kwh Float64 COMMENT 'Energy fed back through the DT (reverse power flow) in the slot, kWh.',
    q_mean_kvar Nullable(Float64) COMMENT 'Mean net reactive power, kvar; NULL when no meter reported it.',
    legs Nested(leg UInt8, v_min Float64, v_mean Float64, v_max Float64) COMMENT 'Per leg (phase), parallel arrays of the voltage across all meters of the DT in the slot: legs.leg = leg number, legs.v_min / legs.v_mean / legs.v_max in V. Use ARRAY JOIN legs for one row per leg.',
    meters_reporting UInt32 COMMENT 'Meters with at least one reading in the slot.',
    meters_connected UInt32 COMMENT 'Meters connected to the DT in the topology.',
    readings UInt32 COMMENT 'Distinct readings aggregated into the slot.',
    ami_coverage_pct Float64 COMMENT 'Share of meter-slots with AMI data over the 30 days ending with this slot, percent.',
    data_quality Enum8('ami-direct' = 1, 'ami-imputed' = 2, 'modelled-only' = 3) COMMENT 'Data-quality tier: ami-direct = AMI covers at least 90% of the last 30 days; ami-imputed = partial AMI, gaps imputed; modelled-only = no AMI, thermal model and nameplate only.'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(slot_start)
ORDER BY (dt_id, slot_start)
TTL toDateTime(slot_start) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Per DT and 15-minute UTC slot, the load envelope (load profile). Every revision of a slot is inserted; query with FINAL (or argMax by version) to see only the newest revision of each slot.';

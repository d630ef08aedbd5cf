-- Transformer stress (topic gridstream.stress) and dynamic operating envelopes (topic
-- gridstream.operating-envelopes), per DT and 15-minute slot, from processors/stress.ts.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS dt_stress
(
    dt_id String COMMENT 'Distribution transformer (topology_transformers.dt_id).',
-- @if datetime64
    slot_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute slot, a UTC quarter hour.',
-- @else
--  slot_start String COMMENT 'Start of the 15-minute slot, a UTC quarter hour. As text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; slot_start_ms is the same instant as a number).',
--  slot_start_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(slot_start, 1, 19), 'UTC')) * 1000 + toUInt64(substring(slot_start, 21, 3)) + throwIf(length(slot_start) != 23) COMMENT 'slot_start as epoch milliseconds (computed on insert).',
-- @end
    version UInt64 COMMENT 'Version of the envelope the row was computed from (ReplacingMergeTree version): a replay writes the same row.',
    rated_kva Float64 COMMENT 'The DT''s rating, kVA (topology).',
    net_kw Float64 COMMENT 'Net active power through the DT, kW (import positive), scaled up for meters not reporting (unless the envelope imputed them).',
    apparent_kva Float64 COMMENT 'RMS apparent power over the slot, kVA: sqrt(P^2 + within-slot variance + Q^2).',
    load_factor Float64 COMMENT 'K = apparent_kva / rated_kva.',
    ambient_c Float64 COMMENT 'Ambient temperature used, degrees C.',
    ambient_source Enum8('observed' = 1, 'carried' = 2, 'default' = 3) COMMENT 'observed: mean of the DT''s weather station''s observations in the slot; carried: its latest observation, at most 6 h old; default: none usable, the configured default (25 C).',
    top_oil_c Float64 COMMENT 'Top-oil temperature at the slot''s end, degrees C (IEC 60076-7).',
    hot_spot_c Float64 COMMENT 'Winding hot-spot temperature at the slot''s end, degrees C.',
    hot_spot_rise1_k Float64 COMMENT 'First part of the hot-spot-to-top-oil rise at the slot''s end (IEC 60076-7 delta-theta-h1), K; with hot_spot_rise2_k the rest of the thermal state a restarted processor resumes from.',
    hot_spot_rise2_k Float64 COMMENT 'Second part (delta-theta-h2), K: hot_spot_c = top_oil_c + hot_spot_rise1_k - hot_spot_rise2_k.',
    peak_hot_spot_c Float64 COMMENT 'Highest hot spot within the slot, degrees C.',
    ageing_rate Float64 COMMENT 'Mean relative ageing rate over the slot (1 at a 98 C hot spot, normal kraft paper).',
    loss_of_life_min Float64 COMMENT 'Cumulative loss of life since the DT was first seen, minutes at the reference ageing rate (carried across slots and restarts).',
-- @if bool
    thermal_exceeded Bool COMMENT 'The slots peak hot spot, end top oil or load factor was over its limit (normal cyclic loading: K 1.5, hot spot 120 C, top oil 105 C).',
-- @else
--  thermal_exceeded Enum8('false' = 0, 'true' = 1) COMMENT 'The slots peak hot spot, end top oil or load factor was over its limit (normal cyclic loading: K 1.5, hot spot 120 C, top oil 105 C). (This server has no Bool type.)',
-- @end
    v_min Nullable(Float64) COMMENT 'Lowest customer voltage in the slot, V; NULL without voltages.',
    v_max Nullable(Float64) COMMENT 'Highest customer voltage in the slot, V; NULL without voltages.',
-- @if bool
    voltage_exceeded Bool COMMENT 'A customer voltage left the statutory band in the slot (default -6% / +10% of nominal).',
-- @else
--  voltage_exceeded Enum8('false' = 0, 'true' = 1) COMMENT 'A customer voltage left the statutory band in the slot (default -6% / +10% of nominal). (This server has no Bool type.)',
-- @end
    thermal_stress_prob Nullable(Float64) COMMENT 'Probability of thermal stress in this slot, as forecast forecast_lead_slots before it; NULL without a forecast. Compare with thermal_exceeded for a reliability table.',
    voltage_stress_prob Nullable(Float64) COMMENT 'Probability of a customer voltage outside the band in this slot, as forecast; NULL without one.',
    forecast_lead_slots UInt16 COMMENT 'Slots before this one the probabilities were forecast (1 normally; 0 without a forecast).',
    history_slots Float64 COMMENT 'Comparable slots (same quarter hour and day type) the DT had seen before this one.',
-- @if bool
    state_initialised Bool COMMENT 'The thermal state started at this slot (first sight of the DT, or a gap of more than a day).',
-- @else
--  state_initialised Enum8('false' = 0, 'true' = 1) COMMENT 'The thermal state started at this slot (first sight of the DT, or a gap of more than a day). (This server has no Bool type.)',
-- @end
    ami_coverage_pct Float64 COMMENT 'The envelope''s AMI coverage over 30 days, percent.',
    data_quality Enum8('ami-direct' = 1, 'ami-imputed' = 2, 'modelled-only' = 3) COMMENT 'Data-quality tier of the envelope: ami-direct = AMI covers at least 90% of the last 30 days; ami-imputed = partial AMI, gaps imputed; modelled-only = no AMI, nameplate and a load shape.'
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
COMMENT 'Per DT and 15-minute UTC slot, the transformers thermal state (IEC 60076-7: top oil, hot spot, ageing, cumulative loss of life), whether the slot broke a limit, and the thermal and voltage stress probabilities forecast for it (processors/stress.ts). Query with FINAL (or argMax by version).';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS dt_operating_envelopes
(
    dt_id String COMMENT 'Distribution transformer (topology_transformers.dt_id).',
-- @if datetime64
    slot_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute slot the headroom is for, a UTC quarter hour.',
-- @else
--  slot_start String COMMENT 'Start of the 15-minute slot the headroom is for, a UTC quarter hour. As text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; slot_start_ms is the same instant as a number).',
--  slot_start_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(slot_start, 1, 19), 'UTC')) * 1000 + toUInt64(substring(slot_start, 21, 3)) + throwIf(length(slot_start) != 23) COMMENT 'slot_start as epoch milliseconds (computed on insert).',
-- @end
-- @if datetime64
    issued_at DateTime64(3, 'UTC') COMMENT 'End of the DTs last observed slot when this row was issued.',
-- @else
--  issued_at String COMMENT 'End of the DTs last observed slot when this row was issued. As text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; issued_at_ms is the same instant as a number).',
--  issued_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(issued_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(issued_at, 21, 3)) + throwIf(length(issued_at) != 23) COMMENT 'issued_at as epoch milliseconds (computed on insert).',
-- @end
    version UInt64 COMMENT 'issued_at as epoch ms (ReplacingMergeTree version): the newest issue of a slot replaces older ones; for a past slot what remains is the issue just before it (the envelope in force).',
    lead_slots UInt16 COMMENT 'Slots ahead of the last observed one when issued (1 = the next).',
    confidence Float64 COMMENT 'Confidence the headroom holds at, e.g. 0.95.',
    rated_kva Float64 COMMENT 'The DT''s rating, kVA.',
    base_kw Float64 COMMENT 'Forecast mean net power, kW (import positive).',
    base_kw_high Float64 COMMENT 'The base''s c-quantile, kW (import headroom is on top of it).',
    base_kw_low Float64 COMMENT 'The base''s (1 - c)-quantile, kW (export headroom is on top of it).',
    ambient_c Float64 COMMENT 'Forecast mean ambient, degrees C.',
    hot_spot_c Float64 COMMENT 'Peak hot spot forecast at the high base and ambient without extra load, degrees C.',
    top_oil_c Float64 COMMENT 'End top oil forecast at the high base and ambient without extra load, degrees C.',
    thermal_stress_prob Float64 COMMENT 'Probability of thermal stress in the slot.',
    voltage_stress_prob Nullable(Float64) COMMENT 'Probability of a customer voltage outside the band in the slot; NULL without voltages.',
    import_kw Float64 COMMENT 'Extra import, kW, usable in every slot of the issue at once within the limits at the confidence (the operating envelope proper).',
    export_kw Float64 COMMENT 'Extra export, kW, likewise.',
    import_slot_kw Float64 COMMENT 'Extra import, kW, in this slot alone (the transformer''s thermal mass: can exceed import_kw and the nameplate).',
    export_slot_kw Float64 COMMENT 'Extra export, kW, in this slot alone.',
    import_limited_by Enum8('load_factor' = 1, 'hot_spot' = 2, 'top_oil' = 3, 'voltage' = 4) COMMENT 'The limit that binds import_kw.',
    export_limited_by Enum8('load_factor' = 1, 'hot_spot' = 2, 'top_oil' = 3, 'voltage' = 4) COMMENT 'The limit that binds export_kw.',
    v_min_low Nullable(Float64) COMMENT 'The lowest customer voltage''s (1 - c)-quantile, V; NULL without voltages.',
    v_max_high Nullable(Float64) COMMENT 'The highest customer voltage''s c-quantile, V; NULL without voltages.',
    voltage_sensitivity_v_per_kw Float64 COMMENT 'Voltage change per kW of net load used for the voltage headroom, V/kW.',
    history_slots Float64 COMMENT 'Comparable slots behind the load forecast.',
    data_quality Enum8('ami-direct' = 1, 'ami-imputed' = 2, 'modelled-only' = 3) COMMENT 'Data-quality tier of the envelope: ami-direct = AMI covers at least 90% of the last 30 days; ami-imputed = partial AMI, gaps imputed; modelled-only = no AMI, nameplate and a load shape.'
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
COMMENT 'Per DT and 15-minute UTC slot, the dynamic operating envelope: extra import and export kW within the thermal and voltage limits at the stated confidence, issued after every observed slot for the next 24 hours (processors/stress.ts). Query with FINAL for the newest issue of each slot.';
-- @else
-- ;
-- @end

-- Service-drop impedance per meter leg and UTC day (topic gridstream.impedance), and high-impedance flags
-- (topic gridstream.impedance.flags). Column names follow gridstream; the API maps them to seed 003's.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS impedance_daily
(
    meter_id String COMMENT 'Meter (topology_meters.meter_id).',
    leg UInt8 COMMENT 'Meter leg (phase) number, 1 to 3 (seed 003: MeterLeg).',
    day Date COMMENT 'UTC day of the steps (seed 003: EventDate).',
-- @if low_cardinality
    dt_id LowCardinality(String) COMMENT 'Distribution transformer the meter is connected to (seed 003: TransformerId).',
-- @else
--  dt_id String COMMENT 'Distribution transformer the meter is connected to (seed 003: TransformerId).',
-- @end
    median_mohm Float64 COMMENT 'Median service-drop impedance of the day, milliohm (seed 003: MedianImpedance): the median of the day''s step estimates, each weighted by its inverse variance.',
    stderr_mohm Float64 COMMENT 'Standard error of the median, milliohm.',
    event_count UInt32 COMMENT 'Current steps the median rests on (seed 003: EventCount).',
    effective_events Float64 COMMENT 'Effective number of steps, (sum of weights)^2 / sum of squared weights.',
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'Newest receive time among the readings behind the estimates, UTC (seed 003: ReceivedTime).',
-- @else
--  received_at String COMMENT 'Newest receive time among the readings behind the estimates, UTC, as text YYYY-MM-DD hh:mm:ss.sss (seed 003: ReceivedTime).',
-- @end
    version UInt64 COMMENT 'Version of the leg-day: the row with the highest version is the current one (ReplacingMergeTree version).',
-- @if bool
    is_final Bool COMMENT 'True once every step of the day has been evaluated.',
-- @else
--  is_final Enum8('false' = 0, 'true' = 1) COMMENT 'True once every step of the day has been evaluated. (This server has no Bool type.)',
-- @end
    service_point_id Nullable(String) COMMENT 'Seed 003: ServicePointId, from the topology when the row was computed.',
    meter_number Nullable(String) COMMENT 'Seed 003: MeterNumber.',
    electronic_serial_number Nullable(String) COMMENT 'Seed 003: ElectronicSerialNumber.',
    premise_id Nullable(String) COMMENT 'Seed 003: PremiseId.'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (meter_id, leg, day)
-- @if ttl
TTL day + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Per meter leg and UTC day, the median service-drop impedance (seed 003). A leg-day appears only once its median rests on enough evidence; every revision is inserted, so query with FINAL (or argMax by version).';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS impedance_flags
(
    meter_id String COMMENT 'Meter (topology_meters.meter_id).',
    leg UInt8 COMMENT 'Meter leg (phase) number, 1 to 3.',
    day Date COMMENT 'UTC day the flag is about.',
    kind Enum8('absolute' = 1, 'own_rise' = 2, 'peer_rise' = 3) COMMENT 'absolute: the day''s median is above the absolute threshold; own_rise: it has risen against the leg''s own recent days; peer_rise: it is far above the DT''s other legs that day.',
-- @if low_cardinality
    dt_id LowCardinality(String) COMMENT 'Distribution transformer the meter is connected to.',
-- @else
--  dt_id String COMMENT 'Distribution transformer the meter is connected to.',
-- @end
    median_mohm Float64 COMMENT 'The day''s median impedance, milliohm.',
    reference_mohm Float64 COMMENT 'What the median was compared with: the absolute threshold, the leg''s own baseline, or the peers'' median, milliohm.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (meter_id, leg, day, kind)
-- @if ttl
TTL day + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'High-impedance flags per meter leg and UTC day: a leg whose median (at its lower confidence bound) crossed the absolute threshold, rose against its own history, or stands far above its DT peers.';
-- @else
-- ;
-- @end

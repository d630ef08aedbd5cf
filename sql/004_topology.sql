-- Topology reference data (CIS/GIS export), versioned per load.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS topology_meters
(
    meter_id String COMMENT 'Meter id, as used in MQTT topics and readings.meter_id.',
    meter_number String COMMENT 'Meter number printed on the meter (CIS).',
    electronic_serial_number String COMMENT 'Electronic serial number of the meter.',
    service_point_id String COMMENT 'Service point the meter measures.',
    premise_id String COMMENT 'Premise (customer site) of the service point.',
    legs UInt8 COMMENT 'Number of legs (phases) the meter measures, 1 to 3.',
    dt_id String COMMENT 'Distribution transformer the meter is connected to (topology_transformers.dt_id).',
    topology_version UInt64 COMMENT 'Topology load this row came from (topology_versions.version); the highest version of a meter is current.'
)
ENGINE = ReplacingMergeTree(topology_version)
ORDER BY meter_id
-- @if table_comment
COMMENT 'Meters of the topology, one row per meter after replacement (query with FINAL). A meter absent from the latest load keeps its last row: compare topology_version with max(version) in topology_versions to find meters no longer in the topology.';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS topology_transformers
(
    dt_id String COMMENT 'Distribution transformer (DT) id.',
    feeder_id String COMMENT 'Feeder the DT is on.',
    rated_kva Float64 COMMENT 'Nameplate rating, kVA.',
    cooling_class Enum8('ONAN' = 1, 'ONAF' = 2) COMMENT 'Cooling class (IEC 60076-7): ONAN = oil natural air natural; ONAF = oil natural air forced.',
    latitude Float64 COMMENT 'Latitude of the DT, decimal degrees (WGS 84).',
    longitude Float64 COMMENT 'Longitude of the DT, decimal degrees (WGS 84).',
    weather_station_id Nullable(String) COMMENT 'Weather station whose ambient temperature applies to the DT (weather.station_id); NULL = none.',
    nominal_voltage_v Float64 COMMENT 'Nominal LV phase-to-neutral voltage, V.',
    top_oil_rise_k Nullable(Float64) COMMENT 'Rated top-oil temperature rise, K; NULL = default of the cooling class.',
    hot_spot_gradient_k Nullable(Float64) COMMENT 'Rated hot-spot-to-top-oil gradient, K; NULL = default of the cooling class.',
    loss_ratio Nullable(Float64) COMMENT 'Ratio of load losses at rated current to no-load losses (R); NULL = default of the cooling class.',
    tau_oil_min Nullable(Float64) COMMENT 'Oil time constant, minutes; NULL = default of the cooling class.',
    tau_winding_min Nullable(Float64) COMMENT 'Winding time constant, minutes; NULL = default of the cooling class.',
    topology_version UInt64 COMMENT 'Topology load this row came from (topology_versions.version); the highest version of a DT is current.'
)
ENGINE = ReplacingMergeTree(topology_version)
ORDER BY dt_id
-- @if table_comment
COMMENT 'Distribution transformers of the topology, one row per DT after replacement (query with FINAL). Thermal constants left NULL take the defaults of the cooling class.';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS topology_versions
(
    version UInt64 COMMENT 'Topology version (topology_meters.topology_version, topology_transformers.topology_version).',
-- @if datetime64
    loaded_at DateTime64(3, 'UTC') COMMENT 'When the topology was loaded, UTC.',
-- @else
--  loaded_at String COMMENT 'When the topology was loaded, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; loaded_at_ms is the same instant as a number).',
--  loaded_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(loaded_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(loaded_at, 21, 3)) + throwIf(length(loaded_at) != 23) COMMENT 'loaded_at as epoch milliseconds (computed on insert); the ReplacingMergeTree version.',
-- @end
    source String COMMENT 'Where the topology came from, e.g. the file name or api.',
    meters UInt32 COMMENT 'Meters in the load.',
    transformers UInt32 COMMENT 'Distribution transformers in the load.'
)
-- @if datetime64
ENGINE = ReplacingMergeTree(loaded_at)
-- @else
-- ENGINE = ReplacingMergeTree(loaded_at_ms)
-- @end
ORDER BY version
-- @if table_comment
COMMENT 'One row per topology load; max(version) is the current topology.';
-- @else
-- ;
-- @end

-- Dispatchable assets of the topology (topic gridstream.topology.assets): which DT each battery, PV inverter,
-- EV charger or heat pump sits behind. Dispatch commands name assets; this links them to a DT and so to its
-- tenant (GET /v1/dispatches is confined to the key's tenant's assets) and its operating envelope.
CREATE TABLE IF NOT EXISTS topology_assets
(
    asset_id String COMMENT 'Asset id, as dispatch commands name it (dispatches.asset_id).',
    dt_id String COMMENT 'Distribution transformer the asset is connected behind (topology_transformers.dt_id).',
    meter_id Nullable(String) COMMENT 'Meter at the asset''s connection (topology_meters.meter_id); NULL when not known.',
    asset_type String COMMENT 'Kind of asset as the platform names it (seed 004: BESS, VBAT, PV, ...; also EV, HEAT_PUMP).',
    nominal_kw Nullable(Float64) COMMENT 'Nominal (rated) power of the asset, kW; NULL when not known.',
    topology_version UInt64 COMMENT 'Topology load this row came from (topology_versions.version); the highest version of an asset is current.'
)
ENGINE = ReplacingMergeTree(topology_version)
ORDER BY asset_id
-- @if table_comment
COMMENT 'Assets of the topology, one row per asset after replacement (query with FINAL).';
-- @else
-- ;
-- @end

-- Period limits: per asset, 15-minute period and source, the import and export power limits and the energy band
-- a platform or operator sets through PATCH /v1/assets/period-limits (api/routes/period-limits.ts). A change is
-- a new row with a higher version (read the newest row of an (asset_id, start_ms, source) with LIMIT 1 BY, not
-- argMax: argMax skips NULL, and NULL is a cleared limit); a row whose limits were all cleared is removed = 1.
-- The NETWORK source is computed when read (the asset's share of its DT's operating envelope) and not stored.
-- Times are epoch-ms UInt64 columns, the same on every server version.
CREATE TABLE IF NOT EXISTS period_limits
(
    asset_id String COMMENT 'Asset id (topology_assets.asset_id).',
    source String COMMENT 'Who set the limits: REPORTED, OPERATIONS, CUSTOMER, PV or AVAILABILITY.',
    start_ms UInt64 COMMENT 'Start of the 15-minute delivery period, epoch ms (UTC quarter hour).',
    end_ms UInt64 COMMENT 'End of the period, epoch ms.',
    power_charge_kw Nullable(Float64) COMMENT 'Import (charging) limit, kW, <= 0 (power toward the grid is positive); NULL: no limit from this source.',
    power_discharge_kw Nullable(Float64) COMMENT 'Export (discharging) limit, kW, >= 0; NULL: no limit from this source.',
    energy_low_kwh Nullable(Float64) COMMENT 'Lowest stored energy allowed in the period, kWh; NULL: none.',
    energy_high_kwh Nullable(Float64) COMMENT 'Highest stored energy allowed in the period, kWh; NULL: none.',
    trading_locked Nullable(UInt8) COMMENT '1: the asset may not be traded in the period; 0: explicitly unlocked; NULL: not set.',
    created_ms UInt64 COMMENT 'When the row was first set, epoch ms (kept by later changes).',
    updated_ms UInt64 COMMENT 'When the row was last changed, epoch ms.',
    version UInt64 COMMENT 'Order of changes (epoch microseconds, strictly increasing per API process): the highest is current.',
    removed UInt8 COMMENT '1 once every limit of the row is cleared and it holds no lock: the row is gone.'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (asset_id, start_ms, source)
-- @if table_comment
COMMENT 'Period limits per asset, 15-minute period and source, one row per change (the newest row is current).';
-- @else
-- ;
-- @end

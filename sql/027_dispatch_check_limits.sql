-- Dispatch checks judge a command against its asset's computed period limits (processors/flexibility/
-- dispatch-check.ts): the stored sources and NETWORK, the asset's share of its DT's envelope headroom. The check
-- records the limit of the dispatch's direction, the source that binds it and the asset's share, and a period
-- some source locks gets its own verdict, locked (rejected). headroom_kw and limited_by keep the DT's whole
-- headroom and its physical limit. Checks written before this migration read NULL in the new columns; adding
-- an Enum value rewrites no data.
-- @note Debian's 18.16 has no ADD COLUMN IF NOT EXISTS: there the plain ADD COLUMN runs once, as migrations
-- @note are recorded, and the comment is set by COMMENT COLUMN (see sql/008_envelope_imputation.sql).
-- @if add_column_if_not_exists
ALTER TABLE dispatch_checks ADD COLUMN IF NOT EXISTS limit_kw Nullable(Float64) COMMENT 'The asset''s computed period limit in the dispatch''s direction, kW: power_discharge (>= 0) when requested_kw > 0, else power_charge (<= 0); NULL when no source limits that direction, when the period is locked, or in a check made before migration 027.';
-- @else
-- ALTER TABLE dispatch_checks ADD COLUMN limit_kw Nullable(Float64) COMMENT 'The asset''s computed period limit in the dispatch''s direction, kW: power_discharge (>= 0) when requested_kw > 0, else power_charge (<= 0); NULL when no source limits that direction, when the period is locked, or in a check made before migration 027.';
-- ALTER TABLE dispatch_checks COMMENT COLUMN limit_kw 'The asset''s computed period limit in the dispatch''s direction, kW: power_discharge (>= 0) when requested_kw > 0, else power_charge (<= 0); NULL when no source limits that direction, when the period is locked, or in a check made before migration 027.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dispatch_checks ADD COLUMN IF NOT EXISTS limit_source Nullable(String) COMMENT 'The source binding limit_kw: REPORTED, OPERATIONS, CUSTOMER, PV, AVAILABILITY or NETWORK (the asset''s share of the DT''s headroom); for a locked period the source that locks it; NULL when none.';
-- @else
-- ALTER TABLE dispatch_checks ADD COLUMN limit_source Nullable(String) COMMENT 'The source binding limit_kw: REPORTED, OPERATIONS, CUSTOMER, PV, AVAILABILITY or NETWORK (the asset''s share of the DT''s headroom); for a locked period the source that locks it; NULL when none.';
-- ALTER TABLE dispatch_checks COMMENT COLUMN limit_source 'The source binding limit_kw: REPORTED, OPERATIONS, CUSTOMER, PV, AVAILABILITY or NETWORK (the asset''s share of the DT''s headroom); for a locked period the source that locks it; NULL when none.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dispatch_checks ADD COLUMN IF NOT EXISTS network_share Nullable(Float64) COMMENT 'The asset''s share of its DT''s headroom (0 to 1): the NETWORK limit is this share of headroom_kw, 0 when that is negative; NULL when the asset is not placed.';
-- @else
-- ALTER TABLE dispatch_checks ADD COLUMN network_share Nullable(Float64) COMMENT 'The asset''s share of its DT''s headroom (0 to 1): the NETWORK limit is this share of headroom_kw, 0 when that is negative; NULL when the asset is not placed.';
-- ALTER TABLE dispatch_checks COMMENT COLUMN network_share 'The asset''s share of its DT''s headroom (0 to 1): the NETWORK limit is this share of headroom_kw, 0 when that is negative; NULL when the asset is not placed.';
-- @end
ALTER TABLE dispatch_checks MODIFY COLUMN verdict Enum8('within' = 1, 'exceeds' = 2, 'no_envelope' = 3, 'unknown_asset' = 4, 'locked' = 5);
ALTER TABLE dispatch_checks COMMENT COLUMN verdict 'locked: a source locks trading in the period (limit_source names it; rejected); exceeds: requested_kw is beyond limit_kw, the computed limit of its direction (rejected); else within, or no_envelope (no issue covered the slot at the dispatch time: NETWORK unknown) or unknown_asset (the asset is not in the topology), neither rejected.';

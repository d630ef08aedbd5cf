-- What a dispatch command asks: dispatch (deliver its target in its delivery period) or cancel (the platform
-- cancels the flexibility event event_id; its target is then 0 kW). Rows written before hold dispatch.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/008_envelope_imputation.sql for why 18.16 takes a plain ADD COLUMN and COMMENT COLUMN.
-- @if add_column_if_not_exists
ALTER TABLE dispatches ADD COLUMN IF NOT EXISTS action Enum8('dispatch' = 1, 'cancel' = 2) DEFAULT 'dispatch' COMMENT 'dispatch, or cancel: the platform cancels flexibility event event_id (target_power is then 0 kW).';
-- @else
-- ALTER TABLE dispatches ADD COLUMN action Enum8('dispatch' = 1, 'cancel' = 2) DEFAULT 'dispatch';
-- ALTER TABLE dispatches COMMENT COLUMN action 'dispatch, or cancel: the platform cancels flexibility event event_id (target_power is then 0 kW).';
-- @end

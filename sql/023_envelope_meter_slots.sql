-- Each reporting meter's own slot in a final envelope (DtEnvelope.meters): the stress processor learns each
-- customer's voltage sensitivity from them (processors/stress/customer-voltage.ts), and learns them again
-- from here when it resumes a partition. Rows written before this migration have none.
-- @note Debian's 18.16 has no ADD COLUMN IF NOT EXISTS: there the plain ADD COLUMN runs once, as migrations
-- @note are recorded, and the comment is set by COMMENT COLUMN (see sql/008_envelope_imputation.sql).
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS `meters.meter_id` Array(String) DEFAULT [] COMMENT 'Per reporting meter with voltages (final envelopes only), parallel arrays of the Nested structure meters: the meter id. Use ARRAY JOIN meters for one row per meter.';
-- @else
-- ALTER TABLE envelopes ADD COLUMN `meters.meter_id` Array(String) DEFAULT [] COMMENT 'Per reporting meter with voltages (final envelopes only), parallel arrays of the Nested structure meters: the meter id. Use ARRAY JOIN meters for one row per meter.';
-- ALTER TABLE envelopes COMMENT COLUMN `meters.meter_id` 'Per reporting meter with voltages (final envelopes only), parallel arrays of the Nested structure meters: the meter id. Use ARRAY JOIN meters for one row per meter.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS `meters.p_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: mean of the meter''s active power readings in the slot, kW (import positive).';
-- @else
-- ALTER TABLE envelopes ADD COLUMN `meters.p_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: mean of the meter''s active power readings in the slot, kW (import positive).';
-- ALTER TABLE envelopes COMMENT COLUMN `meters.p_kw` 'Parallel arrays of the Nested structure meters: mean of the meter''s active power readings in the slot, kW (import positive).';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS `meters.v_low` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: lowest of the meter''s per-leg mean voltages in the slot, V.';
-- @else
-- ALTER TABLE envelopes ADD COLUMN `meters.v_low` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: lowest of the meter''s per-leg mean voltages in the slot, V.';
-- ALTER TABLE envelopes COMMENT COLUMN `meters.v_low` 'Parallel arrays of the Nested structure meters: lowest of the meter''s per-leg mean voltages in the slot, V.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS `meters.v_high` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: highest of the meter''s per-leg mean voltages in the slot, V.';
-- @else
-- ALTER TABLE envelopes ADD COLUMN `meters.v_high` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure meters: highest of the meter''s per-leg mean voltages in the slot, V.';
-- ALTER TABLE envelopes COMMENT COLUMN `meters.v_high` 'Parallel arrays of the Nested structure meters: highest of the meter''s per-leg mean voltages in the slot, V.';
-- @end

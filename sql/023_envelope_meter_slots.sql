-- Location-aware voltage headroom (processors/stress/customer-voltage.ts). In envelopes, each reporting
-- meter's own slot of a final envelope (DtEnvelope.meters): the stress processor learns each customer's
-- voltage sensitivity from them, and learns them again from here when it resumes a partition. In dt_stress,
-- the customers' sensitivities as learnt before the slot (DtStress.customers): what a meter-located hosting
-- request is judged with. Rows written before this migration have none.
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
-- @if add_column_if_not_exists
ALTER TABLE dt_stress ADD COLUMN IF NOT EXISTS `customers.meter_id` Array(String) DEFAULT [] COMMENT 'Per customer of the DT (as learnt before the slot), parallel arrays of the Nested structure customers: the meter id. Use ARRAY JOIN customers for one row per customer.';
-- @else
-- ALTER TABLE dt_stress ADD COLUMN `customers.meter_id` Array(String) DEFAULT [] COMMENT 'Per customer of the DT (as learnt before the slot), parallel arrays of the Nested structure customers: the meter id. Use ARRAY JOIN customers for one row per customer.';
-- ALTER TABLE dt_stress COMMENT COLUMN `customers.meter_id` 'Per customer of the DT (as learnt before the slot), parallel arrays of the Nested structure customers: the meter id. Use ARRAY JOIN customers for one row per customer.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dt_stress ADD COLUMN IF NOT EXISTS `customers.own_v_per_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of its own net load, V/kW.';
-- @else
-- ALTER TABLE dt_stress ADD COLUMN `customers.own_v_per_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of its own net load, V/kW.';
-- ALTER TABLE dt_stress COMMENT COLUMN `customers.own_v_per_kw` 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of its own net load, V/kW.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dt_stress ADD COLUMN IF NOT EXISTS `customers.dt_v_per_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of the DT''s (other customers'') net load, V/kW.';
-- @else
-- ALTER TABLE dt_stress ADD COLUMN `customers.dt_v_per_kw` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of the DT''s (other customers'') net load, V/kW.';
-- ALTER TABLE dt_stress COMMENT COLUMN `customers.dt_v_per_kw` 'Parallel arrays of the Nested structure customers: voltage change of the customer per kW of the DT''s (other customers'') net load, V/kW.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dt_stress ADD COLUMN IF NOT EXISTS `customers.low_offset_v` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: mean of the customer''s lowest leg voltage above the DT''s lowest customer voltage, V.';
-- @else
-- ALTER TABLE dt_stress ADD COLUMN `customers.low_offset_v` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: mean of the customer''s lowest leg voltage above the DT''s lowest customer voltage, V.';
-- ALTER TABLE dt_stress COMMENT COLUMN `customers.low_offset_v` 'Parallel arrays of the Nested structure customers: mean of the customer''s lowest leg voltage above the DT''s lowest customer voltage, V.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE dt_stress ADD COLUMN IF NOT EXISTS `customers.high_offset_v` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: mean of the DT''s highest customer voltage above the customer''s highest leg voltage, V.';
-- @else
-- ALTER TABLE dt_stress ADD COLUMN `customers.high_offset_v` Array(Float64) DEFAULT [] COMMENT 'Parallel arrays of the Nested structure customers: mean of the DT''s highest customer voltage above the customer''s highest leg voltage, V.';
-- ALTER TABLE dt_stress COMMENT COLUMN `customers.high_offset_v` 'Parallel arrays of the Nested structure customers: mean of the DT''s highest customer voltage above the customer''s highest leg voltage, V.';
-- @end

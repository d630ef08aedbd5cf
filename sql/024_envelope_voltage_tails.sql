-- The forecast distribution of each slot's lowest and highest customer voltage (mean and scale, V) beside the
-- quantiles the envelope already keeps, so a scenario can move them by the voltage sensitivity times its load
-- and read the voltage stress probability again (POST /v1/feeder/stress). Rows of earlier issues hold NULL.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/008_envelope_imputation.sql for why 18.16 takes a plain ADD COLUMN and COMMENT COLUMN.
-- @if add_column_if_not_exists
ALTER TABLE dt_operating_envelopes ADD COLUMN IF NOT EXISTS v_min_mean Nullable(Float64) COMMENT 'Forecast mean of the lowest customer voltage, V; NULL without voltages or in earlier issues.';
ALTER TABLE dt_operating_envelopes ADD COLUMN IF NOT EXISTS v_min_sd Nullable(Float64) COMMENT 'Forecast scale (standard deviation) of the lowest customer voltage, V.';
ALTER TABLE dt_operating_envelopes ADD COLUMN IF NOT EXISTS v_max_mean Nullable(Float64) COMMENT 'Forecast mean of the highest customer voltage, V; NULL without voltages or in earlier issues.';
ALTER TABLE dt_operating_envelopes ADD COLUMN IF NOT EXISTS v_max_sd Nullable(Float64) COMMENT 'Forecast scale (standard deviation) of the highest customer voltage, V.';
-- @else
-- ALTER TABLE dt_operating_envelopes ADD COLUMN v_min_mean Nullable(Float64);
-- ALTER TABLE dt_operating_envelopes ADD COLUMN v_min_sd Nullable(Float64);
-- ALTER TABLE dt_operating_envelopes ADD COLUMN v_max_mean Nullable(Float64);
-- ALTER TABLE dt_operating_envelopes ADD COLUMN v_max_sd Nullable(Float64);
-- ALTER TABLE dt_operating_envelopes COMMENT COLUMN v_min_mean 'Forecast mean of the lowest customer voltage, V; NULL without voltages or in earlier issues.';
-- ALTER TABLE dt_operating_envelopes COMMENT COLUMN v_min_sd 'Forecast scale (standard deviation) of the lowest customer voltage, V.';
-- ALTER TABLE dt_operating_envelopes COMMENT COLUMN v_max_mean 'Forecast mean of the highest customer voltage, V; NULL without voltages or in earlier issues.';
-- ALTER TABLE dt_operating_envelopes COMMENT COLUMN v_max_sd 'Forecast scale (standard deviation) of the highest customer voltage, V.';
-- @end

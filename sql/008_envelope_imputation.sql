-- Data-quality tiers in full (processors/imputation.ts): how much of an envelope slot is measured, imputed
-- for meters that did not report, or modelled for a DT without AMI. Rows written before this migration read
-- as measured (0 imputed kW, 0 imputed meters).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md. Debian's 18.16 has no ADD COLUMN IF
-- @note NOT EXISTS: there the plain ADD COLUMN runs once, as migrations are recorded, and the comment is set
-- @note by COMMENT COLUMN (18.16 keeps no comment given in ADD COLUMN).
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS imputed_kw Float64 DEFAULT 0 COMMENT 'Part of net_mean_kw (and of min_kw, max_kw, p95_kw, import_kwh, export_kwh) that is not measured, kW: the load imputed for the meters that did not report (feeder pattern x meters missing x the DT scale), or all of it in a modelled slot. Measured part: net_mean_kw - imputed_kw.';
-- @else
-- ALTER TABLE envelopes ADD COLUMN imputed_kw Float64 DEFAULT 0 COMMENT 'Part of net_mean_kw (and of min_kw, max_kw, p95_kw, import_kwh, export_kwh) that is not measured, kW: the load imputed for the meters that did not report (feeder pattern x meters missing x the DT scale), or all of it in a modelled slot. Measured part: net_mean_kw - imputed_kw.';
-- ALTER TABLE envelopes COMMENT COLUMN imputed_kw 'Part of net_mean_kw (and of min_kw, max_kw, p95_kw, import_kwh, export_kwh) that is not measured, kW: the load imputed for the meters that did not report (feeder pattern x meters missing x the DT scale), or all of it in a modelled slot. Measured part: net_mean_kw - imputed_kw.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS imputed_meters UInt32 DEFAULT 0 COMMENT 'Meters whose load was imputed in the slot (meters_connected - meters_reporting when imputed; all meters in a modelled slot; else 0).';
-- @else
-- ALTER TABLE envelopes ADD COLUMN imputed_meters UInt32 DEFAULT 0 COMMENT 'Meters whose load was imputed in the slot (meters_connected - meters_reporting when imputed; all meters in a modelled slot; else 0).';
-- ALTER TABLE envelopes COMMENT COLUMN imputed_meters 'Meters whose load was imputed in the slot (meters_connected - meters_reporting when imputed; all meters in a modelled slot; else 0).';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE envelopes ADD COLUMN IF NOT EXISTS profile_source Enum8('measured' = 1, 'imputed' = 2, 'modelled' = 3) DEFAULT 'measured' COMMENT 'measured: the reporting meters sum; imputed: missing meters filled from the feeder load pattern; modelled: no AMI, nameplate x load shape (version 1, replaced by any measured row).';
-- @else
-- ALTER TABLE envelopes ADD COLUMN profile_source Enum8('measured' = 1, 'imputed' = 2, 'modelled' = 3) DEFAULT 'measured' COMMENT 'measured: the reporting meters sum; imputed: missing meters filled from the feeder load pattern; modelled: no AMI, nameplate x load shape (version 1, replaced by any measured row).';
-- ALTER TABLE envelopes COMMENT COLUMN profile_source 'measured: the reporting meters sum; imputed: missing meters filled from the feeder load pattern; modelled: no AMI, nameplate x load shape (version 1, replaced by any measured row).';
-- @end

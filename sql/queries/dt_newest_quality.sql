-- AMI coverage and data-quality tier of one DT's newest envelope slot: what a response about the DT declares
-- when its own rows carry no coverage (the operating envelopes). No envelope: slots 0 and an empty tier (the
-- Enum is read as text first: an empty argMax of an Enum fails on 18.16).
SELECT
    count() AS slots,
    argMax(ami_coverage_pct, slot_start) AS ami_coverage_pct,
    argMax(toString(data_quality), slot_start) AS data_quality
FROM envelopes FINAL
WHERE dt_id = {dt_id:String}

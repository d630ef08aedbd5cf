-- Current revision of each 15-minute envelope of one DT with from_ms <= slot_start < to_ms (epoch ms).
SELECT
    dt_id,
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
    version,
    is_final,
    net_mean_kw,
    min_kw,
    max_kw,
    p95_kw,
    import_kwh,
    export_kwh,
    q_mean_kvar,
    legs.leg AS leg,
    legs.v_min AS v_min,
    legs.v_mean AS v_mean,
    legs.v_max AS v_max,
    meters_reporting,
    meters_connected,
    readings,
    ami_coverage_pct,
    data_quality
FROM envelopes FINAL
WHERE dt_id = {dt_id:String}
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND slot_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
ORDER BY slot_start;

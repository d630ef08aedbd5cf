-- The newest readings of some DTs, back to `horizon_s` seconds before the newest among them: what a
-- processor replays to rebuild the state of a partition it takes over.
SELECT
    meter_id,
    dt_id,
    toUnixTimestamp64Milli(ts) AS ts_ms,
    p_kw,
    q_kvar,
    legs.leg AS leg,
    legs.v AS v,
    legs.i AS i,
    e_imp_kwh,
    e_exp_kwh,
    toUnixTimestamp64Milli(received_at) AS received_ms
FROM readings FINAL
WHERE dt_id IN {dts:Array(String)}
  AND ts >= (SELECT max(ts) FROM readings WHERE dt_id IN {dts:Array(String)}) - INTERVAL {horizon_s:UInt32} SECOND
ORDER BY received_at, ts

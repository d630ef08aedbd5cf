-- The nameplate of every DT (of any tenant) on the feeders of some DTs, with its meter count: what scales the
-- feeder load patterns (processors/load-envelope/imputation.ts buildLoadPatterns) and what a modelled operating
-- envelope of a DT without AMI is built from (processors/stress/modelled-issue.ts); its location and `timezone`
-- decide the zone its day types are read in (core/schedule.ts transformerTimeZone).
-- @note One JOIN with USING and unqualified names: the same SQL and rows on Debian's 18.16.
SELECT
    dt_id,
    feeder_id,
    rated_kva,
    toString(cooling_class) AS cooling_class,
    latitude,
    longitude,
    timezone,
    top_oil_rise_k,
    hot_spot_gradient_k,
    loss_ratio,
    tau_oil_min,
    tau_winding_min,
    meters AS meters_connected
FROM
(
    SELECT dt_id, feeder_id, rated_kva, cooling_class, latitude, longitude, timezone, top_oil_rise_k, hot_spot_gradient_k, loss_ratio,
           tau_oil_min, tau_winding_min
    FROM topology_transformers FINAL
    WHERE feeder_id IN (SELECT feeder_id FROM topology_transformers FINAL WHERE dt_id IN {dts:Array(String)})
) AS t
ALL LEFT JOIN (SELECT dt_id, count() AS meters FROM topology_meters FINAL GROUP BY dt_id) AS m USING dt_id
ORDER BY dt_id

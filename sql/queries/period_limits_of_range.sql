-- The current period limits of some assets with start_ms in [from_ms, to_ms), one row per (asset, period,
-- source): the newest version (LIMIT 1 BY, not argMax, which would skip a cleared NULL), less removed rows.
-- GET /v1/assets/period-limits answers from them; PATCH and DELETE merge into them.
SELECT
    asset_id,
    source,
    start_ms,
    end_ms,
    power_charge_kw,
    power_discharge_kw,
    energy_low_kwh,
    energy_high_kwh,
    trading_locked,
    created_ms,
    updated_ms
FROM
(
    SELECT *
    FROM period_limits
    WHERE asset_id IN {asset_ids:Array(String)}
      AND start_ms >= {from_ms:UInt64}
      AND start_ms < {to_ms:UInt64}
    ORDER BY asset_id, start_ms, source, version DESC
    LIMIT 1 BY asset_id, start_ms, source
)
WHERE removed = 0
ORDER BY asset_id, start_ms, source

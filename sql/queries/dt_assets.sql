-- The assets the topology places behind some DTs now, with their nominal power: the assets among which a DT's
-- operating-envelope headroom is shared (the NETWORK period limit). The newest version of each asset (LIMIT 1
-- BY rather than argMax, which would skip a nominal_kw cleared to NULL), kept when it is behind one of the DTs.
SELECT asset_id, dt_id, nominal_kw
FROM
(
    SELECT asset_id, dt_id, nominal_kw
    FROM topology_assets
    WHERE asset_id IN (SELECT asset_id FROM topology_assets WHERE dt_id IN {dts:Array(String)})
    ORDER BY asset_id, topology_version DESC
    LIMIT 1 BY asset_id
)
WHERE dt_id IN {dts:Array(String)}
ORDER BY dt_id, asset_id

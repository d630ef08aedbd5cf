-- Earlier flexibility events of some assets that started (their days are no like days for a baseline): each
-- event's window, in [from_ms, to_ms).
SELECT event_id, asset_ids, start_ms, end_ms
FROM flex_events
WHERE step = 'STARTED'
  AND hasAny(asset_ids, {asset_ids:Array(String)})
  AND start_ms >= {from_ms:UInt64}
  AND start_ms < {to_ms:UInt64}
ORDER BY start_ms, event_id
LIMIT 1 BY event_id

-- The newest check of each of some dispatch commands (dispatch_checks), for GET /v1/dispatches.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64 the times are text, which orders like the time.
SELECT
    event_id,
    argMax(dt_id, checked_at) AS dt_id,
    argMax(requested_kw, checked_at) AS requested_kw,
    argMax(headroom_kw, checked_at) AS headroom_kw,
    argMax(limited_by, checked_at) AS limited_by,
-- @if datetime64
    argMax(toUnixTimestamp64Milli(envelope_issued_at), checked_at) AS envelope_issued_ms,
-- @else
--  argMax(if(isNull(envelope_issued_at), NULL, toUInt64(toDateTime(substring(ifNull(envelope_issued_at, '1970-01-01 00:00:00.000'), 1, 19), 'UTC')) * 1000 + toUInt64(substring(ifNull(envelope_issued_at, '1970-01-01 00:00:00.000'), 21, 3))), checked_at) AS envelope_issued_ms,
-- @end
    argMax(data_quality, checked_at) AS data_quality,
    argMax(limit_kw, checked_at) AS limit_kw,
    argMax(limit_source, checked_at) AS limit_source,
    argMax(network_share, checked_at) AS network_share,
    argMax(toString(verdict), checked_at) AS verdict
FROM dispatch_checks
WHERE event_id IN {event_ids:Array(String)}
GROUP BY event_id

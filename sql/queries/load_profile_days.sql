-- The current load-profile pieces (sql/029_load_profile_days.sql) of DTs {dt_ids} and UTC days {days}
-- ('YYYY-MM-DD'), read by the primary key: for a load profile (api/routes/dt.ts, one DT, the range's days) and
-- for the pipeline applying a batch of envelopes to the stored pieces (pipelines/load-profile-days-task.ts).
-- The newest version of each DT-day, as FINAL would give it, by sorting the few rows read. The day's text is
-- named apart from its column: an alias equal to a column's name would replace it in WHERE (18.16 then finds nothing).
SELECT
    dt_id,
    toString(day) AS day_text,
    version,
    deflate,
    crc,
    length,
    offsets,
    versions,
    tiers,
    coverage
FROM load_profile_days
WHERE dt_id IN {dt_ids:Array(String)}
  AND day IN (SELECT toDate(arrayJoin({days:Array(String)})))
ORDER BY dt_id, day, version DESC
LIMIT 1 BY dt_id, day

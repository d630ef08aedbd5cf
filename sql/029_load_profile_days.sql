-- Load-profile pieces: per DT and UTC day, the day's slots of GET /v1/dt/{id}/load-profile rendered as JSON and
-- compressed into one raw DEFLATE segment (core/gzip-segments.ts), kept current by the pipeline
-- (pipelines/load-profile-days-task.ts) from gridstream.envelopes. A 30-day profile is then its 30 rows read by
-- the primary key and their segments concatenated (serving/load-profile-days.ts): no JSON built per request,
-- and no API instance holding the fleet's profiles in memory. A change is a new row with a higher version.
-- {{retention_days}} is replaced by the configured retention when the migration is applied.
CREATE TABLE IF NOT EXISTS load_profile_days
(
    dt_id String COMMENT 'Distribution transformer (topology_transformers.dt_id).',
    day Date COMMENT 'UTC day of the slots.',
    version UInt64 COMMENT 'Sum of the slots'' envelope versions: grows with every change of a slot; the highest row is current.',
    deflate String COMMENT 'The present slots'' JSON, each preceded by a comma, in slot order, as raw DEFLATE ended by a full flush, base64.',
    crc UInt32 COMMENT 'CRC-32 of the uncompressed text.',
    length UInt32 COMMENT 'Bytes of the uncompressed text.',
    offsets Array(UInt32) COMMENT '97 offsets into the uncompressed text: slot i is offsets[i + 1] .. offsets[i + 2] (1-based), empty without an envelope.',
    versions Array(Float64) COMMENT 'Envelope version of each of the 96 slots (0: none).',
    tiers Array(UInt8) COMMENT 'Data-quality tier of each slot, as core/data-quality.ts DATA_QUALITY_TIERS index.',
    coverage Array(Float64) COMMENT 'AMI coverage of each slot, percent (rounded as the response gives it).'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (dt_id, day)
-- @if ttl
TTL day + INTERVAL {{retention_days}} DAY
-- @end
-- A row is ~6 KB: granules of 32 rows, so that a profile's 30 rows read ~200 KB, not 8,192 rows' ~50 MB.
SETTINGS index_granularity = 32
-- @if table_comment
COMMENT 'Load-profile pieces per DT and UTC day (the newest version is current).';
-- @else
-- ;
-- @end

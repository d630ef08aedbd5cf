-- Whether a DT is known, from the topology or from envelopes already written for it: 0 when unknown, else 1
-- or 2. Each side counts at most one row, so the answer does not depend on how far ReplacingMergeTree has
-- merged duplicate rows (nor on whether the server collapses them already on insert).
SELECT
    (SELECT count() FROM (SELECT 1 FROM topology_transformers WHERE dt_id = {dt_id:String} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM envelopes WHERE dt_id = {dt_id:String} LIMIT 1)) AS known

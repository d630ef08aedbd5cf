-- Whether a DT is known, from the topology or from envelopes already written for it.
SELECT
    (SELECT count() FROM topology_transformers WHERE dt_id = {dt_id:String})
  + (SELECT count() FROM envelopes WHERE dt_id = {dt_id:String} LIMIT 1) AS known

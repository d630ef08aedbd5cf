-- Meters with readings parked as unknown_meter that have not been re-ingested yet.
SELECT DISTINCT key
FROM dead_letters FINAL
WHERE reason_code = 'unknown_meter'
  AND isNotNull(key)
  AND dead_letter_id NOT IN (SELECT dead_letter_id FROM released_dead_letters)

-- The newest topology version loaded (0 when none).
SELECT max(version) AS version FROM topology_versions

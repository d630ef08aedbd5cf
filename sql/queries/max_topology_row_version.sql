-- The newest topology version any meter or transformer row carries (0 when none).
SELECT greatest(
    (SELECT max(topology_version) FROM topology_meters),
    (SELECT max(topology_version) FROM topology_transformers)
) AS v

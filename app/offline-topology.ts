import type { GridstreamConfig } from '../core/config.js';
import { TopologyError, unknownTransformerProblems, type TopologyFile } from '../core/topology.js';
import { migrate } from '../io/warehouse/migrate.js';
import { openWarehouse } from '../io/warehouse/open.js';
import { topologyAssetRow, topologyMeterRow, topologyTransformerRow } from '../io/warehouse/rows.js';
import { recordTopologyVersion } from '../io/warehouse/topology-versions.js';
import { TABLES } from '../io/warehouse/tables.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

/**
 * Loads a topology straight into the warehouse, for when no gridstream is running (the embedded engine
 * allows one process per data directory). A gridstream started later republishes it to its log.
 */
export async function loadTopologyOffline(
  config: GridstreamConfig,
  file: TopologyFile,
  source: string,
): Promise<number> {
  const warehouse = await openWarehouse({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(warehouse, { retentionDays: config.retentionDays });
    const known = await runQuery(warehouse, queries.latest_topology_transformers, {});
    const problems = unknownTransformerProblems(file, new Set(known.map((t) => t.dt_id)));
    if (problems.length) throw new TopologyError(problems);
    const [row] = await runQuery(warehouse, queries.max_topology_version, {});
    const version = (row?.version ?? 0) + 1;
    await warehouse.insert(
      TABLES.topologyTransformers,
      file.transformers.map((t) => topologyTransformerRow({ ...t, topology_version: version })),
    );
    await warehouse.insert(
      TABLES.topologyMeters,
      file.meters.map((m) => topologyMeterRow({ ...m, topology_version: version })),
    );
    await warehouse.insert(
      TABLES.topologyAssets,
      (file.assets ?? []).map((a) => topologyAssetRow({ ...a, topology_version: version })),
    );
    await recordTopologyVersion(warehouse, version, source, file);
    return version;
  } finally {
    await warehouse.close();
  }
}

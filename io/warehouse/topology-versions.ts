import type { TopologyFile } from '../../core/topology.js';
import { topologyVersionRow } from './rows.js';
import { TABLES } from './tables.js';
import type { Warehouse } from './warehouse.js';

/** Records a topology load in `topology_versions`: which version, when, from where, how many rows. */
export async function recordTopologyVersion(
  warehouse: Warehouse,
  version: number,
  source: string,
  file: TopologyFile,
): Promise<void> {
  await warehouse.insert(TABLES.topologyVersions, [
    topologyVersionRow({
      version,
      loaded_at: Date.now(),
      source,
      meters: file.meters.length,
      transformers: file.transformers.length,
    }),
  ]);
}

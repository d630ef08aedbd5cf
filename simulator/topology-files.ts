import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import type { TopologyAsset, TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';
import type { Simulation, SimTopology } from './model.js';

/**
 * The simulated topology as a utility's CIS/GIS export, in the formats `gridstream topology load` reads:
 * - JSON: `{"transformers": [...], "meters": [...]}` (and `"assets"` when the simulation has batteries), every field of schemas/topology-transformer.avsc and
 *   schemas/topology-meter.avsc by its schema name, in schema order, nulls included;
 * - CSV: `transformers.csv` and `meters.csv` (and `assets.csv` with batteries), header = the schema's field names in schema order, one row per
 *   record, null as an empty cell.
 * `topology_version` is left out of both: the loader assigns versions.
 */
export type TransformerRow = Omit<TopologyTransformer, 'topology_version'>;
export type MeterRow = Omit<TopologyMeter, 'topology_version'>;
export type AssetRow = Omit<TopologyAsset, 'topology_version'>;

export interface TopologyDocument {
  transformers: TransformerRow[];
  meters: MeterRow[];
  /** Absent when there are none (a simulation without batteries). */
  assets?: AssetRow[];
}

export const TRANSFORMER_FIELDS = [
  'dt_id',
  'feeder_id',
  'rated_kva',
  'cooling_class',
  'latitude',
  'longitude',
  'weather_station_id',
  'nominal_voltage_v',
  'top_oil_rise_k',
  'hot_spot_gradient_k',
  'loss_ratio',
  'tau_oil_min',
  'tau_winding_min',
  'tenant',
  'timezone',
] as const satisfies readonly (keyof TransformerRow)[];

export const METER_FIELDS = [
  'meter_id',
  'meter_number',
  'electronic_serial_number',
  'service_point_id',
  'premise_id',
  'legs',
  'dt_id',
] as const satisfies readonly (keyof MeterRow)[];

export const ASSET_FIELDS = [
  'asset_id',
  'dt_id',
  'meter_id',
  'asset_type',
  'nominal_kw',
] as const satisfies readonly (keyof AssetRow)[];

function pick<T, K extends keyof T>(record: T, fields: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const field of fields) out[field] = record[field];
  return out;
}

export function topologyDocument(topology: SimTopology): TopologyDocument {
  const document: TopologyDocument = {
    transformers: topology.transformers.map((t) => pick(t, TRANSFORMER_FIELDS)),
    meters: topology.meters.map((m) => pick(m, METER_FIELDS)),
  };
  if (topology.assets.length) document.assets = topology.assets.map((a) => pick(a, ASSET_FIELDS));
  return document;
}

export function topologyJson(topology: SimTopology): string {
  return JSON.stringify(topologyDocument(topology), null, 2) + '\n';
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csv<T>(rows: readonly T[], fields: readonly (keyof T & string)[]): string {
  const lines = [fields.join(',')];
  for (const row of rows) lines.push(fields.map((f) => csvCell(row[f] as string | number | null)).join(','));
  return lines.join('\n') + '\n';
}

export function transformersCsv(topology: SimTopology): string {
  return csv(topologyDocument(topology).transformers, TRANSFORMER_FIELDS);
}

export function metersCsv(topology: SimTopology): string {
  return csv(topologyDocument(topology).meters, METER_FIELDS);
}

export function assetsCsv(topology: SimTopology): string {
  return csv(topologyDocument(topology).assets ?? [], ASSET_FIELDS);
}

export const LV_NETWORK_FIELDS = [
  'dt_id',
  'element',
  'from',
  'to',
  'phase',
  'length_m',
  'r_ohm',
  'x_ohm',
  'tap_v',
] as const;

/**
 * The simulated LV networks, for an independent power flow (not a topology the loader reads): per DT one
 * `transformer` row (source → busbar, its impedance per phase and no-load tap voltage; the MV supply moves
 * the source around the tap), one `segment` row per feeder span (pole → pole, the same impedance on each
 * phase) and one `service` row per meter leg (pole → meter on `phase`, resistive, before any degradation).
 * Node names: `busbar`, `pole-<n>`, the meter id.
 */
export function lvNetworkCsv(sim: Pick<Simulation, 'transformers' | 'meters'>): string {
  const lines = [LV_NETWORK_FIELDS.join(',')];
  const pole = (k: number) => (k === 0 ? 'busbar' : `pole-${k}`);
  const num = (x: number) => String(Math.round(x * 1e9) / 1e9);
  for (const dt of sim.transformers) {
    lines.push(
      [dt.dt_id, 'transformer', 'source', 'busbar', '', '', num(dt.rOhm), num(dt.xOhm), num(dt.tapV)].join(
        ',',
      ),
    );
    for (let k = 1; k < dt.lv.parent.length; k++)
      lines.push(
        [
          dt.dt_id,
          'segment',
          pole(dt.lv.parent[k]!),
          pole(k),
          '',
          num(dt.lv.lengthM[k]!),
          num(dt.lv.rOhm[k]!),
          num(dt.lv.xOhm[k]!),
          '',
        ].join(','),
      );
    for (const index of dt.meterIndices) {
      const m = sim.meters[index]!;
      for (let l = 0; l < m.legs; l++)
        lines.push(
          [
            dt.dt_id,
            'service',
            pole(m.pole),
            m.meter_id,
            String(m.phases[l]),
            '',
            num(m.impedanceMohm[l]! / 1000),
            '0',
            '',
          ].join(','),
        );
    }
  }
  return lines.join('\n') + '\n';
}

/** Where the LV networks go beside the topology written to `path` (see `writeTopologyFiles`). */
export function lvNetworkPath(path: string): string {
  const isDirectory =
    (existsSync(path) && statSync(path).isDirectory()) || path.endsWith('/') || path.endsWith(sep);
  return isDirectory ? join(path, 'lv-network.csv') : path.replace(/(\.json)?$/, '.lv-network.csv');
}

/**
 * Writes the topology to `path`: as `transformers.csv` and `meters.csv` when the path is a directory (an
 * existing one, or one named with a trailing separator, which is created), otherwise as one JSON file. With
 * `sim`, the LV networks too (`lvNetworkCsv`), as `lv-network.csv` in the directory or beside the JSON file
 * (`topology.lv-network.csv`). Returns the files written.
 */
export function writeTopologyFiles(
  path: string,
  topology: SimTopology,
  sim?: Pick<Simulation, 'transformers' | 'meters'>,
): string[] {
  const lv = sim ? lvNetworkPath(path) : null;
  const written = writeTopology(path, topology);
  if (sim && lv) {
    writeFileSync(lv, lvNetworkCsv(sim));
    written.push(lv);
  }
  return written;
}

function writeTopology(path: string, topology: SimTopology): string[] {
  const isDirectory =
    (existsSync(path) && statSync(path).isDirectory()) || path.endsWith('/') || path.endsWith(sep);
  if (isDirectory) {
    mkdirSync(path, { recursive: true });
    const transformers = join(path, 'transformers.csv');
    const meters = join(path, 'meters.csv');
    writeFileSync(transformers, transformersCsv(topology));
    writeFileSync(meters, metersCsv(topology));
    if (!topology.assets.length) return [transformers, meters];
    const assets = join(path, 'assets.csv');
    writeFileSync(assets, assetsCsv(topology));
    return [transformers, meters, assets];
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, topologyJson(topology));
  return [path];
}

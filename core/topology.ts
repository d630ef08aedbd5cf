import { parse as parseCsv } from 'csv-parse/sync';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type avro from 'avsc';
import { avroType, validate } from './schemas.js';
import { isTimeZone } from './schedule.js';
import type { TopologyAsset, TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';

/**
 * Topology: the reference data a utility exports from its CIS/GIS (meters and the DTs they hang off, and the
 * dispatchable assets behind the DTs). Accepted as JSON (`{"transformers": [...], "meters": [...], "assets":
 * [...]}`) or CSV (one file per kind, the header naming the Avro schema's fields; a file whose header has
 * `asset_id` holds assets, one with `meter_id` meters). Field names are those of schemas/topology-meter.avsc,
 * schemas/topology-transformer.avsc and schemas/topology-asset.avsc; `topology_version` is assigned on load.
 */
export type MeterRow = Omit<TopologyMeter, 'topology_version'>;
export type TransformerRow = Omit<TopologyTransformer, 'topology_version'>;
export type AssetRow = Omit<TopologyAsset, 'topology_version'>;

export interface TopologyFile {
  transformers: TransformerRow[];
  meters: MeterRow[];
  /** Dispatchable assets and the DT each sits behind (absent when the load has none). */
  assets?: AssetRow[];
}

export class TopologyError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid topology:\n  ${problems.slice(0, 50).join('\n  ')}${problems.length > 50 ? `\n  … and ${problems.length - 50} more` : ''}`,
    );
  }
}

/** Reads topology files (or directories of them) and checks them; throws TopologyError listing every problem. */
export function readTopologyFiles(paths: string[]): TopologyFile {
  const files = paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => ['.json', '.csv'].includes(extname(f)))
          .sort()
          .map((f) => join(path, f))
      : [path],
  );
  if (files.length === 0) throw new TopologyError([`no .json or .csv topology files in ${paths.join(', ')}`]);
  const merged: TopologyFile = { transformers: [], meters: [] };
  const problems: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const part =
      extname(file) === '.csv'
        ? parseTopologyCsv(text, basename(file), problems)
        : parseTopologyJson(text, basename(file), problems);
    merged.transformers.push(...part.transformers);
    merged.meters.push(...part.meters);
    if (part.assets?.length) (merged.assets ??= []).push(...part.assets);
  }
  problems.push(...checkReferences(merged));
  if (problems.length) throw new TopologyError(problems);
  return merged;
}

export function parseTopologyJson(text: string, source: string, problems: string[]): TopologyFile {
  const out: TopologyFile = { transformers: [], meters: [] };
  let json: unknown;
  try {
    // Spreadsheet exports often start with a byte-order mark; JSON.parse does not accept one.
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    problems.push(`${source}: not JSON: ${(error as Error).message}`);
    return out;
  }
  return parseTopologyDocument(json, source, problems);
}

/** A topology document already decoded (e.g. an HTTP body): its rows checked against their schemas. */
export function parseTopologyDocument(json: unknown, source: string, problems: string[]): TopologyFile {
  const out: TopologyFile = { transformers: [], meters: [] };
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    problems.push(`${source}: expected an object with "transformers", "meters" and/or "assets" arrays`);
    return out;
  }
  const doc = json as Record<string, unknown>;
  for (const [kind, schema] of [
    ['transformers', 'TopologyTransformer'],
    ['meters', 'TopologyMeter'],
    ['assets', 'TopologyAsset'],
  ] as const) {
    const items = doc[kind];
    if (items === undefined) continue;
    if (!Array.isArray(items)) {
      problems.push(`${source}: "${kind}" must be an array`);
      continue;
    }
    items.forEach((item, i) => {
      const row = checkRow(schema, item, `${source}: ${kind}[${i}]`, problems);
      if (row) ((out[kind] ??= []) as unknown[]).push(row);
    });
  }
  return out;
}

export function parseTopologyCsv(text: string, source: string, problems: string[]): TopologyFile {
  const out: TopologyFile = { transformers: [], meters: [] };
  // `info` gives each record the line it ends on: a count of records would be off after a skipped blank line.
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, info: true });
  } catch (error) {
    problems.push(`${source}: not valid CSV: ${(error as Error).message}`);
    return out;
  }
  const header = rows[0] ? Object.keys(rows[0].record) : [];
  const [schema, kind] = header.includes('asset_id')
    ? (['TopologyAsset', 'assets'] as const)
    : header.includes('meter_id')
      ? (['TopologyMeter', 'meters'] as const)
      : (['TopologyTransformer', 'transformers'] as const);
  const fields = (avroType(schema) as avro.types.RecordType).fields;
  rows.forEach(({ record: raw, info }) => {
    const where = `${source} line ${info.lines}`;
    const item: Record<string, unknown> = {};
    for (const field of fields) {
      if (field.name === 'topology_version') continue;
      const value = raw[field.name];
      // An empty cell of a field with a default takes the default (null for the nullable ones; `default` for
      // tenant), as an absent column does.
      if (value === undefined || (value === '' && field.defaultValue() !== undefined)) continue;
      item[field.name] = coerce(value, field.type);
    }
    const row = checkRow(schema, item, where, problems);
    if (row) ((out[kind] ??= []) as unknown[]).push(row);
  });
  return out;
}

/** CSV cells are text: convert them to what the field's Avro type holds (empty = null for nullable fields). */
function coerce(value: string, type: avro.Type): unknown {
  const name = type.typeName;
  if (name === 'union:unwrapped' || name === 'union:wrapped') {
    if (value === '') return null;
    const branch = (type as avro.types.UnwrappedUnionType).types.find((t) => t.typeName !== 'null');
    return branch ? coerce(value, branch) : value;
  }
  // A cell that is not a number stays text, so the schema check reports it (NaN would pass as a double).
  if (['int', 'long', 'float', 'double'].includes(name))
    return value === '' || Number.isNaN(Number(value)) ? value : Number(value);
  return value;
}

function checkRow(
  schema: 'TopologyMeter' | 'TopologyTransformer' | 'TopologyAsset',
  item: unknown,
  where: string,
  problems: string[],
): MeterRow | TransformerRow | AssetRow | null {
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    problems.push(`${where}: expected an object`);
    return null;
  }
  // Fill defaults (and a placeholder version) through the schema, so absent optional fields become null.
  const candidate = { topology_version: 0, ...(item as object) };
  const found = validate(schema, candidate);
  if (found.length) {
    problems.push(...found.map((p) => `${where}: ${p}`));
    return null;
  }
  const record = avroType(schema).clone(candidate, { skipMissingFields: true }) as Record<string, unknown>;
  delete record.topology_version;
  const semantic =
    schema === 'TopologyMeter'
      ? checkMeter(record as MeterRow)
      : schema === 'TopologyAsset'
        ? checkAsset(record as AssetRow)
        : checkTransformer(record as TransformerRow);
  if (semantic) {
    problems.push(`${where}: ${semantic}`);
    return null;
  }
  return record as unknown as MeterRow | TransformerRow | AssetRow;
}

function checkAsset(a: AssetRow): string | null {
  if (!a.asset_id) return 'asset_id: must not be empty';
  if (!a.dt_id) return 'dt_id: must not be empty';
  if (!a.asset_type) return 'asset_type: must not be empty';
  if (a.nominal_kw !== null && !(a.nominal_kw > 0)) return `nominal_kw: ${a.nominal_kw} must be positive`;
  return null;
}

function checkMeter(m: MeterRow): string | null {
  if (!m.meter_id) return 'meter_id: must not be empty';
  if (!m.dt_id) return 'dt_id: must not be empty';
  if (!(m.legs >= 1 && m.legs <= 3)) return `legs: ${m.legs} is not 1, 2 or 3`;
  return null;
}

function checkTransformer(t: TransformerRow): string | null {
  if (!t.dt_id) return 'dt_id: must not be empty';
  if (!t.tenant) return 'tenant: must not be empty (leave it out for the default tenant)';
  if (!(t.rated_kva > 0)) return `rated_kva: ${t.rated_kva} must be positive`;
  if (!(t.latitude >= -90 && t.latitude <= 90)) return `latitude: ${t.latitude} is outside -90..90`;
  if (!(t.longitude >= -180 && t.longitude <= 180)) return `longitude: ${t.longitude} is outside -180..180`;
  if (!(t.nominal_voltage_v > 0)) return `nominal_voltage_v: ${t.nominal_voltage_v} must be positive`;
  if (t.timezone !== null && !isTimeZone(t.timezone))
    return `timezone: ${JSON.stringify(t.timezone)} is not an IANA time zone (e.g. "Asia/Kolkata"; leave it out for the zone at the DT's coordinates)`;
  return null;
}

/**
 * Ids are unique within a load, and a meter's DT must be among the load's transformers when the load has
 * any (a meters-only load is checked against the topology already loaded, by the loader).
 */
function checkReferences(file: TopologyFile): string[] {
  const problems: string[] = [];
  const dts = new Set<string>();
  for (const t of file.transformers) {
    if (dts.has(t.dt_id)) problems.push(`transformer ${t.dt_id} appears twice`);
    dts.add(t.dt_id);
  }
  const meters = new Set<string>();
  for (const m of file.meters) {
    if (meters.has(m.meter_id)) problems.push(`meter ${m.meter_id} appears twice`);
    meters.add(m.meter_id);
    if (dts.size && !dts.has(m.dt_id))
      problems.push(`meter ${m.meter_id}: dt_id ${m.dt_id} is not a transformer of this load`);
  }
  const assets = new Set<string>();
  for (const a of file.assets ?? []) {
    if (assets.has(a.asset_id)) problems.push(`asset ${a.asset_id} appears twice`);
    assets.add(a.asset_id);
    if (dts.size && !dts.has(a.dt_id))
      problems.push(`asset ${a.asset_id}: dt_id ${a.dt_id} is not a transformer of this load`);
  }
  return problems;
}

/**
 * Problems of a load without transformers whose meters or assets name DTs outside `knownDts` (a load with
 * transformers is checked whole).
 */
export function unknownTransformerProblems(file: TopologyFile, knownDts: ReadonlySet<string>): string[] {
  if (file.transformers.length) return [];
  return [
    ...file.meters
      .filter((m) => !knownDts.has(m.dt_id))
      .map((m) => `meter ${m.meter_id}: dt_id ${m.dt_id} is not a loaded transformer`),
    ...(file.assets ?? [])
      .filter((a) => !knownDts.has(a.dt_id))
      .map((a) => `asset ${a.asset_id}: dt_id ${a.dt_id} is not a loaded transformer`),
  ];
}

/** What the topology table says of a DT: its tenant and feeder; undefined when the table does not know it. */
export type DtOf = (dtId: string) => { tenant: string; feeder: string } | undefined;

/** The current topology in memory: which DT a meter is on, and how many meters each DT has. */
export class TopologyIndex {
  readonly meters = new Map<string, TopologyMeter>();
  readonly transformers = new Map<string, TopologyTransformer>();
  version = 0;

  apply(transformers: TopologyTransformer[], meters: TopologyMeter[]): void {
    for (const t of transformers) {
      this.transformers.set(t.dt_id, t);
      this.version = Math.max(this.version, t.topology_version);
    }
    for (const m of meters) {
      this.meters.set(m.meter_id, m);
      this.version = Math.max(this.version, m.topology_version);
    }
  }

  dtOf(meterId: string): string | undefined {
    return this.meters.get(meterId)?.dt_id;
  }

  metersPerDt(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const t of this.transformers.keys()) counts.set(t, 0);
    for (const m of this.meters.values()) counts.set(m.dt_id, (counts.get(m.dt_id) ?? 0) + 1);
    return counts;
  }
}

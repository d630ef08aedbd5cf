/**
 * Record → table row mappers: one function per record type, producing the JSONEachRow object the warehouse
 * inserts. Every mapper returns the same keys for every record (the insert's column list is taken from the
 * first row).
 *
 * Timestamps: records carry UTC epoch milliseconds; rows carry DateTime64(3, 'UTC') text,
 * 'YYYY-MM-DD hh:mm:ss.sss' (see dateTime64()). ClickHouse also parses a bare number, but it guesses seconds
 * or milliseconds from the number of digits, so text is the only unambiguous form; it parses the same on the
 * embedded engine and on any server whatever its date_time_input_format.
 */
import { createHash } from 'node:crypto';

import { dateTime64 } from './date-time.js';
import type { BinaryColumn, RowBinaryBuffer, RowBinaryWrite } from './row-binary.js';
import type {
  DataQuality,
  DeadLetter,
  DispatchAction,
  DispatchCheck,
  DispatchCommand,
  DtEnvelope,
  DtOperatingEnvelope,
  DtStress,
  ImpedanceDaily,
  ImpedanceFlag,
  ImpedanceFlagKind,
  LegReading,
  MeterReading,
  PowerUnit,
  TopologyAsset,
  TopologyMeter,
  TopologyTransformer,
  WeatherObservation,
} from '../../schemas/types.gen.js';

// The time text lives in date-time.ts, shared with row-binary.ts (whose column type the mappers use) without a cycle.
export { dateTime, dateTime64, parseDateTime64 } from './date-time.js';

/** The data-quality tiers as the warehouse and the API spell them (the seeds' spelling). */
export type DataQualityLabel = 'ami-direct' | 'ami-imputed' | 'modelled-only';

const DATA_QUALITY_LABELS: Record<DataQuality, DataQualityLabel> = {
  ami_direct: 'ami-direct',
  ami_imputed: 'ami-imputed',
  modelled_only: 'modelled-only',
};

/** Avro enum symbols cannot contain '-', so the schema says ami_direct; the warehouse and API say ami-direct. */
export function dataQualityLabel(quality: DataQuality): DataQualityLabel {
  return DATA_QUALITY_LABELS[quality];
}

function nullableDateTime64(ms: number | null): string | null {
  return ms === null ? null : dateTime64(ms);
}

export type ReadingRow = {
  meter_id: string;
  dt_id: string;
  ts: string;
  p_kw: number;
  q_kvar: number | null;
  'legs.leg': number[];
  'legs.v': number[];
  'legs.i': number[];
  e_imp_kwh: number | null;
  e_exp_kwh: number | null;
  received_at: string;
};

export function readingRow(r: MeterReading): ReadingRow {
  return {
    meter_id: r.meter_id,
    dt_id: r.dt_id,
    ts: dateTime64(r.ts),
    p_kw: r.p_kw,
    q_kvar: r.q_kvar,
    'legs.leg': r.legs.map((l) => l.leg),
    'legs.v': r.legs.map((l) => l.v),
    'legs.i': r.legs.map((l) => l.i),
    e_imp_kwh: r.e_imp_kwh,
    e_exp_kwh: r.e_exp_kwh,
    received_at: dateTime64(r.received_at),
  };
}

export const READING_COLUMNS: readonly string[] = [
  'meter_id',
  'dt_id',
  'ts',
  'p_kw',
  'q_kvar',
  'legs.leg',
  'legs.v',
  'legs.i',
  'e_imp_kwh',
  'e_exp_kwh',
  'received_at',
];

/**
 * The JSONEachRow line of readingRow(r) (as jsonEachRowLine renders it, newline included), written directly:
 * readings are nearly every row gridstream inserts, and the row object, its three arrays and a generic
 * JSON.stringify cost a processor more than anything else it does a reading.
 */
/** The readings table's columns as RowBinary writes them (io/warehouse/row-binary.ts), as READING_COLUMNS. */
export const READING_BINARY_COLUMNS: ReadonlyArray<BinaryColumn<MeterReading>> = [
  { name: 'meter_id', value: (r) => r.meter_id },
  { name: 'dt_id', value: (r) => r.dt_id },
  { name: 'ts', value: (r) => r.ts, time: true },
  { name: 'p_kw', value: (r) => r.p_kw },
  { name: 'q_kvar', value: (r) => r.q_kvar },
  { name: 'legs.leg', value: (r) => r.legs, each: (l: LegReading) => l.leg },
  { name: 'legs.v', value: (r) => r.legs, each: (l: LegReading) => l.v },
  { name: 'legs.i', value: (r) => r.legs, each: (l: LegReading) => l.i },
  { name: 'e_imp_kwh', value: (r) => r.e_imp_kwh },
  { name: 'e_exp_kwh', value: (r) => r.e_exp_kwh },
  { name: 'received_at', value: (r) => r.received_at, time: true },
];

/** The column types readingRowWriter lays out (and its times: DateTime64(3) or, on 18.16, String). */
const READING_DIRECT_TYPES: Record<string, ReadonlyArray<string>> = {
  meter_id: ['String', 'LowCardinality(String)'],
  dt_id: ['String', 'LowCardinality(String)'],
  p_kw: ['Float64'],
  q_kvar: ['Nullable(Float64)'],
  'legs.leg': ['Array(UInt8)'],
  'legs.v': ['Array(Float64)'],
  'legs.i': ['Array(Float64)'],
  e_imp_kwh: ['Nullable(Float64)'],
  e_exp_kwh: ['Nullable(Float64)'],
};
const DATE_TIME64 = /^DateTime64\(3(, ?'UTC')?\)$/;

/**
 * A reading's RowBinary row written field by field: the bytes rowBinaryEncoder(READING_BINARY_COLUMNS) writes
 * for these column types (each value through the same RowBinaryBuffer method), in one call a reading
 * instead of a closure a column and one a leg value, whose doubles were boxed on the way (the processor's
 * readings sink runs it for every reading). Undefined for other types: the generic encoder then.
 */
export function readingRowWriter(
  types: ReadonlyMap<string, string>,
): RowBinaryWrite<MeterReading> | undefined {
  for (const [name, allowed] of Object.entries(READING_DIRECT_TYPES))
    if (!allowed.includes(types.get(name) ?? '')) return undefined;
  const ts = types.get('ts') ?? '';
  if (types.get('received_at') !== ts || !(ts === 'String' || DATE_TIME64.test(ts))) return undefined;
  const text = ts === 'String';
  return (out, r) => {
    out.string(r.meter_id);
    out.string(r.dt_id);
    if (text) out.dateTimeText(r.ts);
    else out.integer(r.ts, 8, true);
    out.float64(r.p_kw);
    nullableFloat64(out, r.q_kvar);
    const legs = r.legs;
    const n = legs.length;
    out.varUInt(n);
    for (let k = 0; k < n; k++) out.integer(legs[k]!.leg, 1, false);
    out.varUInt(n);
    for (let k = 0; k < n; k++) out.float64(legs[k]!.v);
    out.varUInt(n);
    for (let k = 0; k < n; k++) out.float64(legs[k]!.i);
    nullableFloat64(out, r.e_imp_kwh);
    nullableFloat64(out, r.e_exp_kwh);
    if (text) out.dateTimeText(r.received_at);
    else out.integer(r.received_at, 8, true);
  };
}

function nullableFloat64(out: RowBinaryBuffer, value: number | null): void {
  if (value === null || value === undefined) out.uint8(1);
  else {
    out.uint8(0);
    out.float64(value);
  }
}

export function readingLine(r: MeterReading): string {
  let leg = '';
  let v = '';
  let i = '';
  for (let k = 0; k < r.legs.length; k++) {
    const l = r.legs[k]!;
    const sep = k === 0 ? '' : ',';
    leg += sep + jsonNumber(l.leg);
    v += sep + jsonNumber(l.v);
    i += sep + jsonNumber(l.i);
  }
  return (
    `{"meter_id":${JSON.stringify(r.meter_id)},"dt_id":${JSON.stringify(r.dt_id)},` +
    `"ts":"${dateTime64(r.ts)}","p_kw":${jsonNumber(r.p_kw)},"q_kvar":${jsonNullable(r.q_kvar)},` +
    `"legs.leg":[${leg}],"legs.v":[${v}],"legs.i":[${i}],` +
    `"e_imp_kwh":${jsonNullable(r.e_imp_kwh)},"e_exp_kwh":${jsonNullable(r.e_exp_kwh)},` +
    `"received_at":"${dateTime64(r.received_at)}"}\n`
  );
}

/** A number as JSON.stringify renders it (non-finite numbers become null). */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

function jsonNullable(n: number | null): string {
  return n === null ? 'null' : jsonNumber(n);
}

export type EnvelopeRow = {
  dt_id: string;
  slot_start: string;
  version: number;
  is_final: boolean;
  net_mean_kw: number;
  min_kw: number;
  max_kw: number;
  p95_kw: number;
  import_kwh: number;
  export_kwh: number;
  q_mean_kvar: number | null;
  'legs.leg': number[];
  'legs.v_min': number[];
  'legs.v_mean': number[];
  'legs.v_max': number[];
  meters_reporting: number;
  meters_connected: number;
  readings: number;
  ami_coverage_pct: number;
  data_quality: DataQualityLabel;
  imputed_kw: number;
  imputed_meters: number;
  profile_source: 'measured' | 'imputed' | 'modelled';
  'meters.meter_id': string[];
  'meters.p_kw': number[];
  'meters.v_low': number[];
  'meters.v_high': number[];
};

export function envelopeRow(e: DtEnvelope): EnvelopeRow {
  return {
    dt_id: e.dt_id,
    slot_start: dateTime64(e.slot_start),
    version: e.version,
    is_final: e.is_final,
    net_mean_kw: e.net_mean_kw,
    min_kw: e.min_kw,
    max_kw: e.max_kw,
    p95_kw: e.p95_kw,
    import_kwh: e.import_kwh,
    export_kwh: e.export_kwh,
    q_mean_kvar: e.q_mean_kvar,
    'legs.leg': e.legs.map((l) => l.leg),
    'legs.v_min': e.legs.map((l) => l.v_min),
    'legs.v_mean': e.legs.map((l) => l.v_mean),
    'legs.v_max': e.legs.map((l) => l.v_max),
    meters_reporting: e.meters_reporting,
    meters_connected: e.meters_connected,
    readings: e.readings,
    ami_coverage_pct: e.ami_coverage_pct,
    data_quality: dataQualityLabel(e.data_quality),
    imputed_kw: e.imputed_kw,
    imputed_meters: e.imputed_meters,
    profile_source: e.profile_source,
    'meters.meter_id': e.meters.map((m) => m.meter_id),
    'meters.p_kw': e.meters.map((m) => m.p_kw),
    'meters.v_low': e.meters.map((m) => m.v_low),
    'meters.v_high': e.meters.map((m) => m.v_high),
  };
}

export type DeadLetterRow = {
  received_at: string;
  source_topic: string;
  source_partition: number | null;
  source_offset: number | null;
  reason_code: string;
  reason: string;
  key: string | null;
  /** The raw bytes, base64: JSON strings cannot carry arbitrary bytes. The table decodes it into `raw`. */
  raw_base64: string;
  dead_letter_id: string;
};

/**
 * A dead letter's identity: the first 128 bits (hex) of the SHA-256 of its source (topic, and partition and
 * offset when it came from the log), reason code, key and raw bytes, each length-prefixed. Not its receive time: a replay of
 * the dead-letter topic, or an input the broker redelivers after a crash, is the same dead letter again, and
 * dead_letters (a ReplacingMergeTree ordered by this id, sql/015_dead_letter_identity.sql) keeps one row of
 * it. The column's DEFAULT computes the same hash in SQL, for rows inserted without it; a test holds the two
 * together.
 */
export function deadLetterId(d: DeadLetter): string {
  const field = (text: string | null) => (text === null ? '-' : `${Buffer.byteLength(text)}:${text}`);
  return createHash('sha256')
    .update(
      `${field(d.source_topic)}|${d.source_partition ?? '-'}|${d.source_offset ?? '-'}|` +
        `${field(d.reason_code)}|${field(d.key)}|${d.raw.length}:`,
    )
    .update(d.raw)
    .digest('hex')
    .slice(0, 32);
}

export function deadLetterRow(d: DeadLetter): DeadLetterRow {
  return {
    received_at: dateTime64(d.received_at),
    source_topic: d.source_topic,
    source_partition: d.source_partition,
    source_offset: d.source_offset,
    reason_code: d.reason_code,
    reason: d.reason,
    key: d.key,
    raw_base64: d.raw.toString('base64'),
    dead_letter_id: deadLetterId(d),
  };
}

export type TopologyMeterRow = {
  meter_id: string;
  meter_number: string;
  electronic_serial_number: string;
  service_point_id: string;
  premise_id: string;
  legs: number;
  dt_id: string;
  topology_version: number;
};

export function topologyMeterRow(m: TopologyMeter): TopologyMeterRow {
  return {
    meter_id: m.meter_id,
    meter_number: m.meter_number,
    electronic_serial_number: m.electronic_serial_number,
    service_point_id: m.service_point_id,
    premise_id: m.premise_id,
    legs: m.legs,
    dt_id: m.dt_id,
    topology_version: m.topology_version,
  };
}

export type TopologyAssetRow = {
  asset_id: string;
  dt_id: string;
  meter_id: string | null;
  asset_type: string;
  nominal_kw: number | null;
  topology_version: number;
};

export function topologyAssetRow(a: TopologyAsset): TopologyAssetRow {
  return {
    asset_id: a.asset_id,
    dt_id: a.dt_id,
    meter_id: a.meter_id,
    asset_type: a.asset_type,
    nominal_kw: a.nominal_kw,
    topology_version: a.topology_version,
  };
}

export type TopologyTransformerRow = {
  dt_id: string;
  feeder_id: string;
  rated_kva: number;
  cooling_class: 'ONAN' | 'ONAF';
  latitude: number;
  longitude: number;
  weather_station_id: string | null;
  nominal_voltage_v: number;
  top_oil_rise_k: number | null;
  hot_spot_gradient_k: number | null;
  loss_ratio: number | null;
  tau_oil_min: number | null;
  tau_winding_min: number | null;
  tenant: string;
  timezone: string | null;
  topology_version: number;
};

export function topologyTransformerRow(t: TopologyTransformer): TopologyTransformerRow {
  return {
    dt_id: t.dt_id,
    feeder_id: t.feeder_id,
    rated_kva: t.rated_kva,
    cooling_class: t.cooling_class,
    latitude: t.latitude,
    longitude: t.longitude,
    weather_station_id: t.weather_station_id,
    nominal_voltage_v: t.nominal_voltage_v,
    top_oil_rise_k: t.top_oil_rise_k,
    hot_spot_gradient_k: t.hot_spot_gradient_k,
    loss_ratio: t.loss_ratio,
    tau_oil_min: t.tau_oil_min,
    tau_winding_min: t.tau_winding_min,
    tenant: t.tenant,
    timezone: t.timezone,
    topology_version: t.topology_version,
  };
}

/** One topology load (no Avro record: the loader writes it once per load). */
export interface TopologyLoad {
  version: number;
  /** Epoch milliseconds. */
  loaded_at: number;
  /** Where the topology came from, e.g. the file name or 'api'. */
  source: string;
  meters: number;
  transformers: number;
}

export type TopologyVersionRow = {
  version: number;
  loaded_at: string;
  source: string;
  meters: number;
  transformers: number;
};

export function topologyVersionRow(v: TopologyLoad): TopologyVersionRow {
  return {
    version: v.version,
    loaded_at: dateTime64(v.loaded_at),
    source: v.source,
    meters: v.meters,
    transformers: v.transformers,
  };
}

export type WeatherRow = {
  station_id: string;
  ts: string;
  ambient_c: number;
  received_at: string;
};

export function weatherRow(w: WeatherObservation): WeatherRow {
  return {
    station_id: w.station_id,
    ts: dateTime64(w.ts),
    ambient_c: w.ambient_c,
    received_at: dateTime64(w.received_at),
  };
}

export type DispatchRow = {
  event_id: string;
  source: string | null;
  published_at: string | null;
  asset_id: string;
  dispatch_time: string;
  delivery_period_start: string;
  target_power_amount: string;
  target_power_unit: PowerUnit;
  nominal_power_amount: string | null;
  nominal_power_unit: PowerUnit | null;
  power_imbalance_amount: string | null;
  power_imbalance_unit: PowerUnit | null;
  soc_imbalance_amount: string | null;
  soc_imbalance_unit: PowerUnit | null;
  received_at: string;
  action: DispatchAction;
};

export function dispatchRow(d: DispatchCommand): DispatchRow {
  return {
    event_id: d.event_id,
    source: d.source,
    published_at: nullableDateTime64(d.published_at),
    asset_id: d.asset_id,
    dispatch_time: dateTime64(d.dispatch_time),
    delivery_period_start: dateTime64(d.delivery_period_start),
    target_power_amount: d.target_power.amount,
    target_power_unit: d.target_power.unit,
    nominal_power_amount: d.nominal_power?.amount ?? null,
    nominal_power_unit: d.nominal_power?.unit ?? null,
    power_imbalance_amount: d.power_imbalance?.amount ?? null,
    power_imbalance_unit: d.power_imbalance?.unit ?? null,
    soc_imbalance_amount: d.soc_imbalance?.amount ?? null,
    soc_imbalance_unit: d.soc_imbalance?.unit ?? null,
    received_at: dateTime64(d.received_at),
    action: d.action,
  };
}

export function dispatchCheckRow(c: DispatchCheck): Record<string, unknown> {
  return {
    event_id: c.event_id,
    asset_id: c.asset_id,
    dispatch_time: dateTime64(c.dispatch_time),
    delivery_period_start: dateTime64(c.delivery_period_start),
    envelope_issued_at: nullableDateTime64(c.envelope_issued_at),
    checked_at: dateTime64(c.checked_at),
    dt_id: c.dt_id,
    requested_kw: c.requested_kw,
    headroom_kw: c.headroom_kw,
    limited_by: c.limited_by,
    data_quality: c.data_quality,
    limit_kw: c.limit_kw,
    limit_source: c.limit_source,
    network_share: c.network_share,
    verdict: c.verdict,
  };
}

/** Epoch milliseconds of a UTC midnight → Date text 'YYYY-MM-DD'. */
export function dateText(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a timestamp: ${ms}`);
  return new Date(ms).toISOString().slice(0, 10);
}

export type ImpedanceDailyRow = {
  meter_id: string;
  leg: number;
  day: string;
  dt_id: string;
  median_mohm: number;
  stderr_mohm: number;
  event_count: number;
  effective_events: number;
  received_at: string;
  version: number;
  is_final: boolean;
  service_point_id: string | null;
  meter_number: string | null;
  electronic_serial_number: string | null;
  premise_id: string | null;
};

export function impedanceDailyRow(d: ImpedanceDaily): ImpedanceDailyRow {
  return {
    meter_id: d.meter_id,
    leg: d.leg,
    day: dateText(d.day),
    dt_id: d.dt_id,
    median_mohm: d.median_mohm,
    stderr_mohm: d.stderr_mohm,
    event_count: d.event_count,
    effective_events: d.effective_events,
    received_at: dateTime64(d.received_at),
    version: d.version,
    is_final: d.is_final,
    service_point_id: d.service_point_id,
    meter_number: d.meter_number,
    electronic_serial_number: d.electronic_serial_number,
    premise_id: d.premise_id,
  };
}

export type ImpedanceFlagRow = {
  meter_id: string;
  leg: number;
  day: string;
  kind: ImpedanceFlagKind;
  dt_id: string;
  median_mohm: number;
  reference_mohm: number;
};

export function impedanceFlagRow(f: ImpedanceFlag): ImpedanceFlagRow {
  return {
    meter_id: f.meter_id,
    leg: f.leg,
    day: dateText(f.day),
    kind: f.kind,
    dt_id: f.dt_id,
    median_mohm: f.median_mohm,
    reference_mohm: f.reference_mohm,
  };
}

/** Rows of the stress tables: the records' fields, with times as DateTime64 text and the tier as the seeds spell it. */
export type DtStressRow = Omit<DtStress, 'slot_start' | 'data_quality' | 'customers'> & {
  slot_start: string;
  data_quality: DataQualityLabel;
  'customers.meter_id': string[];
  'customers.own_v_per_kw': number[];
  'customers.dt_v_per_kw': number[];
  'customers.low_offset_v': number[];
  'customers.high_offset_v': number[];
};

export function dtStressRow(s: DtStress): DtStressRow {
  const { customers, ...rest } = s;
  return {
    ...rest,
    slot_start: dateTime64(s.slot_start),
    data_quality: dataQualityLabel(s.data_quality),
    'customers.meter_id': customers.map((c) => c.meter_id),
    'customers.own_v_per_kw': customers.map((c) => c.own_v_per_kw),
    'customers.dt_v_per_kw': customers.map((c) => c.dt_v_per_kw),
    'customers.low_offset_v': customers.map((c) => c.low_offset_v),
    'customers.high_offset_v': customers.map((c) => c.high_offset_v),
  };
}

export type DtOperatingEnvelopeRow = Omit<
  DtOperatingEnvelope,
  'slot_start' | 'issued_at' | 'data_quality'
> & {
  slot_start: string;
  issued_at: string;
  data_quality: DataQualityLabel;
};

export function dtOperatingEnvelopeRow(e: DtOperatingEnvelope): DtOperatingEnvelopeRow {
  return {
    ...e,
    slot_start: dateTime64(e.slot_start),
    issued_at: dateTime64(e.issued_at),
    data_quality: dataQualityLabel(e.data_quality),
  };
}

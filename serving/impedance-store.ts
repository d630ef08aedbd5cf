import { DAY_MS } from '../core/time.js';
import type { QueryParams } from '../io/warehouse/warehouse.js';
import type { ImpedanceDailyRowsRow, ImpedanceMeterRowsRow } from '../io/warehouse/queries.gen.js';
import type { ImpedanceDaily } from '../schemas/types.gen.js';
import type { DtOf } from '../core/topology.js';

/** What the store keeps of an impedance record (topic gridstream.impedance, or a warehouse row). */
export type ImpedanceFacts = Pick<
  ImpedanceDaily,
  | 'dt_id'
  | 'meter_id'
  | 'leg'
  | 'day'
  | 'median_mohm'
  | 'event_count'
  | 'received_at'
  | 'version'
  | 'service_point_id'
  | 'meter_number'
  | 'electronic_serial_number'
  | 'premise_id'
>;

/** The identifiers an impedance row carries (shared by a meter's rows while they do not change). */
interface Identity {
  readonly servicePoint: string | null;
  readonly meterNumber: string | null;
  readonly serialNumber: string | null;
  readonly premise: string | null;
  readonly dtId: string;
}

/** The current version of one meter leg's day. */
interface Row {
  readonly leg: number;
  /** UTC day, days since the epoch. */
  readonly day: number;
  readonly median: number;
  readonly receivedMs: number;
  readonly eventCount: number;
  readonly version: number;
  readonly identity: Identity;
}

/** A row of the on-demand response: the row sql/queries/impedance_daily_rows.sql gives, so both sources agree. */
export type ImpedanceRowOut = ImpedanceDailyRowsRow;

/** The list filters that name meters, and how a row's identity answers each. */
const NARROWING = ['service_points', 'meter_numbers', 'serial_numbers', 'premises', 'transformers'] as const;
type Narrowing = (typeof NARROWING)[number];
const identityValue: Record<Narrowing, (i: Identity) => string | null> = {
  service_points: (i) => i.servicePoint,
  meter_numbers: (i) => i.meterNumber,
  serial_numbers: (i) => i.serialNumber,
  premises: (i) => i.premise,
  transformers: (i) => i.dtId,
};

/**
 * Daily impedance rows of a few meters, for the on-demand look-up ("a customer on the phone"): the warehouse
 * reads the candidate meters' current rows by the primary keys (sql/queries/impedance_meter_rows.sql), and this
 * chooses, filters, orders and pages them exactly as sql/queries/impedance_daily_rows.sql does, with the
 * tenant and feeder of each DT from the topology table the API keeps, instead of ClickHouse reading the
 * topology for every look-up. Holds one look-up's rows; the highest version of each leg-day wins. A look-up is
 * answered here when it names meters (ServicePoint, Meter, MeterNumber, ElectronicSerialNumber, Premises or
 * Transformer).
 */
export class ImpedanceStore {
  private readonly meters = new Map<string, Map<number, Row>>();
  /** Identifier value → the meters some row of which carried it, per list filter (a superset, as impedance_identities). */
  private readonly index = new Map<Narrowing, Map<string, Set<string>>>(NARROWING.map((n) => [n, new Map()]));
  private readonly identities = new Map<string, Identity>();
  private rows = 0;

  size(): number {
    return this.rows;
  }

  apply(records: readonly ImpedanceFacts[]): void {
    for (const r of records) {
      const day = Math.floor(r.day / DAY_MS);
      let rows = this.meters.get(r.meter_id);
      if (!rows) this.meters.set(r.meter_id, (rows = new Map()));
      const key = day * 8 + r.leg; // legs 0 to 6
      const current = rows.get(key);
      if (current && current.version >= r.version) continue;
      if (!current) this.rows++;
      rows.set(key, {
        leg: r.leg,
        day,
        median: r.median_mohm,
        receivedMs: r.received_at,
        eventCount: r.event_count,
        version: r.version,
        identity: this.identityOf(r),
      });
    }
  }

  private identityOf(r: ImpedanceFacts): Identity {
    const key = JSON.stringify([
      r.service_point_id,
      r.meter_number,
      r.electronic_serial_number,
      r.premise_id,
      r.dt_id,
    ]);
    let identity = this.identities.get(key);
    if (!identity) {
      identity = {
        servicePoint: r.service_point_id,
        meterNumber: r.meter_number,
        serialNumber: r.electronic_serial_number,
        premise: r.premise_id,
        dtId: r.dt_id,
      };
      this.identities.set(key, identity);
      for (const n of NARROWING) {
        const value = identityValue[n](identity);
        if (value === null) continue;
        const byValue = this.index.get(n)!;
        let meters = byValue.get(value);
        if (!meters) byValue.set(value, (meters = new Set()));
        meters.add(r.meter_id);
      }
    }
    return identity;
  }

  /**
   * Rows `offset` .. `offset + limit` of a look-up (params as api/impedance-query.ts makes them for
   * sql/queries/impedance_daily_rows.sql) and how many rows it matches in all, or null when it names no meters
   * (only feeders or dates: a scan, the warehouse's to do).
   */
  lookup(
    params: QueryParams,
    tenant: string,
    dtOf: DtOf,
    limit: number,
    offset: number,
  ): { rows: ImpedanceRowOut[]; total: number } | null {
    const startDay = dayNumber(params.start_event_date as string);
    const endDay = dayNumber(params.end_event_date as string);
    const lists = new Map<string, Set<string>>();
    for (const name of [...NARROWING, 'meters', 'feeders'])
      if ((params[name] as string[]).length > 0) lists.set(name, new Set(params[name] as string[]));
    let candidates: Set<string> | null = lists.get('meters') ?? null;
    for (const n of NARROWING) {
      const values = lists.get(n);
      if (!values) continue;
      const meters = new Set<string>();
      for (const v of values) for (const m of this.index.get(n)!.get(v) ?? []) meters.add(m);
      candidates = candidates ? new Set([...candidates].filter((m) => meters.has(m))) : meters;
    }
    if (candidates === null) return null; // only feeders or dates: a scan, the warehouse's to do
    const startReceived = instantMs(params.start_received as string);
    const endReceived = instantMs(params.end_received as string);
    const matches = (row: Row, meter: string): boolean => {
      if (row.day < startDay || row.day > endDay) return false;
      if (row.receivedMs < startReceived || row.receivedMs > endReceived) return false;
      if (lists.has('meters') && !lists.get('meters')!.has(meter)) return false;
      for (const n of NARROWING) {
        const values = lists.get(n);
        const value = identityValue[n](row.identity);
        if (values && (value === null || !values.has(value))) return false;
      }
      const dt = dtOf(row.identity.dtId);
      const feeders = lists.get('feeders');
      if (feeders && (dt === undefined || !feeders.has(dt.feeder))) return false;
      return (dt?.tenant ?? 'default') === tenant;
    };
    const found: Array<{ meter: string; row: Row }> = [];
    for (const meter of candidates)
      for (const row of this.meters.get(meter)?.values() ?? [])
        if (matches(row, meter)) found.push({ meter, row });
    found.sort((a, b) => a.row.day - b.row.day || compareBytes(a.meter, b.meter) || a.row.leg - b.row.leg);
    const rows = found.slice(offset, offset + limit).map(({ meter, row }) => ({
      MeterLeg: row.leg,
      MedianImpedance: row.median,
      EventDate: new Date(row.day * DAY_MS).toISOString().slice(0, 10),
      ReceivedTime: new Date(row.receivedMs).toISOString(),
      EventCount: row.eventCount,
      ServicePointId: row.identity.servicePoint,
      MeterId: meter,
      MeterNumber: row.identity.meterNumber,
      ElectronicSerialNumber: row.identity.serialNumber,
      TransformerId: row.identity.dtId,
      PremiseId: row.identity.premise,
    }));
    return { rows, total: found.length };
  }
}

/** 'YYYY-MM-DD' → days since the epoch. */
function dayNumber(text: string): number {
  return Math.floor(Date.parse(`${text}T00:00:00Z`) / DAY_MS);
}

/** 'YYYY-MM-DD hh:mm:ss.sss' (UTC) → epoch ms. */
function instantMs(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

/** Orders strings as ClickHouse does, by their UTF-8 bytes (JavaScript's < compares UTF-16 code units). */
function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** An impedance record from a row of sql/queries/impedance_meter_rows.sql (days and times as text). */
export function impedanceOfRow(r: ImpedanceMeterRowsRow): ImpedanceFacts {
  return {
    dt_id: r.dt_text,
    meter_id: r.meter_id,
    leg: r.leg,
    day: Date.parse(`${r.day_text}T00:00:00Z`),
    median_mohm: r.median_mohm,
    event_count: r.event_count,
    received_at: instantMs(r.received_text),
    version: r.version,
    service_point_id: r.service_point_id,
    meter_number: r.meter_number,
    electronic_serial_number: r.electronic_serial_number,
    premise_id: r.premise_id,
  };
}

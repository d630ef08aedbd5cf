import { validate, type SchemaName } from '../core/schemas.js';
import { parseTimestamp, slotStart } from '../core/time.js';
import type {
  DeadLetter,
  DispatchCommand,
  DispatchPayload,
  MeterReading,
  PowerAmount,
  PowerAmountPayload,
  PowerUnit,
  TelemetryPayload,
  WeatherObservation,
  WeatherPayload,
} from '../schemas/types.gen.js';
import { parseMqttTopic } from './mqtt-topics.js';

/**
 * Turns one MQTT message into log records, or dead letters that say why not. Pure: the caller supplies the
 * receive time and the topology. Every input ends up in exactly one place: a message that is not JSON or
 * is on an unknown topic is one dead letter; in an array, each element is accepted or dead-lettered on its
 * own (a dead-lettered element keeps its own JSON as raw bytes, and its index in the reason).
 */
export interface IngestLimits {
  maxPayloadBytes: number;
  /** How far ahead of the receive time a reading may be stamped (meter clocks drift). */
  maxFutureSkewMs: number;
  maxReadingsPerMessage: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxPayloadBytes: 256 * 1024,
  maxFutureSkewMs: 5 * 60_000,
  maxReadingsPerMessage: 10_000,
};

export interface MeterLookup {
  /** The DT a meter is connected to, or undefined for a meter not in the topology. */
  dtOf(meterId: string): string | undefined;
}

export interface Decoded {
  readings: MeterReading[];
  weather: WeatherObservation[];
  dispatches: DispatchCommand[];
  deadLetters: DeadLetter[];
}

/** Oldest plausible reading: AMI data from before 2000 is a clock fault. */
export const EARLIEST_MS = Date.UTC(2000, 0, 1);
export const MAX_ABS_KW = 10_000;
export const MAX_VOLTS = 1_000;
/**
 * Meter leg numbers, as the impedance-statistics interface numbers them (MeterLeg 0 to 6): 1 to 3 are the
 * phases the load envelope's per-leg voltages cover; every leg gets its impedance.
 */
export const MIN_LEG = 0;
export const MAX_LEG = 6;
export const MAX_AMPS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeMessage(
  topic: string,
  payload: Buffer,
  receivedAt: number,
  meters: MeterLookup,
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): Decoded {
  const out: Decoded = { readings: [], weather: [], dispatches: [], deadLetters: [] };
  const dead = (code: string, reason: string, key: string | null, raw: Buffer) =>
    out.deadLetters.push({
      received_at: receivedAt,
      source_topic: topic,
      reason_code: code,
      reason,
      key,
      raw,
      source_partition: null,
      source_offset: null,
    });

  const parsed = parseMqttTopic(topic);
  if (!parsed) {
    dead('bad_topic', `topic ${JSON.stringify(topic)} is not a gridstream/v1 topic`, null, payload);
    return out;
  }
  const key =
    parsed.kind === 'telemetry'
      ? parsed.meterId
      : parsed.kind === 'weather'
        ? parsed.stationId
        : parsed.assetId;
  if (payload.length > limits.maxPayloadBytes) {
    dead(
      'too_large',
      `payload of ${payload.length} bytes exceeds the limit of ${limits.maxPayloadBytes}`,
      key,
      payload,
    );
    return out;
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    dead('invalid_json', `payload is not JSON: ${(error as Error).message}`, key, payload);
    return out;
  }

  const items = Array.isArray(json) ? json : [json];
  const isArray = Array.isArray(json);
  if (items.length > limits.maxReadingsPerMessage) {
    dead(
      'too_large',
      `${items.length} items in one message exceed the limit of ${limits.maxReadingsPerMessage}`,
      key,
      payload,
    );
    return out;
  }
  // A telemetry topic names one meter: its DT is looked up once per message.
  const dtId = parsed.kind === 'telemetry' ? meters.dtOf(parsed.meterId) : undefined;
  items.forEach((item, index) => {
    // An element's own JSON is only rendered when it is dead-lettered: accepted readings never need it.
    const fail = (code: string, reason: string) =>
      isArray
        ? dead(code, `[${index}] ${reason}`, key, Buffer.from(JSON.stringify(item) ?? 'null'))
        : dead(code, reason, key, payload);
    switch (parsed.kind) {
      case 'telemetry': {
        const reading =
          checked<TelemetryPayload>('TelemetryPayload', item, fail) &&
          toReading(parsed.meterId, item as TelemetryPayload, dtId ?? '', receivedAt);
        if (!reading) return;
        if (typeof reading === 'string') return fail('invalid_value', reading);
        const problem = checkTime(reading.ts, receivedAt, limits);
        if (problem) return fail('invalid_value', `ts: ${problem}`);
        if (dtId === undefined)
          return fail(
            'unknown_meter',
            `meter ${JSON.stringify(parsed.meterId)} is not in the topology; reading parked`,
          );
        out.readings.push(reading);
        return;
      }
      case 'weather': {
        if (!checked<WeatherPayload>('WeatherPayload', item, fail)) return;
        const observation = item as WeatherPayload;
        const ts = parseTimestamp(observation.ts);
        if (typeof ts === 'string') return fail('invalid_value', `ts: ${ts}`);
        const problem = checkTime(ts, receivedAt, limits);
        if (problem) return fail('invalid_value', `ts: ${problem}`);
        if (!(observation.ambient_c >= -90 && observation.ambient_c <= 70))
          return fail('invalid_value', `ambient_c: ${observation.ambient_c} °C is outside -90..70`);
        out.weather.push({
          station_id: parsed.stationId,
          ts,
          ambient_c: observation.ambient_c,
          received_at: receivedAt,
        });
        return;
      }
      case 'dispatch': {
        if (!checked<DispatchPayload>('DispatchPayload', item, fail)) return;
        const command = toDispatch(parsed.assetId, item as DispatchPayload, receivedAt);
        if (typeof command === 'string') return fail('invalid_value', command);
        out.dispatches.push(command);
        return;
      }
    }
  });
  return out;
}

function checked<T>(
  schema: SchemaName,
  item: unknown,
  fail: (code: string, reason: string) => void,
): item is T {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    fail(
      'schema',
      `expected a JSON object, got ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item}`,
    );
    return false;
  }
  const problems = validate(schema, item);
  if (problems.length) fail('schema', problems.join('; '));
  return problems.length === 0;
}

function checkTime(ts: number, receivedAt: number, limits: IngestLimits): string | null {
  if (ts < EARLIEST_MS) return `${new Date(ts).toISOString()} is before 2000: meter clock fault`;
  if (ts > receivedAt + limits.maxFutureSkewMs)
    return `${new Date(ts).toISOString()} is more than ${limits.maxFutureSkewMs / 1000} s ahead of the receive time`;
  return null;
}

/** The reading, or a message naming the bad field. */
function toReading(
  meterId: string,
  p: TelemetryPayload,
  dtId: string,
  receivedAt: number,
): MeterReading | string {
  const ts = parseTimestamp(p.ts);
  if (typeof ts === 'string') return `ts: ${ts}`;
  if (!Number.isFinite(p.p_kw) || Math.abs(p.p_kw) > MAX_ABS_KW)
    return `p_kw: ${p.p_kw} is outside ±${MAX_ABS_KW} kW`;
  if (p.q_kvar != null && (!Number.isFinite(p.q_kvar) || Math.abs(p.q_kvar) > MAX_ABS_KW))
    return `q_kvar: ${p.q_kvar} is outside ±${MAX_ABS_KW} kvar`;
  let seen = 0; // bit per leg number
  for (let i = 0; i < p.legs.length; i++) {
    const leg = p.legs[i]!;
    if (!(leg.leg >= MIN_LEG && leg.leg <= MAX_LEG))
      return `legs[${i}].leg: ${leg.leg} is not a leg number ${MIN_LEG} to ${MAX_LEG}`;
    if (seen & (1 << leg.leg)) return `legs[${i}].leg: leg ${leg.leg} appears twice`;
    seen |= 1 << leg.leg;
    if (!(leg.v >= 0 && leg.v <= MAX_VOLTS)) return `legs[${i}].v: ${leg.v} V is outside 0..${MAX_VOLTS}`;
    if (!(leg.i >= 0 && leg.i <= MAX_AMPS)) return `legs[${i}].i: ${leg.i} A is outside 0..${MAX_AMPS}`;
  }
  for (const field of ['e_imp_kwh', 'e_exp_kwh'] as const) {
    const value = p[field];
    if (value != null && !(value >= 0 && Number.isFinite(value)))
      return `${field}: ${value} is not a non-negative register value`;
  }
  return {
    meter_id: meterId,
    dt_id: dtId,
    ts,
    p_kw: p.p_kw,
    q_kvar: p.q_kvar ?? null,
    // The payload's own leg objects, checked above: a copy per reading costs the bridge's collector, and
    // whatever else they hold is not encoded (Avro writes a record's declared fields only).
    legs: p.legs,
    e_imp_kwh: p.e_imp_kwh ?? null,
    e_exp_kwh: p.e_exp_kwh ?? null,
    received_at: receivedAt,
  };
}

/**
 * The command, or a message naming the bad field. A cancel (action "cancel") needs only event_id, asset_id and
 * dispatch_time: it carries a zero target (0 kW), so the command's shape stays the dispatch's, and, without a
 * delivery_period_start, the 15-minute period of its dispatch time.
 */
function toDispatch(assetId: string, p: DispatchPayload, receivedAt: number): DispatchCommand | string {
  if (p.asset_id !== assetId)
    return `asset_id: ${JSON.stringify(p.asset_id)} does not match the topic's ${JSON.stringify(assetId)}`;
  if (!UUID.test(p.event_id)) return `event_id: ${JSON.stringify(p.event_id)} is not a UUID`;
  const action = p.action ?? 'dispatch';
  if (action !== 'dispatch' && action !== 'cancel')
    return `action: ${JSON.stringify(p.action)} is not dispatch or cancel`;
  const cancel = action === 'cancel';
  if (!cancel)
    for (const field of ['delivery_period_start', 'target_power'] as const)
      if (p[field] == null) return `${field}: required for a dispatch (only a cancel goes without)`;
  const times: Record<string, number | null> = {};
  for (const field of ['dispatch_time', 'delivery_period_start', 'published_at'] as const) {
    const value = p[field];
    if (value == null) {
      times[field] = null;
      continue;
    }
    const ms = parseTimestamp(value);
    if (typeof ms === 'string') return `${field}: ${ms}`;
    times[field] = ms;
  }
  const amounts: Record<string, PowerAmount | null> = {};
  for (const field of ['target_power', 'nominal_power', 'power_imbalance', 'soc_imbalance'] as const) {
    const value = cancel && field === 'target_power' ? CANCEL_TARGET : p[field];
    if (value == null) {
      amounts[field] = null;
      continue;
    }
    const amount = toAmount(value, field === 'soc_imbalance' ? ENERGY_OR_POWER_UNITS : POWER_UNITS);
    if (typeof amount === 'string') return `${field}.${amount}`;
    amounts[field] = amount;
  }
  return {
    event_id: p.event_id.toLowerCase(),
    source: p.source ?? null,
    published_at: times.published_at ?? null,
    asset_id: assetId,
    dispatch_time: times.dispatch_time!,
    delivery_period_start: times.delivery_period_start ?? slotStart(times.dispatch_time!),
    target_power: amounts.target_power!,
    nominal_power: amounts.nominal_power ?? null,
    power_imbalance: amounts.power_imbalance ?? null,
    soc_imbalance: amounts.soc_imbalance ?? null,
    received_at: receivedAt,
    action,
  };
}

/** The target a cancel carries: none (the payload's, if any, is ignored). */
const CANCEL_TARGET: PowerAmountPayload = { amount: '0', unit: 'kW' };

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Units of the power quantities (target, nominal, imbalance). */
const POWER_UNITS: readonly PowerUnit[] = ['W', 'kW', 'MW'];
/** Units of the state-of-charge imbalance: an energy, or a power unit as earlier senders gave it. */
const ENERGY_OR_POWER_UNITS: readonly PowerUnit[] = ['Wh', 'kWh', 'MWh', ...POWER_UNITS];

function toAmount(p: PowerAmountPayload, units: readonly PowerUnit[]): PowerAmount | string {
  const amount = typeof p.amount === 'number' ? String(p.amount) : p.amount.trim();
  if (!DECIMAL.test(amount)) return `amount: ${JSON.stringify(p.amount)} is not a decimal number`;
  const unit = units.find((u) => u === p.unit);
  if (unit === undefined)
    return `unit: ${JSON.stringify(p.unit)} is not ${units.slice(0, -1).join(', ')} or ${units.at(-1)}`;
  return { amount, unit };
}

import { describe, expect, it } from 'vitest';
import { SLOT_MS, SLOTS_PER_DAY } from '../../core/time.js';
import {
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
  type EnvelopeState,
} from '../../processors/load-envelope/load-envelope.js';
import {
  buildLoadPatterns,
  emptyLoadPatterns,
  imputeMissing,
  modelledKw,
  shapeIndex,
  standardKwPerKva,
  type LoadPatterns,
} from '../../processors/load-envelope/imputation.js';
import { localCell, ZoneOffsets } from '../../core/zone-offsets.js';
import type { DtEnvelope } from '../../schemas/types.gen.js';
import { meterReading, runEnvelope } from '../support/load-envelope.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
// Wednesday 2026-07-01 10:00Z, and Saturday 2026-07-04 10:00Z.
const WED = Date.UTC(2026, 6, 1, 10);
const SAT = Date.UTC(2026, 6, 4, 10);
const UTC = ZoneOffsets.of('UTC');
const config: EnvelopeConfig = { allowedLatenessMs: 5 * MIN, revisionHorizonMs: 2 * HOUR };

describe('imputation patterns (pure)', () => {
  it("reads local time in the DT's zone and tells weekdays from weekends by the local date", () => {
    const karachi = ZoneOffsets.of('Asia/Karachi'); // UTC+5 all year
    const bogota = ZoneOffsets.of('America/Bogota'); // UTC-5 all year
    expect(localCell(WED, UTC)).toBe(40);
    expect(localCell(SAT, UTC)).toBe(SLOTS_PER_DAY + 40);
    // Friday 22:00Z is already Saturday at UTC+5.
    const friLate = Date.UTC(2026, 6, 3, 22);
    expect(localCell(friLate, UTC)).toBe(88);
    expect(localCell(friLate, karachi)).toBe(SLOTS_PER_DAY + 12);
    // Monday 02:00Z is still Sunday at UTC-5.
    expect(localCell(Date.UTC(2026, 6, 6, 2), bogota)).toBe(SLOTS_PER_DAY + 84);
    expect(localCell(WED, karachi)).toBe(60);
    expect(localCell(SAT + 15 * MIN, UTC)).toBe(SLOTS_PER_DAY + 41);
    expect(shapeIndex(WED + 45 * MIN, UTC)).toBe(10);
    expect(shapeIndex(SAT, UTC)).toBe(24 + 10);
  });

  it('puts a Kolkata slot at 18:45 UTC on a Friday into Saturday 00:15 local, not Friday 23:45', () => {
    const kolkata = ZoneOffsets.of('Asia/Kolkata');
    const slot = Date.UTC(2026, 6, 3, 18, 45);
    expect(kolkata.offsetMs(slot)).toBe(5.5 * HOUR);
    expect(localCell(slot, kolkata)).toBe(SLOTS_PER_DAY + 1);
    expect(shapeIndex(slot, kolkata)).toBe(24 + 0);
    // A feeder pattern learnt for Saturday 00:15 is the one the slot is imputed from.
    const patterns = emptyLoadPatterns();
    const pattern = new Float64Array(2 * SLOTS_PER_DAY).fill(1);
    pattern[SLOTS_PER_DAY + 1] = 7;
    patterns.perMeter.set('f1', pattern);
    expect(imputeMissing(patterns, 'dt-a', 'f1', slot, kolkata, 1, () => false)).toEqual({
      kw: 7,
      meters: 1,
    });
  });

  it('follows summer time in Europe/Berlin across the last Sunday of March', () => {
    const berlin = ZoneOffsets.of('Europe/Berlin');
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST at 01:00Z.
    const change = Date.UTC(2026, 2, 29, 1);
    expect(berlin.offsetMs(change - 1)).toBe(HOUR);
    expect(berlin.offsetMs(change)).toBe(2 * HOUR);
    expect(berlin.changes(change - 7 * 24 * HOUR, change + 24 * HOUR)).toEqual({
      offsetMs: HOUR,
      changes: [{ atMs: change, offsetMs: 2 * HOUR }],
    });
    // Sunday 01:45 CET, then Sunday 03:00 CEST: the local slot of day jumps by an hour and a quarter.
    expect(localCell(change - SLOT_MS, berlin)).toBe(SLOTS_PER_DAY + 7);
    expect(localCell(change, berlin)).toBe(SLOTS_PER_DAY + 12);
    // Monday 06:00Z is 08:00 local (mean solar time would say 07:00); Friday 23:00Z is Saturday 00:00 CET.
    expect(localCell(Date.UTC(2026, 2, 30, 6), berlin)).toBe(32);
    expect(localCell(Date.UTC(2026, 2, 27, 23), berlin)).toBe(SLOTS_PER_DAY + 0);
    // A week later, Saturday 22:30Z is Sunday 00:30 CEST.
    expect(localCell(Date.UTC(2026, 3, 4, 22, 30), berlin)).toBe(SLOTS_PER_DAY + 2);
    expect(shapeIndex(Date.UTC(2026, 3, 4, 22, 30), berlin)).toBe(24 + 0);
  });

  it('builds per-meter feeder patterns, DT scales, per-kVA patterns and meter shapes from the query rows', () => {
    const dts = new Map([
      ['dt-a', { feeder_id: 'f1', rated_kva: 100, meters_connected: 10 }],
      ['dt-b', { feeder_id: 'f1', rated_kva: 100, meters_connected: 30 }],
      ['dt-c', { feeder_id: 'f1', rated_kva: 50, meters_connected: 5 }],
    ]);
    const patterns = buildLoadPatterns(
      [
        { feeder_id: 'f1', day_type: 0, slot_of_day: 40, kw_sum: 200, meter_slots: 100 },
        { feeder_id: 'f1', day_type: 1, slot_of_day: 40, kw_sum: 300, meter_slots: 100 },
      ],
      [
        { dt_id: 'dt-a', kw_sum: 150, meter_slots: 50 }, // 3 kW per meter against the feeder's 2.5
        { dt_id: 'dt-b', kw_sum: 350, meter_slots: 150 },
        { dt_id: 'dt-unknown', kw_sum: 1, meter_slots: 1 },
      ],
      dts,
      [
        { dt_id: 'dt-a', meter_id: 'm1', day_type: 0, hour: 10, kw_sum: 12, readings: 4 },
        { dt_id: 'dt-a', meter_id: 'm1', day_type: 1, hour: 10, kw_sum: 0, readings: 0 },
      ],
    );
    expect(patterns.perMeter.get('f1')![40]).toBe(2);
    expect(patterns.perMeter.get('f1')![SLOTS_PER_DAY + 40]).toBe(3);
    expect(Number.isNaN(patterns.perMeter.get('f1')![41]!)).toBe(true);
    expect(patterns.dtScale.get('dt-a')).toBeCloseTo(1.2, 12);
    expect(patterns.dtScale.get('dt-b')).toBeCloseTo(350 / 150 / 2.5, 12);
    expect([...patterns.metered].sort()).toEqual(['dt-a', 'dt-b']);
    // 40 metered meters on 200 kVA: 0.2 meters per kVA.
    expect(patterns.perKva.get('f1')![40]).toBeCloseTo(0.4, 12);
    expect(patterns.meterShapes.get('dt-a')!.get('m1')![10]).toBe(3);
    expect(Number.isNaN(patterns.meterShapes.get('dt-a')!.get('m1')![34]!)).toBe(true);
  });

  it('imputes missing meters from their own shapes first, the feeder pattern times the DT scale for the rest', () => {
    const patterns = emptyLoadPatterns();
    patterns.perMeter.set('f1', new Float64Array(2 * SLOTS_PER_DAY).fill(2));
    patterns.dtScale.set('dt-a', 1.5);
    const shape = new Float32Array(48).fill(NaN);
    shape[10] = 4;
    patterns.meterShapes.set(
      'dt-a',
      new Map([
        ['m1', shape],
        ['m2', shape],
      ]),
    );
    // Three missing: m1 (own shape 4 kW), m2 is reporting, two more from the feeder: 2 × 2 kW × 1.5.
    expect(imputeMissing(patterns, 'dt-a', 'f1', WED, UTC, 3, (m) => m === 'm2')).toEqual({
      kw: 4 + 2 * 3,
      meters: 3,
    });
    // No feeder pattern: only the meter with a shape is imputed.
    expect(imputeMissing(patterns, 'dt-a', 'f2', WED, UTC, 3, (m) => m === 'm2')).toEqual({
      kw: 4,
      meters: 1,
    });
    expect(imputeMissing(patterns, 'dt-b', 'f2', WED, UTC, 3, () => false)).toBeNull();
    expect(imputeMissing(patterns, 'dt-a', 'f1', WED, UTC, 0, () => false)).toBeNull();
  });

  it('models a DT from its nameplate: the feeder kW per kVA if any, else the standard residential shape', () => {
    const patterns = emptyLoadPatterns();
    expect(modelledKw(patterns, 'f1', 200, WED, UTC)).toEqual({
      kw: 200 * standardKwPerKva(40),
      source: 'standard',
    });
    // 19:00 local on a weekday is the standard shape's evening peak.
    expect(standardKwPerKva(localCell(Date.UTC(2026, 6, 1, 19), UTC))).toBe(0.55);
    patterns.perKva.set('f1', new Float64Array(2 * SLOTS_PER_DAY).fill(0.25));
    expect(modelledKw(patterns, 'f1', 200, WED, UTC)).toEqual({ kw: 50, source: 'feeder' });
  });
});

function reading(meter: string, ts: number, p_kw: number, dt = 'dt-a'): EnvelopeInput {
  return { type: 'reading', reading: meterReading(meter, dt, ts, p_kw) };
}

const run = (inputs: EnvelopeInput[], state?: EnvelopeState) => runEnvelope(config, inputs, state);

function finals(outputs: EnvelopeOutput[], dt: string): DtEnvelope[] {
  return outputs.flatMap((o) =>
    o.type === 'envelope' && o.envelope.dt_id === dt && o.envelope.is_final ? [o.envelope] : [],
  );
}

const plate = (dt: string, feeder = 'f1', kva = 100): EnvelopeInput => ({
  type: 'dt-nameplate',
  dt_id: dt,
  feeder_id: feeder,
  rated_kva: kva,
  time_zone: 'UTC',
});

function flatPatterns(perMeterKw: number, scale = 1): LoadPatterns {
  const patterns = emptyLoadPatterns();
  patterns.perMeter.set('f1', new Float64Array(2 * SLOTS_PER_DAY).fill(perMeterKw));
  patterns.dtScale.set('dt-a', scale);
  patterns.metered.add('dt-a');
  return patterns;
}

describe('envelope processor with imputation', () => {
  it('adds the missing meters from the feeder pattern, keeps the measured part and marks the slot imputed', () => {
    const { outputs } = run([
      { type: 'meters-connected', dt_id: 'dt-a', meters: 4 },
      plate('dt-a'),
      { type: 'load-patterns', patterns: flatPatterns(1.5, 2) },
      reading('m1', WED, 2),
      reading('m2', WED, 1),
      reading('m1', WED + SLOT_MS + 10 * MIN, 2),
    ]);
    const [slot] = finals(outputs, 'dt-a');
    // Two meters missing × 1.5 kW × scale 2 = 6 kW on top of the measured 3 kW.
    expect(slot).toMatchObject({
      slot_start: WED,
      meters_reporting: 2,
      meters_connected: 4,
      imputed_meters: 2,
      imputed_kw: 6,
      net_mean_kw: 9,
      min_kw: 9,
      max_kw: 9,
      p95_kw: 9,
      profile_source: 'imputed',
      // 2 × (newest receive time + 2 readings) + 1 (final): imputation does not change the version.
      version: 2 * (WED + 2_000 + 2) + 1,
    });
    expect(slot!.import_kwh).toBeCloseTo(9 / 4, 12);
    expect(slot!.net_mean_kw - slot!.imputed_kw).toBe(3);
  });

  it('leaves a fully reporting slot, or one without a pattern, as measured', () => {
    const { outputs } = run([
      { type: 'meters-connected', dt_id: 'dt-a', meters: 2 },
      { type: 'meters-connected', dt_id: 'dt-b', meters: 2 },
      plate('dt-a'),
      plate('dt-b', 'f-none'),
      { type: 'load-patterns', patterns: flatPatterns(1.5) },
      reading('m1', WED, 2),
      reading('m2', WED, 1),
      reading('b1', WED, 5, 'dt-b'),
      reading('m1', WED + SLOT_MS + 10 * MIN, 2),
    ]);
    expect(finals(outputs, 'dt-a')[0]).toMatchObject({
      net_mean_kw: 3,
      imputed_kw: 0,
      imputed_meters: 0,
      profile_source: 'measured',
    });
    expect(finals(outputs, 'dt-b')[0]).toMatchObject({
      net_mean_kw: 5,
      meters_reporting: 1,
      imputed_kw: 0,
      profile_source: 'measured',
    });
  });

  it('gives a DT without readings modelled slots, version 1, from the second close on', () => {
    const patterns = flatPatterns(1.5);
    patterns.perKva.set('f1', new Float64Array(2 * SLOTS_PER_DAY).fill(0.3));
    const inputs: EnvelopeInput[] = [
      { type: 'meters-connected', dt_id: 'dt-a', meters: 2 },
      { type: 'meters-connected', dt_id: 'dt-m', meters: 20 },
      { type: 'meters-connected', dt_id: 'dt-s', meters: 10 },
      { type: 'meters-connected', dt_id: 'dt-empty', meters: 0 },
      plate('dt-a'),
      plate('dt-m', 'f1', 200),
      plate('dt-s', 'f-none', 50),
      plate('dt-empty'),
      { type: 'load-patterns', patterns },
    ];
    for (let t = WED; t < WED + 2 * HOUR; t += 5 * MIN) inputs.push(reading('m1', t, 1), reading('m2', t, 1));
    const { outputs } = run(inputs);
    const modelled = finals(outputs, 'dt-m');
    // The first close (at the first reading) models nothing, nor any slot before the first reading's (09:45,
    // closed once stream time passes 10:05); each later close models the slots it closes: 10:00 to 11:30
    // (stream time ends at 11:55).
    expect(modelled.map((e) => e.slot_start)).toEqual(Array.from({ length: 7 }, (_, k) => WED + k * SLOT_MS));
    for (const e of modelled)
      expect(e).toMatchObject({
        version: 1,
        is_final: true,
        net_mean_kw: 60,
        imputed_kw: 60,
        imputed_meters: 20,
        meters_reporting: 0,
        meters_connected: 20,
        readings: 0,
        ami_coverage_pct: 0,
        data_quality: 'modelled_only',
        profile_source: 'modelled',
        legs: [],
      });
    expect(modelled[0]!.import_kwh).toBe(15);
    // The feeder without AMI: the standard shape (10:00–11:30 UTC, weekday, offset 0).
    expect(finals(outputs, 'dt-s').map((e) => e.net_mean_kw)).toEqual(
      Array.from({ length: 7 }, (_, k) => 50 * standardKwPerKva(40 + k)),
    );
    // No meters, or a DT the warehouse knows has AMI (dt-a here has readings anyway): nothing modelled.
    expect(finals(outputs, 'dt-empty')).toEqual([]);
    expect(finals(outputs, 'dt-a').every((e) => e.profile_source === 'measured')).toBe(true);
  });

  it("models no slot before the first upload's, though its first message alone closes twice", () => {
    // A fleet's first round of quarter-hour uploads (10:00–10:14 each): the first meter's message passes
    // 10:00 + lateness and 10:05 + lateness, closing twice before any other DT has shown a reading.
    const inputs: EnvelopeInput[] = [{ type: 'load-patterns', patterns: flatPatterns(1.5) }];
    const dts = ['dt-a', 'dt-b', 'dt-c'];
    for (const dt of dts) inputs.push({ type: 'meters-connected', dt_id: dt, meters: 1 }, plate(dt));
    for (const [k, dt] of dts.entries())
      for (let minute = 0; minute < 15; minute++) inputs.push(reading(`m${k}`, WED + minute * MIN, 1, dt));
    const { outputs } = run(inputs);
    const envelopes = outputs.flatMap((o) => (o.type === 'envelope' ? [o.envelope] : []));
    expect(envelopes.filter((e) => e.profile_source === 'modelled')).toEqual([]);
    expect(envelopes.every((e) => e.slot_start >= WED)).toBe(true);
  });

  it('does not model a DT the warehouse has measured slots of, nor one that has had a reading', () => {
    const patterns = flatPatterns(1.5);
    patterns.metered.add('dt-known');
    const inputs: EnvelopeInput[] = [
      { type: 'meters-connected', dt_id: 'dt-known', meters: 3 },
      { type: 'meters-connected', dt_id: 'dt-a', meters: 1 },
      { type: 'meters-connected', dt_id: 'dt-late', meters: 1 },
      plate('dt-known'),
      plate('dt-a'),
      plate('dt-late'),
      { type: 'load-patterns', patterns },
    ];
    for (let t = WED; t < WED + HOUR; t += 5 * MIN) inputs.push(reading('m1', t, 1));
    inputs.push(reading('l1', WED + HOUR, 1, 'dt-late'));
    for (let t = WED + HOUR; t < WED + 2 * HOUR; t += 5 * MIN) inputs.push(reading('m1', t, 1));
    const { outputs } = run(inputs);
    expect(finals(outputs, 'dt-known')).toEqual([]);
    const late = finals(outputs, 'dt-late');
    // Modelled until its first reading, measured after.
    expect(late.filter((e) => e.profile_source === 'modelled').map((e) => e.slot_start)).toEqual([
      WED,
      WED + SLOT_MS,
      WED + 2 * SLOT_MS,
    ]);
    expect(late.at(-1)).toMatchObject({ slot_start: WED + HOUR, profile_source: 'measured' });
  });

  it('emits the same envelopes on replay, patterns included', () => {
    const inputs: EnvelopeInput[] = [
      { type: 'meters-connected', dt_id: 'dt-a', meters: 3 },
      plate('dt-a'),
      { type: 'load-patterns', patterns: flatPatterns(1.25) },
    ];
    for (let t = WED; t < WED + HOUR; t += MIN)
      inputs.push(reading('m1', t, (t / MIN) % 7), { type: 'emit' });
    expect(run(inputs).outputs).toEqual(run(inputs).outputs);
  });
});

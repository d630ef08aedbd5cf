import { describe, expect, it } from 'vitest';
import { SLOT_MS } from '../../core/time.js';
import {
  DEFAULT_STRESS_CONFIG,
  initialStressState,
  slotLoad,
  stepStress,
  type DtOperatingEnvelope,
  type DtStress,
  type StressConfig,
  type StressInput,
  type StressOutput,
  type StressState,
} from '../../processors/stress/stress.js';
import { COOLING_SETS, ThermalModel, ThermalStates } from '../../processors/thermal/thermal.js';
import type { DtEnvelope, TopologyTransformer } from '../../schemas/types.gen.js';

const T0 = Date.UTC(2026, 5, 1); // a Monday, 00:00 UTC
const DAY_SLOTS = 96;

function transformer(dtId: string, ratedKva: number, station: string | null = 'ws-1'): TopologyTransformer {
  return {
    dt_id: dtId,
    feeder_id: 'fdr-01',
    rated_kva: ratedKva,
    cooling_class: 'ONAN',
    latitude: 51.5,
    longitude: 0, // solar time = UTC: day types follow the UTC date
    weather_station_id: station,
    nominal_voltage_v: 230,
    top_oil_rise_k: null,
    hot_spot_gradient_k: null,
    loss_ratio: null,
    tau_oil_min: null,
    tau_winding_min: null,
    tenant: 'default',
    timezone: null,
    topology_version: 1,
  };
}

interface SlotSpec {
  kw: number;
  /** Lowest and highest customer voltage; default 230 ± 3 V. */
  vMin?: number;
  vMax?: number;
  q?: number | null;
  reporting?: number;
  connected?: number;
  final?: boolean;
  version?: number;
}

/** A final envelope with a flat minute series at `kw` (so no ripple) and one leg's voltage range. */
function envelope(dtId: string, slotStart: number, s: SlotSpec): DtEnvelope {
  const vMin = s.vMin ?? 227;
  const vMax = s.vMax ?? 233;
  return {
    dt_id: dtId,
    slot_start: slotStart,
    version: s.version ?? 2 * (slotStart + SLOT_MS) + 1,
    is_final: s.final ?? true,
    net_mean_kw: s.kw,
    min_kw: s.kw,
    max_kw: s.kw,
    p95_kw: s.kw,
    import_kwh: Math.max(0, s.kw) / 4,
    export_kwh: Math.max(0, -s.kw) / 4,
    q_mean_kvar: s.q === undefined ? 0 : s.q,
    legs: [{ leg: 1, v_min: vMin, v_mean: (vMin + vMax) / 2, v_max: vMax }],
    meters_reporting: s.reporting ?? 40,
    meters_connected: s.connected ?? 40,
    readings: 600,
    ami_coverage_pct: 100,
    data_quality: 'ami_direct',
    // Fields envelopes carry once imputation exists; harmless before.
    ...{ imputed_kw: 0, imputed_meters: 0, profile_source: 'measured' },
  } as DtEnvelope;
}

const weather = (ts: number, ambientC: number, station = 'ws-1'): StressInput => ({
  type: 'weather',
  observation: { station_id: station, ts, ambient_c: ambientC, received_at: ts + 1000 },
});

class Run {
  state: StressState = initialStressState();
  outputs: StressOutput[] = [];
  constructor(readonly config: StressConfig = DEFAULT_STRESS_CONFIG) {}

  feed(...inputs: StressInput[]): StressOutput[] {
    const out: StressOutput[] = [];
    for (const input of inputs) {
      const step = stepStress(this.state, input, this.config);
      this.state = step.state;
      out.push(...step.outputs);
    }
    this.outputs.push(...out);
    return out;
  }

  /**
   * Slots [from, from + n) of one DT on station ws-1: for each slot, the station's observation at its start,
   * then the previous slot's envelope (whose weather is then complete), as the pipeline would deliver them.
   */
  days(
    dtId: string,
    from: number,
    n: number,
    spec: (slot: number) => SlotSpec,
    ambient: (slot: number) => number,
  ) {
    for (let i = 0; i < n; i++) {
      const slot = from + i * SLOT_MS;
      this.feed(weather(slot, ambient(slot)), weather(slot + 7.5 * 60_000, ambient(slot)));
      if (i > 0)
        this.feed({ type: 'envelope', envelope: envelope(dtId, slot - SLOT_MS, spec(slot - SLOT_MS)) });
    }
    const last = from + (n - 1) * SLOT_MS;
    this.feed(weather(last + SLOT_MS, ambient(last)));
    this.feed({ type: 'envelope', envelope: envelope(dtId, last, spec(last)) });
  }

  stress(dtId?: string): DtStress[] {
    return this.outputs.flatMap((o) =>
      o.type === 'stress' && (!dtId || o.row.dt_id === dtId) ? [o.row] : [],
    );
  }

  envelopes(dtId?: string): DtOperatingEnvelope[] {
    return this.outputs.flatMap((o) =>
      o.type === 'operating-envelope' && (!dtId || o.row.dt_id === dtId) ? [o.row] : [],
    );
  }
}

/** Hour of the day (UTC) of a slot. */
const hourOf = (slot: number) => ((slot - T0) % 86_400_000) / 3_600_000;
/** A residential day: low at night, an evening peak at 19:00, scaled to `peak` kW. */
const residential = (peak: number) => (slot: number) => {
  const h = hourOf(slot);
  return peak * (0.3 + 0.2 * Math.exp(-(((h - 8) / 1.5) ** 2)) + 0.7 * Math.exp(-(((h - 19) / 2) ** 2)));
};
/** Ambient: a daily cycle between `low` at 05:00 and `high` at 15:00. */
const daily = (low: number, high: number) => (slot: number) =>
  low + ((high - low) * (1 - Math.cos((2 * Math.PI * (hourOf(slot) - 5)) / 24))) / 2;

describe('stress processor', () => {
  it('a DT loaded far below its rating: stress probabilities near 0 and large headroom', () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-1', 400) });
    const load = residential(80); // K at most 0.2
    run.days(
      'dt-1',
      T0,
      7 * DAY_SLOTS,
      (s) => ({ kw: load(s), q: 0.3 * load(s), vMin: 236 - 0.04 * load(s), vMax: 240 - 0.02 * load(s) }),
      daily(22, 32),
    );
    const rows = run.stress('dt-1').filter((r) => r.slot_start >= T0 + 2 * 86_400_000);
    expect(rows.length).toBe(5 * DAY_SLOTS);
    for (const r of rows) {
      expect(r.forecast_lead_slots).toBe(1);
      expect(r.thermal_stress_prob!).toBeLessThan(1e-4);
      expect(r.voltage_stress_prob!).toBeLessThan(0.01);
      expect(r.thermal_exceeded).toBe(false);
      expect(r.load_factor).toBeLessThan(0.25);
    }
    // The last issue covers the next day. Used in every slot at once (the oil heating all day), the envelope
    // still takes most of the rating on top of the load; a single slot, up to the load-factor limit.
    const last = run
      .envelopes('dt-1')
      .filter((e) => e.issued_at === rows[rows.length - 1]!.slot_start + SLOT_MS);
    expect(last.length).toBe(DAY_SLOTS);
    for (const e of last) {
      expect(e.thermal_stress_prob).toBeLessThan(1e-4);
      expect(e.import_kw).toBeGreaterThan(0.85 * 400);
      expect(e.export_kw).toBeGreaterThan(0.85 * 400);
      expect(e.import_slot_kw).toBeGreaterThan(1.2 * 400);
      // Export is held by the voltage rise first (240 V at the top, 253 V the band's edge): still the rating.
      expect(e.export_limited_by).toBe('voltage');
    }
  });

  it('a DT above its cyclic limit on hot days: stress probability near 1 at the peak and no import headroom', () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-2', 50) });
    const load = residential(85); // K 1.7 at 19:00: over the cyclic limit of 1.5
    run.days('dt-2', T0, 6 * DAY_SLOTS, (s) => ({ kw: load(s), q: 0.2 * load(s) }), daily(30, 41));
    const peak = run
      .stress('dt-2')
      .filter(
        (r) =>
          r.slot_start >= T0 + 3 * 86_400_000 && hourOf(r.slot_start) >= 18.5 && hourOf(r.slot_start) < 19.5,
      );
    expect(peak.length).toBe(3 * 4);
    for (const r of peak) {
      expect(r.thermal_exceeded).toBe(true);
      expect(r.load_factor).toBeGreaterThan(1.5);
      expect(r.thermal_stress_prob!).toBeGreaterThan(0.95);
    }
    // Issued at 17:00 on the last day: the evening slots have no import headroom, the hot spot over its limit.
    const issued = T0 + 5 * 86_400_000 + 17 * 3_600_000;
    const evening = run
      .envelopes('dt-2')
      .filter((e) => e.issued_at === issued && hourOf(e.slot_start) >= 18.5 && hourOf(e.slot_start) < 19.5);
    expect(evening.length).toBe(4);
    for (const e of evening) {
      expect(e.import_kw).toBe(0);
      expect(e.import_slot_kw).toBe(0);
      expect(e.thermal_stress_prob).toBeGreaterThan(0.95);
      expect(e.hot_spot_c).toBeGreaterThan(DEFAULT_STRESS_CONFIG.limits.hotSpotC);
    }
  });

  it('starts a DT in the steady state of its first slot and carries the thermal state from slot to slot', () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-3', 100, null) });
    const loads = [40, 40, 120, 120, 120, 120, 120, 120, 120, 120, 10, 10];
    for (const [i, kw] of loads.entries())
      run.feed({ type: 'envelope', envelope: envelope('dt-3', T0 + i * SLOT_MS, { kw, q: 0 }) });
    const rows = run.stress('dt-3');
    expect(rows.map((r) => r.state_initialised)).toEqual(loads.map((_, i) => i === 0));
    // The same model stepped by hand, from the steady state of the first slot, at the default ambient.
    const model = new ThermalModel(COOLING_SETS['distribution-ONAN']);
    const states = new ThermalStates(1);
    model.initSteady(states, 0, 0.4, 25);
    for (const [i, kw] of loads.entries()) {
      model.stepSlot(states, 0, kw / 100, 25);
      expect(rows[i]!.ambient_source).toBe('default');
      expect(rows[i]!.top_oil_c).toBeCloseTo(states.topOilC(0), 9);
      expect(rows[i]!.hot_spot_c).toBeCloseTo(states.hotSpotC(0), 9);
      expect(rows[i]!.loss_of_life_min).toBeCloseTo(states.lossOfLifeMin(0), 9);
    }
    // After two light slots the oil is still far above the light load's steady state: it remembers.
    expect(rows[11]!.top_oil_c).toBeGreaterThan(model.steadyTopOilC(0.1, 25) + 15);
    expect(rows[0]!.top_oil_c).toBeCloseTo(model.steadyTopOilC(0.4, 25), 9);
    // Ageing: the mean rate over a slot is its loss of life over 15 minutes.
    expect(rows[5]!.ageing_rate * 15).toBeCloseTo(rows[5]!.loss_of_life_min - rows[4]!.loss_of_life_min, 9);
  });

  it("waits for its station's weather, then uses the slot mean; carries the last observation or the default when none comes", () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-w', 100) });
    expect(run.feed({ type: 'envelope', envelope: envelope('dt-w', T0, { kw: 30 }) })).toEqual([]);
    expect(run.feed(weather(T0 + 60_000, 30), weather(T0 + 14 * 60_000, 32))).toEqual([]);
    const released = run.feed(weather(T0 + SLOT_MS, 50));
    // The stress row and the operating envelope of the next 24 hours issued after it.
    expect(released.map((o) => o.type)).toEqual(['stress', ...new Array(96).fill('operating-envelope')]);
    expect(run.stress()[0]).toMatchObject({ ambient_c: 31, ambient_source: 'observed' });

    // The station falls silent: the next slot waits until another station's weather is a slot past its end
    // (event time of the weather, not when it was read), then carries 50 °C. Envelopes alone do not release
    // it while the weather feed is alive.
    run.feed({ type: 'envelope', envelope: envelope('dt-w', T0 + 2 * SLOT_MS, { kw: 30 }) });
    run.feed({ type: 'emit', watermark: T0 + 4 * SLOT_MS });
    expect(run.stress()).toHaveLength(1);
    run.feed(weather(T0 + 4 * SLOT_MS - 60_000, 20, 'ws-2'));
    expect(run.stress()).toHaveLength(1);
    run.feed(weather(T0 + 4 * SLOT_MS, 20, 'ws-2'));
    expect(run.stress()[1]).toMatchObject({
      slot_start: T0 + 2 * SLOT_MS,
      ambient_c: 50,
      ambient_source: 'carried',
    });
    // The whole weather feed stops: a slot goes on once stream time is weatherOutageMs past its end.
    run.feed({ type: 'envelope', envelope: envelope('dt-w', T0 + 5 * SLOT_MS, { kw: 30 }) });
    const outage = T0 + 6 * SLOT_MS + DEFAULT_STRESS_CONFIG.weatherOutageMs;
    run.feed({ type: 'emit', watermark: outage - 1 });
    expect(run.stress()).toHaveLength(2);
    run.feed({ type: 'emit', watermark: outage });
    expect(run.stress()[2]).toMatchObject({ slot_start: T0 + 5 * SLOT_MS, ambient_source: 'carried' });

    // A DT without a station is processed at once at the default ambient.
    run.feed({ type: 'transformer', transformer: transformer('dt-x', 100, null) });
    run.feed({ type: 'envelope', envelope: envelope('dt-x', T0, { kw: 30 }) });
    expect(run.stress('dt-x')[0]).toMatchObject({ ambient_c: 25, ambient_source: 'default' });
  });

  it('waits for the nameplate; ignores provisional envelopes; reports revisions and old slots as skipped', () => {
    const run = new Run();
    run.feed({ type: 'envelope', envelope: envelope('dt-n', T0, { kw: 30 }) });
    expect(run.stress()).toEqual([]);
    run.feed({ type: 'transformer', transformer: transformer('dt-n', 100, null) });
    expect(run.stress()).toHaveLength(1);
    expect(
      run.feed({ type: 'envelope', envelope: envelope('dt-n', T0 + SLOT_MS, { kw: 30, final: false }) }),
    ).toEqual([]);
    run.feed({ type: 'envelope', envelope: envelope('dt-n', T0 + 2 * SLOT_MS, { kw: 30 }) });
    const skipped = [
      ...run.feed({
        type: 'envelope',
        envelope: envelope('dt-n', T0 + 2 * SLOT_MS, { kw: 35, version: 1e15 }),
      }),
      ...run.feed({ type: 'envelope', envelope: envelope('dt-n', T0 + SLOT_MS, { kw: 35 }) }),
    ];
    expect(skipped).toEqual([
      expect.objectContaining({
        type: 'skipped',
        slot_start: T0 + 2 * SLOT_MS,
        reason: expect.stringMatching(/revision/),
      }),
      expect.objectContaining({
        type: 'skipped',
        slot_start: T0 + SLOT_MS,
        reason: expect.stringMatching(/before the last/),
      }),
    ]);
    expect(run.stress().map((r) => r.slot_start)).toEqual([T0, T0 + 2 * SLOT_MS]);
  });

  it('bridges a short gap at the forecast load and restarts the state after a long one, keeping the loss of life', () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-g', 100, null) });
    run.feed({ type: 'envelope', envelope: envelope('dt-g', T0, { kw: 90 }) });
    run.feed({ type: 'envelope', envelope: envelope('dt-g', T0 + 5 * SLOT_MS, { kw: 90 }) });
    const later = T0 + 5 * SLOT_MS + (DAY_SLOTS + 2) * SLOT_MS;
    run.feed({ type: 'envelope', envelope: envelope('dt-g', later, { kw: 20 }) });
    const [first, bridged, restarted] = run.stress('dt-g');
    expect(bridged!.state_initialised).toBe(false);
    // Four missing slots at the forecast (the last load, 90 kW) leave the state where 90 kW throughout would.
    const model = new ThermalModel(COOLING_SETS['distribution-ONAN']);
    const states = new ThermalStates(1);
    model.initSteady(states, 0, 0.9, 25);
    for (let i = 0; i < 6; i++) model.stepSlot(states, 0, 0.9, 25);
    expect(bridged!.top_oil_c).toBeCloseTo(states.topOilC(0), 6);
    expect(restarted!.state_initialised).toBe(true);
    expect(restarted!.top_oil_c).toBeCloseTo(model.steadyTopOilC(0.2, 25), 9);
    expect(restarted!.loss_of_life_min).toBeGreaterThan(bridged!.loss_of_life_min);
    expect(first!.forecast_lead_slots).toBe(0);
    expect(first!.thermal_stress_prob).toBeNull();
  });

  it('resumes after a restart from the last stored row: the history replayed silently, then the rows of an uninterrupted run', () => {
    // Three days of one DT, as the pipeline delivers them: the station's observations, then the envelope.
    const inputs: StressInput[] = [{ type: 'transformer', transformer: transformer('dt-r', 100) }];
    const load = residential(85);
    const ambient = daily(18, 32);
    const n = 3 * DAY_SLOTS;
    let cutAt = 0;
    const cutSlot = T0 + (2 * DAY_SLOTS + 40) * SLOT_MS;
    for (let i = 0; i < n; i++) {
      const slot = T0 + i * SLOT_MS;
      inputs.push(weather(slot, ambient(slot)), weather(slot + 7.5 * 60_000, ambient(slot)));
      if (i > 0) {
        inputs.push({
          type: 'envelope',
          envelope: envelope('dt-r', slot - SLOT_MS, { kw: load(slot - SLOT_MS) }),
        });
        if (slot - SLOT_MS === cutSlot) cutAt = inputs.length;
      }
    }
    const whole = new Run();
    whole.feed(...inputs);
    const stored = whole.stress('dt-r').find((r) => r.slot_start === cutSlot)!;
    expect(stored.loss_of_life_min).toBeGreaterThan(0);

    // A restarted processor: the nameplate, the stored row, the history up to it (the warehouse's
    // envelopes and weather), then the log from there on.
    const restarted = new Run();
    const replayed = restarted.feed(inputs[0]!, { type: 'resume', row: stored }, ...inputs.slice(1, cutAt));
    expect(replayed.filter((o) => o.type !== 'skipped')).toEqual([]);
    restarted.feed(...inputs.slice(cutAt));
    const after = whole.stress('dt-r').filter((r) => r.slot_start > cutSlot);
    expect(after.length).toBeGreaterThan(10);
    expect(restarted.stress('dt-r')).toEqual(after);
    expect(restarted.envelopes('dt-r')).toEqual(
      whole.envelopes('dt-r').filter((r) => r.issued_at > cutSlot + SLOT_MS),
    );

    // Without any history, the thermal state and the loss of life still continue from the row.
    const bare = new Run();
    // (with the next slot's first observations, which came before the stored slot's envelope)
    bare.feed(
      inputs[0]!,
      { type: 'resume', row: stored },
      ...inputs.slice(cutAt - 3, cutAt - 1),
      ...inputs.slice(cutAt),
    );
    const [next] = bare.stress('dt-r');
    expect(next!.slot_start).toBe(cutSlot + SLOT_MS);
    expect(next!.state_initialised).toBe(false);
    expect(next!.top_oil_c).toBeCloseTo(after[0]!.top_oil_c, 9);
    expect(next!.loss_of_life_min).toBeCloseTo(after[0]!.loss_of_life_min, 9);
  });

  it("gives each slot the probabilities forecast for it after the slot before (lead 1), as the envelope's next slot", () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-p', 60) });
    // The evening peak takes the hot spot to about its limit, more so on the hotter days.
    const ambient = (s: number) => daily(27, 36)(s) + Math.floor((s - T0) / 86_400_000);
    run.days('dt-p', T0, 4 * DAY_SLOTS, (s) => ({ kw: residential(80)(s) }), ambient);
    const envelopes = new Map(
      run
        .envelopes('dt-p')
        .filter((e) => e.lead_slots === 1)
        .map((e) => [e.slot_start, e]),
    );
    const rows = run.stress('dt-p').slice(1);
    for (const r of rows) {
      const e = envelopes.get(r.slot_start)!;
      expect(r.forecast_lead_slots).toBe(1);
      expect(r.thermal_stress_prob).toBe(e.thermal_stress_prob);
      expect(r.voltage_stress_prob).toBe(e.voltage_stress_prob);
    }
    // Mid-range probabilities exist (the peak nears the limits on the hotter days).
    expect(rows.some((r) => r.thermal_stress_prob! > 0.05 && r.thermal_stress_prob! < 0.95)).toBe(true);
  });

  it('with envelopes every 4 slots: 96-slot issues hourly, and still a next-slot forecast for every slot', () => {
    const run = new Run({ ...DEFAULT_STRESS_CONFIG, envelopeEverySlots: 4 });
    run.feed({ type: 'transformer', transformer: transformer('dt-h', 100, null) });
    for (let i = 0; i < 12; i++)
      run.feed({ type: 'envelope', envelope: envelope('dt-h', T0 + i * SLOT_MS, { kw: 50 }) });
    expect(new Set(run.envelopes().map((e) => e.issued_at)).size).toBe(3);
    expect(run.envelopes()).toHaveLength(3 * 96);
    expect(
      run
        .stress()
        .slice(1)
        .every((r) => r.forecast_lead_slots === 1),
    ).toBe(true);
  });

  it('learns the voltage sensitivity from slot-to-slot changes of load and voltage', () => {
    const run = new Run();
    run.feed({ type: 'transformer', transformer: transformer('dt-v', 200, null) });
    // 0.2 V per kW, about six times the prior for a 200 kVA DT (0.0575 V/kW).
    const load = residential(150);
    for (let i = 0; i < 4 * DAY_SLOTS; i++) {
      const slot = T0 + i * SLOT_MS;
      const kw = load(slot) * (1 + 0.2 * Math.sin(i * 1.7));
      const v = 240 - 0.2 * kw;
      run.feed({ type: 'envelope', envelope: envelope('dt-v', slot, { kw, vMin: v - 2, vMax: v + 2 }) });
    }
    const last = run.envelopes('dt-v').at(-1)!;
    expect(last.voltage_sensitivity_v_per_kw).toBeGreaterThan(0.18);
    expect(last.voltage_sensitivity_v_per_kw).toBeLessThan(0.21);
  });
});

describe('slot load from an envelope', () => {
  it('scales for meters not reporting, adds the within-slot spread, and assumes a power factor without Q', () => {
    const base = envelope('dt', T0, { kw: 30, q: 10, reporting: 30, connected: 40 });
    const scaled = slotLoad(base, 0.95);
    expect(scaled.p).toBeCloseTo(40, 12);
    expect(scaled.q).toBeCloseTo(40 / 3, 12);
    expect(scaled.w).toBe(0);
    expect(scaled.s).toBeCloseTo(Math.hypot(40, 40 / 3), 12);
    const spread = slotLoad({ ...base, min_kw: 20, max_kw: 20 + 3.472 * 2, meters_reporting: 40 }, 0.95);
    expect(spread.w).toBeCloseTo(4, 9);
    expect(spread.s).toBeCloseTo(Math.sqrt(30 * 30 + 4 + 100), 9);
    const noQ = slotLoad({ ...base, q_mean_kvar: null, meters_reporting: 40 }, 0.8);
    expect(noQ.q).toBeCloseTo(30 * 0.75, 9);
    // An envelope that imputed the missing meters already includes them.
    const imputed = { ...base, imputed_meters: 10, profile_source: 'imputed' } as DtEnvelope;
    expect(slotLoad(imputed, 0.95).p).toBe(30);
  });
});

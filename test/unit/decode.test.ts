import { describe, expect, it } from 'vitest';
import { decodeMessage, type MeterLookup } from '../../ingest/decode.js';

const NOW = Date.UTC(2026, 6, 1, 12, 0, 0);
const meters: MeterLookup = { dtOf: (id) => (id === 'mtr-1' ? 'dt-1' : undefined) };
const telemetry = (meter = 'mtr-1') => `gridstream/v1/meters/${meter}/telemetry`;
const good = {
  ts: '2026-07-01T10:15:03Z',
  p_kw: 1.42,
  q_kvar: 0.31,
  legs: [{ leg: 1, v: 231.4, i: 6.2 }],
  e_imp_kwh: 5120.4,
  e_exp_kwh: 88.1,
};
const decode = (topic: string, payload: unknown) =>
  decodeMessage(
    topic,
    Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    NOW,
    meters,
  );

describe('MQTT decoding', () => {
  it('accepts the contract example and keys it by the DT from the topology', () => {
    const out = decode(telemetry(), good);
    expect(out.deadLetters).toEqual([]);
    expect(out.readings).toEqual([
      {
        meter_id: 'mtr-1',
        dt_id: 'dt-1',
        ts: Date.UTC(2026, 6, 1, 10, 15, 3),
        p_kw: 1.42,
        q_kvar: 0.31,
        legs: [{ leg: 1, v: 231.4, i: 6.2 }],
        e_imp_kwh: 5120.4,
        e_exp_kwh: 88.1,
        received_at: NOW,
      },
    ]);
  });

  it('accepts meter legs 0 and 4 to 6 besides the phases 1 to 3', () => {
    const legs = [0, 1, 2, 3, 4, 5, 6].map((leg) => ({ leg, v: 230 + leg, i: 1 }));
    const out = decode(telemetry(), { ...good, legs });
    expect(out.deadLetters).toEqual([]);
    expect(out.readings[0]!.legs).toEqual(legs);
  });

  it('accepts epoch-millisecond timestamps and absent optional fields', () => {
    const out = decode(telemetry(), { ts: Date.UTC(2026, 6, 1, 10), p_kw: -2.5, legs: [] });
    expect(out.readings[0]).toMatchObject({
      ts: Date.UTC(2026, 6, 1, 10),
      p_kw: -2.5,
      q_kvar: null,
      e_imp_kwh: null,
    });
  });

  it('accepts an array and dead-letters only its bad elements, naming index and field', () => {
    const out = decode(telemetry(), [
      good,
      { ...good, p_kw: 'high' },
      { ...good, ts: '2026-07-01T10:16:03Z' },
    ]);
    expect(out.readings).toHaveLength(2);
    expect(out.deadLetters).toHaveLength(1);
    expect(out.deadLetters[0]!.reason_code).toBe('schema');
    expect(out.deadLetters[0]!.reason).toMatch(/^\[1\] p_kw: expected double/);
    expect(JSON.parse(out.deadLetters[0]!.raw.toString()).p_kw).toBe('high');
  });

  it('dead-letters invalid JSON with the exact raw bytes', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x00]);
    const out = decodeMessage(telemetry(), raw, NOW, meters);
    expect(out.deadLetters).toHaveLength(1);
    expect(out.deadLetters[0]).toMatchObject({
      reason_code: 'invalid_json',
      key: 'mtr-1',
      source_topic: telemetry(),
    });
    expect(out.deadLetters[0]!.raw.equals(raw)).toBe(true);
  });

  it('names the nested field that fails', () => {
    const out = decode(telemetry(), { ...good, legs: [{ leg: 1, v: 'x', i: 1 }] });
    expect(out.deadLetters[0]!.reason).toMatch(/legs\[0\]\.v: expected double, got "x"/);
  });

  it.each([
    [{ ...good, ts: '2026-07-01 10:15:03' }, /ts: not an ISO-8601 UTC timestamp/],
    [{ ...good, ts: '2026-07-01T13:15:03Z' }, /ts: .* ahead of the receive time/],
    [{ ...good, ts: 12 }, /ts: .* before 2000/],
    [{ ...good, p_kw: 1e9 }, /p_kw: .* outside/],
    [{ ...good, legs: [{ leg: 7, v: 230, i: 1 }] }, /legs\[0\]\.leg: 7 is not a leg number 0 to 6/],
    [{ ...good, legs: [{ leg: -1, v: 230, i: 1 }] }, /legs\[0\]\.leg: -1 is not a leg number 0 to 6/],
    [{ ...good, legs: [{ leg: 1, v: -5, i: 1 }] }, /legs\[0\]\.v: -5 V/],
    [
      {
        ...good,
        legs: [
          { leg: 1, v: 230, i: 1 },
          { leg: 1, v: 230, i: 1 },
        ],
      },
      /legs\[1\]\.leg: leg 1 appears twice/,
    ],
    [{ ...good, e_imp_kwh: -1 }, /e_imp_kwh/],
    [{ p_kw: 1 }, /ts: expected/],
    [42, /expected a JSON object, got number/],
  ])('rejects %j with a reason naming the field', (payload, reason) => {
    const out = decode(telemetry(), payload);
    expect(out.readings).toEqual([]);
    expect(out.deadLetters).toHaveLength(1);
    expect(out.deadLetters[0]!.reason).toMatch(reason);
  });

  it('parks a reading from a meter not in the topology', () => {
    const out = decode(telemetry('mtr-unknown'), good);
    expect(out.readings).toEqual([]);
    expect(out.deadLetters[0]).toMatchObject({ reason_code: 'unknown_meter', key: 'mtr-unknown' });
    expect(JSON.parse(out.deadLetters[0]!.raw.toString())).toEqual(good);
  });

  it('dead-letters a topic outside the contract and an oversized payload', () => {
    expect(decode('gridstream/v2/meters/mtr-1/telemetry', good).deadLetters[0]!.reason_code).toBe(
      'bad_topic',
    );
    const big = decodeMessage(telemetry(), Buffer.alloc(300 * 1024, 0x20), NOW, meters);
    expect(big.deadLetters[0]!.reason_code).toBe('too_large');
  });

  it('decodes weather observations and checks the range', () => {
    const out = decode('gridstream/v1/weather/ws-1', { ts: '2026-07-01T10:00:00Z', ambient_c: 31.5 });
    expect(out.weather).toEqual([
      { station_id: 'ws-1', ts: Date.UTC(2026, 6, 1, 10), ambient_c: 31.5, received_at: NOW },
    ]);
    expect(
      decode('gridstream/v1/weather/ws-1', { ts: '2026-07-01T10:00:00Z', ambient_c: 300 }).deadLetters[0]!
        .reason,
    ).toMatch(/ambient_c/);
  });

  it("decodes a dispatch command shaped like a battery platform's command and checks it against its topic", () => {
    const command = {
      event_id: 'A7A26FF2-E851-45B6-9634-D595F45458B7',
      source: 'flex-platform',
      asset_id: 'bess-7',
      dispatch_time: '2026-07-01T10:00:00Z',
      delivery_period_start: '2026-07-01T10:15:00Z',
      target_power: { amount: '0.250', unit: 'MW' },
      nominal_power: { amount: 0.5, unit: 'MW' },
    };
    const out = decode('gridstream/v1/dispatch/bess-7', command);
    expect(out.deadLetters).toEqual([]);
    expect(out.dispatches[0]).toMatchObject({
      event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
      asset_id: 'bess-7',
      delivery_period_start: Date.UTC(2026, 6, 1, 10, 15),
      target_power: { amount: '0.250', unit: 'MW' },
      nominal_power: { amount: '0.5', unit: 'MW' },
    });
    expect(decode('gridstream/v1/dispatch/other', command).deadLetters[0]!.reason).toMatch(/asset_id/);
    expect(
      decode('gridstream/v1/dispatch/bess-7', { ...command, target_power: { amount: '1', unit: 'GW' } })
        .deadLetters[0]!.reason,
    ).toMatch(/target_power\.unit/);
  });

  it('accepts a state-of-charge imbalance in Wh, kWh or MWh, keeping the exact decimal and the unit sent', () => {
    const command = {
      event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
      asset_id: 'bess-7',
      dispatch_time: '2026-07-01T10:00:00Z',
      delivery_period_start: '2026-07-01T10:15:00Z',
      target_power: { amount: '-1.250', unit: 'MW' },
      power_imbalance: { amount: '0.1', unit: 'MW' },
    };
    for (const [amount, unit] of [
      ['0.3750', 'MWh'],
      ['375.0', 'kWh'],
      ['375000', 'Wh'],
      ['0.5', 'MW'], // as earlier senders gave it
    ]) {
      const out = decode('gridstream/v1/dispatch/bess-7', { ...command, soc_imbalance: { amount, unit } });
      expect(out.deadLetters).toEqual([]);
      expect(out.dispatches[0]).toMatchObject({
        target_power: { amount: '-1.250', unit: 'MW' },
        soc_imbalance: { amount, unit },
      });
    }
    // Power stays power: an energy unit there is dead-lettered, naming the field and the units it takes.
    const wrong = decode('gridstream/v1/dispatch/bess-7', {
      ...command,
      target_power: { amount: '1', unit: 'MWh' },
    });
    expect(wrong.dispatches).toEqual([]);
    expect(wrong.deadLetters[0]!.reason).toMatch(/target_power\.unit: "MWh" is not W, kW or MW/);
  });

  it("decodes a cancel with only event_id, asset_id and dispatch_time: a zero target, the dispatch time's period", () => {
    const cancel = {
      event_id: 'A7A26FF2-E851-45B6-9634-D595F45458B7',
      asset_id: 'bess-7',
      dispatch_time: '2026-07-01T10:07:30Z',
      action: 'cancel',
    };
    const out = decode('gridstream/v1/dispatch/bess-7', cancel);
    expect(out.deadLetters).toEqual([]);
    expect(out.dispatches).toEqual([
      {
        event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
        source: null,
        published_at: null,
        asset_id: 'bess-7',
        dispatch_time: Date.UTC(2026, 6, 1, 10, 7, 30),
        delivery_period_start: Date.UTC(2026, 6, 1, 10, 0),
        target_power: { amount: '0', unit: 'kW' },
        nominal_power: null,
        power_imbalance: null,
        soc_imbalance: null,
        received_at: NOW,
        action: 'cancel',
      },
    ]);
    // A target given with a cancel is not what it asks: it is dropped; a delivery period given is kept.
    expect(
      decode('gridstream/v1/dispatch/bess-7', {
        ...cancel,
        delivery_period_start: '2026-07-01T10:15:00Z',
        target_power: { amount: '5', unit: 'MW' },
      }).dispatches[0],
    ).toMatchObject({
      delivery_period_start: Date.UTC(2026, 6, 1, 10, 15),
      target_power: { amount: '0', unit: 'kW' },
    });
  });

  it('takes a command without action as a dispatch, which still needs its target and delivery period', () => {
    const dispatch = {
      event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
      asset_id: 'bess-7',
      dispatch_time: '2026-07-01T10:00:00Z',
      delivery_period_start: '2026-07-01T10:15:00Z',
      target_power: { amount: '250', unit: 'kW' },
    };
    expect(decode('gridstream/v1/dispatch/bess-7', dispatch).dispatches[0]!.action).toBe('dispatch');
    expect(
      decode('gridstream/v1/dispatch/bess-7', { ...dispatch, action: 'dispatch' }).dispatches[0]!.action,
    ).toBe('dispatch');
    const { target_power: _target, ...untargeted } = dispatch;
    const { delivery_period_start: _period, ...unperiodic } = dispatch;
    for (const [payload, reason] of [
      [untargeted, /target_power: required for a dispatch/],
      [unperiodic, /delivery_period_start: required for a dispatch/],
      [{ ...dispatch, action: 'pause' }, /action: "pause" is not dispatch or cancel/],
    ] as const) {
      const out = decode('gridstream/v1/dispatch/bess-7', payload);
      expect(out.dispatches).toEqual([]);
      expect(out.deadLetters[0]!.reason).toMatch(reason);
    }
  });
});

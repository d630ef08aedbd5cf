import { describe, expect, it } from 'vitest';
import {
  checkDispatch,
  deliverySlot,
  powerKw,
  type DispatchContext,
  type EnvelopeInForce,
} from '../../processors/flexibility/dispatch-check.js';
import {
  emptyLimits,
  networkSources,
  periodLimitsOf,
  type LimitValues,
  type SourceLimits,
} from '../../processors/flexibility/period-limits.js';
import type { DispatchCommand } from '../../schemas/types.gen.js';

const command = (amount: string, unit: 'W' | 'kW' | 'MW'): DispatchCommand => ({
  event_id: 'e-1',
  source: null,
  published_at: null,
  asset_id: 'bess-1',
  dispatch_time: Date.UTC(2026, 6, 1, 10, 0),
  delivery_period_start: Date.UTC(2026, 6, 1, 10, 20),
  target_power: { amount, unit },
  nominal_power: null,
  power_imbalance: null,
  soc_imbalance: null,
  received_at: Date.UTC(2026, 6, 1, 10, 0, 1),
  action: 'dispatch',
});

const envelope: EnvelopeInForce = {
  issuedAt: Date.UTC(2026, 6, 1, 9, 45),
  importKw: 1000,
  exportKw: 800,
  importLimitedBy: 'hot_spot',
  exportLimitedBy: 'voltage',
  dataQuality: 'ami-direct',
};

const SLOT = Date.UTC(2026, 6, 1, 10, 15);

/** A stored source's limits of the delivery slot. */
const stored = (source: SourceLimits['source'], over: Partial<LimitValues>): SourceLimits => ({
  assetId: 'bess-1',
  startMs: SLOT,
  endMs: SLOT + 900_000,
  source,
  values: { ...emptyLimits(), ...over },
  createdMs: 0,
  updatedMs: 0,
});

/**
 * What the task looks up for bess-1 behind `dt` (null: unplaced): `share` of the envelope's headroom as NETWORK (none without an
 * envelope), plus the stored sources given.
 */
const context = (
  share: number | undefined,
  env: EnvelopeInForce | undefined,
  sources: SourceLimits[] = [],
  dt: string | null = 'dt-a',
): DispatchContext => {
  const dtId = dt ?? undefined;
  const network =
    env && share !== undefined && dtId !== undefined
      ? networkSources(
          'bess-1',
          { dtId, share, basis: 'nominal_kw', envelopeIssuedAt: env.issuedAt },
          [{ slotStart: SLOT, importKw: env.importKw, exportKw: env.exportKw }],
          SLOT,
          SLOT + 900_000,
        )
      : [];
  const [period] = periodLimitsOf([...sources, ...network]);
  return { dtId, envelope: env, share: dtId === undefined ? undefined : share, period };
};

describe('dispatch check', () => {
  it('converts W, kW and MW amounts to kW', () => {
    expect(powerKw({ amount: '-1.250', unit: 'MW' })).toBe(-1250);
    expect(powerKw({ amount: '500', unit: 'kW' })).toBe(500);
    expect(powerKw({ amount: '2500', unit: 'W' })).toBe(2.5);
  });

  it('checks the quarter hour the delivery period starts in', () => {
    expect(deliverySlot(command('1', 'kW'))).toBe(SLOT);
  });

  it("judges injection against the asset's export limit and withdrawal against its import limit (the sole asset: the whole envelope)", () => {
    const within = checkDispatch(command('0.8', 'MW'), context(1, envelope), 7);
    expect(within).toEqual({
      event_id: 'e-1',
      asset_id: 'bess-1',
      dispatch_time: Date.UTC(2026, 6, 1, 10, 0),
      delivery_period_start: Date.UTC(2026, 6, 1, 10, 20),
      received_at: Date.UTC(2026, 6, 1, 10, 0, 1),
      verdict: 'within',
      requested_kw: 800,
      limit_kw: 800,
      limit_source: 'NETWORK',
      network_share: 1,
      headroom_kw: 800,
      limited_by: 'voltage',
      dt_id: 'dt-a',
      envelope_issued_at: envelope.issuedAt,
      data_quality: 'ami-direct',
      checked_at: 7,
    });
    expect(checkDispatch(command('0.81', 'MW'), context(1, envelope), 7).verdict).toBe('exceeds');
    const charging = checkDispatch(command('-1.250', 'MW'), context(1, envelope), 7);
    expect(charging).toMatchObject({
      verdict: 'exceeds',
      requested_kw: -1250,
      limit_kw: -1000,
      limit_source: 'NETWORK',
      headroom_kw: 1000,
      limited_by: 'hot_spot',
    });
    expect(checkDispatch(command('-999', 'kW'), context(1, envelope), 7).verdict).toBe('within');
  });

  it("rejects a dispatch within the DT's whole headroom but beyond the asset's share of it", () => {
    // A quarter of 800 kW of export headroom: 200 kW.
    const check = checkDispatch(command('300', 'kW'), context(0.25, envelope), 7);
    expect(check).toMatchObject({
      verdict: 'exceeds',
      limit_kw: 200,
      limit_source: 'NETWORK',
      network_share: 0.25,
      headroom_kw: 800,
    });
    expect(checkDispatch(command('200', 'kW'), context(0.25, envelope), 7).verdict).toBe('within');
  });

  it('judges against the most restrictive source and names it', () => {
    const sources = [
      stored('REPORTED', { powerDischargeKw: 500, powerChargeKw: -900 }),
      stored('OPERATIONS', { powerDischargeKw: 150 }),
    ];
    // Export: OPERATIONS' 150 kW is below REPORTED's 500 and NETWORK's 800.
    expect(checkDispatch(command('160', 'kW'), context(1, envelope, sources), 7)).toMatchObject({
      verdict: 'exceeds',
      limit_kw: 150,
      limit_source: 'OPERATIONS',
    });
    expect(checkDispatch(command('150', 'kW'), context(1, envelope, sources), 7)).toMatchObject({
      verdict: 'within',
      limit_source: 'OPERATIONS',
    });
    // Import: REPORTED's -900 kW is closer to 0 than NETWORK's -1,000.
    expect(checkDispatch(command('-950', 'kW'), context(1, envelope, sources), 7)).toMatchObject({
      verdict: 'exceeds',
      limit_kw: -900,
      limit_source: 'REPORTED',
    });
  });

  it('rejects any dispatch in a locked period as locked, naming the source that locks', () => {
    const sources = [stored('CUSTOMER', { tradingLocked: true })];
    expect(checkDispatch(command('1', 'kW'), context(1, envelope, sources), 7)).toMatchObject({
      verdict: 'locked',
      limit_kw: null,
      limit_source: 'CUSTOMER',
    });
    // An explicit unlock is no lock.
    const unlocked = [stored('CUSTOMER', { tradingLocked: false })];
    expect(checkDispatch(command('1', 'kW'), context(1, envelope, unlocked), 7).verdict).toBe('within');
  });

  it('without NETWORK, says why (unknown asset, no envelope) unless a stored source rejects the dispatch', () => {
    expect(checkDispatch(command('1', 'kW'), context(undefined, undefined, [], null), 7)).toMatchObject({
      verdict: 'unknown_asset',
      dt_id: null,
      headroom_kw: null,
      limit_kw: null,
      limit_source: null,
      network_share: null,
    });
    expect(checkDispatch(command('1', 'kW'), context(0.5, undefined), 7)).toMatchObject({
      verdict: 'no_envelope',
      dt_id: 'dt-a',
      envelope_issued_at: null,
      network_share: 0.5,
      limit_kw: null,
    });
    const sources = [stored('AVAILABILITY', { powerDischargeKw: 50 })];
    expect(checkDispatch(command('40', 'kW'), context(0.5, undefined, sources), 7)).toMatchObject({
      verdict: 'no_envelope',
      limit_kw: 50,
      limit_source: 'AVAILABILITY',
    });
    expect(checkDispatch(command('60', 'kW'), context(0.5, undefined, sources), 7)).toMatchObject({
      verdict: 'exceeds',
      limit_source: 'AVAILABILITY',
    });
    expect(checkDispatch(command('60', 'kW'), context(undefined, undefined, sources, null), 7)).toMatchObject(
      { verdict: 'exceeds', dt_id: null, limit_source: 'AVAILABILITY' },
    );
  });

  it('allows an asset nothing in a direction where its DT is already over the limit', () => {
    const over: EnvelopeInForce = { ...envelope, exportKw: -50 };
    expect(checkDispatch(command('0.001', 'kW'), context(1, over), 7)).toMatchObject({
      verdict: 'exceeds',
      limit_kw: 0,
      headroom_kw: -50,
    });
    expect(checkDispatch(command('0', 'kW'), context(1, over), 7).verdict).toBe('within');
  });
});

import { describe, expect, it } from 'vitest';
import {
  checkDispatch,
  deliverySlot,
  powerKw,
  type EnvelopeInForce,
} from '../../processors/flexibility/dispatch-check.js';
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

describe('dispatch check', () => {
  it('converts W, kW and MW amounts to kW', () => {
    expect(powerKw({ amount: '-1.250', unit: 'MW' })).toBe(-1250);
    expect(powerKw({ amount: '500', unit: 'kW' })).toBe(500);
    expect(powerKw({ amount: '2500', unit: 'W' })).toBe(2.5);
  });

  it('checks the quarter hour the delivery period starts in', () => {
    expect(deliverySlot(command('1', 'kW'))).toBe(Date.UTC(2026, 6, 1, 10, 15));
  });

  it('judges injection against the export headroom and withdrawal against the import headroom', () => {
    const within = checkDispatch(command('0.8', 'MW'), 'dt-a', envelope, 7);
    expect(within).toMatchObject({
      verdict: 'within',
      requested_kw: 800,
      headroom_kw: 800,
      limited_by: 'voltage',
      dt_id: 'dt-a',
      envelope_issued_at: envelope.issuedAt,
      data_quality: 'ami-direct',
      checked_at: 7,
    });
    expect(checkDispatch(command('0.81', 'MW'), 'dt-a', envelope, 7).verdict).toBe('exceeds');
    const charging = checkDispatch(command('-1.250', 'MW'), 'dt-a', envelope, 7);
    expect(charging).toMatchObject({
      verdict: 'exceeds',
      requested_kw: -1250,
      headroom_kw: 1000,
      limited_by: 'hot_spot',
    });
    expect(checkDispatch(command('-999', 'kW'), 'dt-a', envelope, 7).verdict).toBe('within');
  });

  it('says when the asset is not placed or no envelope covers the slot', () => {
    expect(checkDispatch(command('1', 'kW'), undefined, envelope, 7)).toMatchObject({
      verdict: 'unknown_asset',
      dt_id: null,
      headroom_kw: null,
    });
    expect(checkDispatch(command('1', 'kW'), 'dt-a', undefined, 7)).toMatchObject({
      verdict: 'no_envelope',
      dt_id: 'dt-a',
      envelope_issued_at: null,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { compareFleet, fleetRank } from '../../api/routes/fleet.js';
import type { FleetEnvelopeStressRow, FleetStressNewestRow } from '../../io/warehouse/queries.gen.js';

const issue = (thermal: number, voltage: number | null): FleetEnvelopeStressRow => ({
  dt_id: 'x',
  issued_at_ms: 0,
  thermal_stress_prob: thermal,
  voltage_stress_prob: voltage,
  peak_slot_ms: 0,
});
const stress = (loss: number): FleetStressNewestRow => ({
  dt_id: 'x',
  last_slot_ms: 0,
  load_factor: 0.5,
  net_kw: 1,
  loss_of_life_min: loss,
});

describe('the fleet ranking', () => {
  it('ranks by the higher stress probability, then loss of life, nulls last, then dt_id', () => {
    const ranks = [
      fleetRank('dt-e', undefined, undefined),
      fleetRank('dt-d', stress(5), undefined),
      fleetRank('dt-c', stress(1), issue(0.2, null)),
      fleetRank('dt-b', stress(9), issue(0.2, 0.1)),
      fleetRank('dt-a', undefined, issue(0.1, 0.7)),
      fleetRank('dt-f', stress(Number.NaN), issue(0.2, Number.NaN)),
      fleetRank('dt-0', undefined, undefined),
    ];
    expect(ranks.find((r) => r.dt_id === 'dt-a')!.stress_prob).toBe(0.7);
    expect(ranks.find((r) => r.dt_id === 'dt-f')).toEqual({
      dt_id: 'dt-f',
      stress_prob: 0.2,
      loss_of_life_min: null,
    });
    // JSON carries neither: an infinite value ranks as none.
    expect(fleetRank('dt-g', stress(Number.POSITIVE_INFINITY), issue(0.3, Number.NEGATIVE_INFINITY))).toEqual(
      {
        dt_id: 'dt-g',
        stress_prob: 0.3,
        loss_of_life_min: null,
      },
    );
    expect(ranks.sort(compareFleet).map((r) => r.dt_id)).toEqual([
      'dt-a',
      'dt-b',
      'dt-c',
      'dt-f',
      'dt-d',
      'dt-0',
      'dt-e',
    ]);
  });
});

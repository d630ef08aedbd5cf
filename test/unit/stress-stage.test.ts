import { describe, expect, it } from 'vitest';

import { SLOT_MS } from '../../core/time.js';
import { interleave } from '../../pipelines/stress-stage.js';
import type { DtEnvelope, WeatherObservation } from '../../schemas/types.gen.js';
import { sampleEnvelope } from '../support/records.js';

const T0 = Date.UTC(2026, 6, 1);
const envelope = (dt: string, slot: number): DtEnvelope => ({
  ...sampleEnvelope,
  dt_id: dt,
  slot_start: slot,
});
const observation = (ts: number): WeatherObservation => ({
  station_id: 'ws-1',
  ts,
  ambient_c: 20,
  received_at: ts,
});

describe('interleave (the restore order of the stress stage)', () => {
  it('puts each observation before the envelope of the slot it falls in or ends, the rest after the last', () => {
    const inputs = interleave(
      [envelope('dt-b', T0 + SLOT_MS), envelope('dt-a', T0), envelope('dt-a', T0 + SLOT_MS)],
      [
        observation(T0),
        observation(T0 + SLOT_MS),
        observation(T0 + SLOT_MS + 60_000),
        observation(T0 + 3 * SLOT_MS),
      ],
    );
    const order = inputs.map((i) =>
      i.type === 'envelope'
        ? `${i.envelope.dt_id}@${(i.envelope.slot_start - T0) / SLOT_MS}`
        : i.type === 'weather'
          ? `w${(i.observation.ts - T0) / 60_000}`
          : i.type,
    );
    expect(order).toEqual(['w0', 'w15', 'dt-a@0', 'w16', 'dt-b@1', 'dt-a@1', 'w45']);
  });
});

import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
  type EnvelopeState,
} from '../../processors/load-envelope/load-envelope.js';
import type { MeterReading } from '../../schemas/types.gen.js';

/** A single-leg reading at 230 V, received a little after it was taken, as from a real meter. */
export function meterReading(
  meter_id: string,
  dt_id: string,
  ts: number,
  p_kw: number,
  extra: Partial<MeterReading> = {},
): MeterReading {
  return {
    meter_id,
    dt_id,
    ts,
    p_kw,
    q_kvar: null,
    legs: [{ leg: 1, v: 230, i: Math.abs(p_kw) * 4 }],
    e_imp_kwh: null,
    e_exp_kwh: null,
    received_at: ts + 2_000,
    ...extra,
  };
}

/** Feeds inputs through the envelope processor from `state`, collecting all outputs. */
export function runEnvelope(
  config: EnvelopeConfig,
  inputs: EnvelopeInput[],
  state: EnvelopeState = initialEnvelopeState(),
): { state: EnvelopeState; outputs: EnvelopeOutput[] } {
  const outputs: EnvelopeOutput[] = [];
  for (const input of inputs) {
    const step = stepEnvelope(state, input, config);
    state = step.state;
    outputs.push(...step.outputs);
  }
  return { state, outputs };
}

import type { MeterReading } from '../schemas/types.gen.js';
import type { TelemetryReading } from './model.js';

/**
 * A simulated meter's reading as ingest puts it on the log: the meter's DT from the topology, the time as
 * epoch milliseconds, and the message's send time as the receive time. For tests, benchmarks and commands
 * that run processors over a simulation without the pipeline.
 */
export function meterReadingOf(
  reading: TelemetryReading,
  meterId: string,
  dtId: string,
  receivedAt: number,
): MeterReading {
  return {
    meter_id: meterId,
    dt_id: dtId,
    ts: Date.parse(reading.ts),
    p_kw: reading.p_kw,
    q_kvar: reading.q_kvar,
    legs: reading.legs,
    e_imp_kwh: reading.e_imp_kwh,
    e_exp_kwh: reading.e_exp_kwh,
    received_at: receivedAt,
  };
}

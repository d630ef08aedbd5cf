import type { PowerAmount } from '../../schemas/types.gen.js';

const KW_PER_UNIT: Partial<Record<PowerAmount['unit'], number>> = { W: 0.001, kW: 1, MW: 1000 };

/**
 * A power amount in kW (the decimal string read as a float: the checks need no exact decimals). An energy unit
 * (which ingest admits only for the state-of-charge imbalance) is an error.
 */
export function powerKw(power: PowerAmount): number {
  const factor = KW_PER_UNIT[power.unit];
  if (factor === undefined) throw new Error(`${power.unit} is not a unit of power`);
  return Number(power.amount) * factor;
}

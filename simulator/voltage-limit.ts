import { PowerFlowSolver } from './power-flow.js';
import { phaseNetwork, type Simulation } from './model.js';

/**
 * The power flow's own voltage limit of extra load: the extra kW at a point of a DT's LV network (its busbar,
 * spread evenly over the three phases, or a meter, split over its legs as its own load is; unity power
 * factor) at which the first of the DT's customers leaves the statutory band, by bisection on the AC power
 * flow (simulator/power-flow.ts) at given customer loads. The ground truth a location-aware headroom is
 * checked against.
 */
export interface VoltageLimitCase {
  dtIndex: number;
  /** Each meter's load (by meter index; the DT's meters are read), kW and kvar. */
  pKw: ArrayLike<number>;
  qKvar: ArrayLike<number>;
  /** The DT's source voltage (tap × MV supply), V. */
  sourceV: number;
  /** UTC day the service-drop impedances are taken on. */
  utcDay: number;
  /** Where the extra goes: 'busbar' or a meter index. */
  at: 'busbar' | number;
  /** +1 extra import, −1 extra export. */
  sign: 1 | -1;
  vLow: number;
  vHigh: number;
}

export function powerFlowLimitKw(sim: Simulation, c: VoltageLimitCase): number {
  const dt = sim.transformers[c.dtIndex]!;
  const meters = sim.meters;
  const legNode = new Int32Array(meters.length * 3);
  const phases = [1, 2, 3].map((ph) => {
    const net = phaseNetwork(dt, meters, ph, legNode);
    const n = net.parent.length;
    return {
      solver: new PowerFlowSolver(net),
      p: new Float64Array(n),
      q: new Float64Array(n),
      leaves: [] as number[],
    };
  });
  for (const i of dt.meterIndices) {
    const m = meters[i]!;
    for (let l = 0; l < m.legs; l++) {
      const ph = phases[m.phases[l]! - 1]!;
      const node = legNode[i * 3 + l]!;
      ph.solver.network.r[node] = sim.impedanceMohm(i, l + 1, c.utcDay) / 1000;
      ph.leaves.push(node);
    }
  }
  const inBand = (extraKw: number): boolean => {
    for (const ph of phases) {
      ph.p.fill(0);
      ph.q.fill(0);
    }
    for (const i of dt.meterIndices) {
      const m = meters[i]!;
      const extra = c.at === i ? c.sign * extraKw : 0;
      for (let l = 0; l < m.legs; l++) {
        const ph = phases[m.phases[l]! - 1]!;
        const node = legNode[i * 3 + l]!;
        ph.p[node] = ((c.pKw[i]! + extra) * 1000) / m.legs;
        ph.q[node] = (c.qKvar[i]! * 1000) / m.legs;
      }
    }
    if (c.at === 'busbar') for (const ph of phases) ph.p[1] = (c.sign * extraKw * 1000) / 3;
    for (const ph of phases) {
      ph.solver.solve(c.sourceV, ph.p, ph.q);
      for (const node of ph.leaves) {
        const v = ph.solver.magnitude(node);
        if (v < c.vLow || v > c.vHigh) return false;
      }
    }
    return true;
  };
  if (!inBand(0)) return 0;
  let low = 0;
  let high = 1;
  while (inBand(high)) {
    low = high;
    high *= 2;
    if (high > 1e5) return Number.POSITIVE_INFINITY;
  }
  while (high - low > 1e-3) {
    const mid = 0.5 * (low + high);
    if (inBand(mid)) low = mid;
    else high = mid;
  }
  return low;
}

import { describe, expect, it } from 'vitest';

import { PowerFlowError, PowerFlowSolver, radialNetwork, solveRadial } from '../../simulator/power-flow.js';

describe('backward/forward sweep of a radial network', () => {
  it('solves a two-bus case as its closed form', () => {
    // Source 230 V, branch 0.1 + j0.05 Ω, load 2.3 kW + j0.9 kvar. |V|² is the larger root of
    // u² − (V0² − 2(RP + XQ))·u + |Z|²|S|² = 0.
    const [r, x, p, q, v0] = [0.1, 0.05, 2300, 900, 230];
    const b = v0 * v0 - 2 * (r * p + x * q);
    const u = (b + Math.sqrt(b * b - 4 * (r * r + x * x) * (p * p + q * q))) / 2;
    const v = solveRadial(radialNetwork([-1, 0], [0, r], [0, x]), v0, [0, p], [0, q], { toleranceV: 1e-10 });
    expect(v[0]).toBe(230);
    expect(v[1]).toBeCloseTo(Math.sqrt(u), 9); // 228.798 V
    expect(Math.sqrt(u)).toBeCloseTo(228.798, 3);
  });

  it('solves a three-bus chain by hand: the same current through both branches', () => {
    // 240 V source, 0.1 Ω to bus 1 (no load), 0.1 Ω to bus 2 (4.8 kW at unity power factor):
    // V2 = (240 + √(240² − 4·0.2·4800)) / 2 = 235.931 V; I = 4800 / V2 = 20.345 A; V1 = 240 − 0.1·I = 237.9655 V.
    const v = solveRadial(radialNetwork([-1, 0, 1], [0, 0.1, 0.1], [0, 0, 0]), 240, [0, 0, 4800], [0, 0, 0], {
      toleranceV: 1e-10,
    });
    const v2 = (240 + Math.sqrt(240 * 240 - 4 * 0.2 * 4800)) / 2;
    expect(v[2]).toBeCloseTo(v2, 9);
    expect(v[2]).toBeCloseTo(235.931, 3);
    expect(v[1]).toBeCloseTo(240 - (0.1 * 4800) / v2, 9);
    expect(v[1]).toBeCloseTo(237.9655, 4);
  });

  it("meets Kirchhoff's laws on a branched feeder, and the voltage depends on where the load sits", () => {
    // Busbar 1 behind the DT; a feeder 1 → 2 → 3 → 4 and a branch 2 → 5.
    const net = radialNetwork(
      [-1, 0, 1, 2, 3, 2],
      [0, 0.03, 0.016, 0.016, 0.016, 0.02],
      [0, 0.045, 0.003, 0.003, 0.003, 0.0],
    );
    const solver = new PowerFlowSolver(net);
    const p = [0, 0, 1000, 0, 7400, 3000];
    const q = [0, 0, 300, 0, 370, -200];
    const { re, im } = solver.solve(235, p, q);
    // Each node's load current is conj(S/V); each branch current is its subtree's; V_i = V_parent − Z_i·J_i.
    const jr = new Float64Array(6);
    const ji = new Float64Array(6);
    for (let i = 5; i >= 1; i--) {
      const m2 = re[i]! ** 2 + im[i]! ** 2;
      jr[i] = jr[i]! + (p[i]! * re[i]! + q[i]! * im[i]!) / m2;
      ji[i] = ji[i]! + (p[i]! * im[i]! - q[i]! * re[i]!) / m2;
      const up = net.parent[i]!;
      if (up > 0) {
        jr[up] = jr[up]! + jr[i]!;
        ji[up] = ji[up]! + ji[i]!;
      }
    }
    for (let i = 1; i <= 5; i++) {
      const up = net.parent[i]!;
      expect(re[i]).toBeCloseTo(re[up]! - (net.r[i]! * jr[i]! - net.x[i]! * ji[i]!), 5);
      expect(im[i]).toBeCloseTo(im[up]! - (net.r[i]! * ji[i]! + net.x[i]! * jr[i]!), 5);
    }
    // The same 7.4 kW at the feeder end drops the end further than at the busbar's first pole.
    const atEnd = solveRadial(
      net,
      235,
      [0, 0, 0, 0, 7400, 0],
      q.map(() => 0),
    );
    const nearBus = solveRadial(
      net,
      235,
      [0, 0, 7400, 0, 0, 0],
      q.map(() => 0),
    );
    expect(235 - atEnd[4]!).toBeGreaterThan(1.7 * (235 - nearBus[4]!));
    // Export raises the voltage above the source's.
    const exporting = solveRadial(
      net,
      235,
      [0, 0, 0, 0, -5000, 0],
      q.map(() => 0),
    );
    expect(exporting[4]).toBeGreaterThan(235);
  });

  it('refuses a network out of topological order', () => {
    expect(() => radialNetwork([-1, 2, 0], [0, 1, 1], [0, 0, 0])).toThrow(PowerFlowError);
  });

  it('solves a load beyond what its branch can carry as a constant impedance below 0.8 pu', () => {
    // 20 kW behind 1 Ω from 230 V has no constant-power solution (the limit is 230² / 4 = 13.2 kW); as an
    // impedance of (0.8·230)² / 20 kW = 1.69 Ω it sees 230 · 1.69 / 2.69 = 144.6 V.
    const v = solveRadial(radialNetwork([-1, 0], [0, 1], [0, 0]), 230, [0, 20_000], [0, 0]);
    const z = (0.8 * 230) ** 2 / 20_000;
    expect(v[1]).toBeCloseTo((230 * z) / (1 + z), 5);
  });

  it("converges near a branch's transfer limit, where the plain sweep oscillates (damped after 30 sweeps)", () => {
    // A 7.4 kW charger and the house behind a 3 Ω corroded joint: found oscillating in a simulated run.
    const net = radialNetwork([-1, 0], [0, 3], [0, 0]);
    const v = solveRadial(net, 239.6, [0, 10_149], [0, 1191]);
    // The solution satisfies V = V0 − Z·conj(S / max(|V|, 0.8·V0)²·V) (constant impedance below 0.8 pu).
    const z = (0.8 * 239.6) ** 2;
    const g = { re: 10_149 / z, im: -1191 / z }; // conj(S) / floor²
    const vv = 239.6 / Math.hypot(1 + 3 * g.re, 3 * g.im);
    expect(v[1]).toBeCloseTo(vv, 4);
  });
});

/**
 * AC power flow of a radial network by the backward/forward sweep: pure numerics, no I/O.
 *
 * The network is one phase of a DT's LV side: node 0 is the source (the DT's no-load secondary voltage, a
 * fixed phasor at angle 0); every other node i hangs from `parent[i]` (< i, so the nodes are in topological
 * order) through a branch of impedance r[i] + j·x[i] ohm. Loads are constant power, p[i] + j·q[i] watts and
 * vars at node i (import positive; export negative). Below `floorPu` of the source voltage (default 0.8) a
 * load draws as a constant impedance instead (its power falling with V², as OpenDSS's loads do below their
 * Vminpu): a load beyond what its branch can carry (a 7.4 kW charger behind a corroded 3 Ω joint) then has a
 * solution, a deep sag, instead of none.
 *
 * Iteration: from a flat start (every node at the source voltage),
 * - backward: each node's load current I_i = conj(S_i / V_i); each branch carries its node's current plus its
 *   children's, summed from the leaves towards the source;
 * - forward: V_i = V_parent − Z_i·J_i from the source outwards;
 * until no node voltage moves by more than `toleranceV`. On LV feeders it converges in 3–5 sweeps; after 30,
 * the updates are damped (halved), for the rare load near its branch's transfer limit.
 */

export interface RadialNetwork {
  /** Parent of each node (−1 for node 0, the source); parent[i] < i. */
  parent: Int32Array;
  /** Branch resistance and reactance from the parent to each node, ohm (node 0: unused). */
  r: Float64Array;
  x: Float64Array;
}

export interface PowerFlowResult {
  /** Real and imaginary parts of every node's voltage, V. */
  re: Float64Array;
  im: Float64Array;
  iterations: number;
}

export interface PowerFlowOptions {
  toleranceV?: number;
  maxIterations?: number;
  /** Below this share of the source voltage loads are constant impedance (default 0.8). */
  floorPu?: number;
}

/**
 * Sweeps after which each voltage update is halved (damped): near a branch's transfer limit (a charger behind a
 * badly corroded joint) the plain sweep oscillates; damped, it converges while the loop gain is below 3.
 */
const DAMP_AFTER = 30;

export class PowerFlowError extends Error {
  override readonly name = 'PowerFlowError';
}

export function radialNetwork(
  parent: readonly number[],
  r: readonly number[],
  x: readonly number[],
): RadialNetwork {
  const n = parent.length;
  if (r.length !== n || x.length !== n)
    throw new PowerFlowError('parent, r and x must have one entry per node');
  if (n === 0 || parent[0] !== -1) throw new PowerFlowError('node 0 must be the source (parent −1)');
  for (let i = 1; i < n; i++)
    if (!(parent[i]! >= 0 && parent[i]! < i))
      throw new PowerFlowError(`node ${i}: its parent must be an earlier node (got ${parent[i]})`);
  return { parent: Int32Array.from(parent), r: Float64Array.from(r), x: Float64Array.from(x) };
}

/** Scratch arrays for repeated solves of one network (the simulator solves every minute). */
export class PowerFlowSolver {
  readonly result: PowerFlowResult;
  private readonly jRe: Float64Array;
  private readonly jIm: Float64Array;

  constructor(readonly network: RadialNetwork) {
    const n = network.parent.length;
    this.result = { re: new Float64Array(n), im: new Float64Array(n), iterations: 0 };
    this.jRe = new Float64Array(n);
    this.jIm = new Float64Array(n);
  }

  /**
   * Solves for the node voltages with the source at `sourceV` (angle 0) and the loads p, q (W, var) per node.
   * With `warm`, starts from the previous solution (the next minute's loads are close to this one's).
   */
  solve(
    sourceV: number,
    p: ArrayLike<number>,
    q: ArrayLike<number>,
    options: PowerFlowOptions & { warm?: boolean } = {},
  ): PowerFlowResult {
    const { parent, r, x } = this.network;
    const n = parent.length;
    const tol = options.toleranceV ?? 1e-6;
    const max = options.maxIterations ?? 500;
    const floor = (options.floorPu ?? 0.8) * sourceV;
    const floor2 = floor * floor;
    const { re, im } = this.result;
    const jRe = this.jRe;
    const jIm = this.jIm;
    if (!options.warm || this.result.iterations === 0) {
      re.fill(sourceV);
      im.fill(0);
    }
    re[0] = sourceV;
    im[0] = 0;
    for (let it = 1; it <= max; it++) {
      // Backward: load currents, then branch currents from the leaves up.
      for (let i = n - 1; i >= 1; i--) {
        const vr = re[i]!;
        const vi = im[i]!;
        const m2 = Math.max(vr * vr + vi * vi, floor2);
        // I = conj(S / V) = (P − jQ) / conj(V) = (P − jQ)(vr + j·vi) / |V|²
        const pi = p[i] ?? 0;
        const qi = q[i] ?? 0;
        jRe[i] = (pi * vr + qi * vi) / m2;
        jIm[i] = (pi * vi - qi * vr) / m2;
      }
      for (let i = n - 1; i >= 1; i--) {
        const up = parent[i]!;
        if (up > 0) {
          jRe[up] = jRe[up]! + jRe[i]!;
          jIm[up] = jIm[up]! + jIm[i]!;
        }
      }
      // Forward: voltages from the source out.
      let moved = 0;
      for (let i = 1; i < n; i++) {
        const up = parent[i]!;
        let nr = re[up]! - (r[i]! * jRe[i]! - x[i]! * jIm[i]!);
        let ni = im[up]! - (r[i]! * jIm[i]! + x[i]! * jRe[i]!);
        if (it > DAMP_AFTER) {
          nr = 0.5 * (nr + re[i]!);
          ni = 0.5 * (ni + im[i]!);
        }
        moved = Math.max(moved, Math.abs(nr - re[i]!), Math.abs(ni - im[i]!));
        re[i] = nr;
        im[i] = ni;
      }
      if (!(moved === moved)) break; // NaN: diverged (a load beyond the network's transfer limit)
      if (moved < tol) {
        this.result.iterations = it;
        return this.result;
      }
    }
    this.result.iterations = 0;
    throw new PowerFlowError(`the sweep did not converge (source ${sourceV} V, ${n} nodes)`);
  }

  /** Voltage magnitude of node i in the last solution, V. */
  magnitude(i: number): number {
    return Math.hypot(this.result.re[i]!, this.result.im[i]!);
  }
}

/** One solve without keeping the scratch: voltage magnitudes of every node. */
export function solveRadial(
  network: RadialNetwork,
  sourceV: number,
  p: ArrayLike<number>,
  q: ArrayLike<number>,
  options?: PowerFlowOptions,
): Float64Array {
  const solver = new PowerFlowSolver(network);
  const { re, im } = solver.solve(sourceV, p, q, options);
  return re.map((v, i) => Math.hypot(v, im[i]!));
}

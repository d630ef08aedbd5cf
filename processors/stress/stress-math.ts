/**
 * Small numerical helpers of the stress processor: the standard normal distribution and Student's t with 4
 * degrees of freedom. Pure functions, no allocation.
 */

/**
 * Complementary error function, |relative error| < 1.2e-7 everywhere (Numerical Recipes `erfcc`, a Chebyshev
 * fit): enough for probabilities, whose own uncertainty is far larger.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2);
}

/** Upper tail 1 − Φ(x), accurate in the tail (no cancellation). */
export function normalSf(x: number): number {
  return 0.5 * erfc(x * Math.SQRT1_2);
}

/** Standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * Student's t with 4 degrees of freedom, scaled to unit variance (t/√2): the forecast errors of load and
 * voltage are heavy-tailed (an EV starting, a cluster of air conditioners), with a narrower centre and
 * fatter tails than the normal of the same variance (kurtosis 5 to 6 in the simulator's lead-1 errors; this
 * one's is 9). Closed form: with t = z·√2 and u = t/√(4 + t²), F = 1/2 + 3u/4 − u³/4.
 */
export function t4Cdf(z: number): number {
  return z >= 0 ? 1 - t4Sf(z) : t4Sf(-z);
}

/** Upper tail of the unit-variance t₄: (1 − u)²(2 + u)/4, with 1 − u computed without cancellation. */
export function t4Sf(z: number): number {
  if (z < 0) return 1 - t4Sf(-z);
  const t = z * Math.SQRT2;
  const r = Math.sqrt(4 + t * t);
  const oneMinusU = 4 / (r * (r + t));
  return 0.25 * oneMinusU * oneMinusU * (3 - oneMinusU);
}

/** Quantile of the unit-variance t₄ (Newton on the closed-form CDF), 0 < p < 1. */
export function t4Quantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`t4Quantile: p must be in (0, 1), got ${p}`);
  if (p < 0.5) return -t4Quantile(1 - p);
  let z = normalQuantile(p);
  for (let i = 0; i < 50; i++) {
    const t = z * Math.SQRT2;
    // Density of the unit-variance t₄: √2 · (3/8)(1 + t²/4)^(−5/2).
    const density = Math.SQRT2 * 0.375 * Math.pow(1 + (t * t) / 4, -2.5);
    const step = (t4Cdf(z) - p) / density;
    z -= step;
    if (Math.abs(step) < 1e-12) break;
  }
  return z;
}

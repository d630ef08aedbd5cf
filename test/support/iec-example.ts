/**
 * The published temperatures of IEC 60076-7:2005 Annex C's worked example (test/fixtures/thermal/README.md):
 * minute, top oil and hot spot, °C, at the start and at the end of each load step, as transcribed in
 * alliander-opensource/transformer-thermal-model (tests/model/test_model.py, test_if_rise_matches_iec).
 */
export const IEC_EXAMPLE_PUBLISHED: readonly (readonly [
  minute: number,
  topOilC: number,
  hotSpotC: number,
])[] = [
  [0, 38.3, 38.3],
  [190, 61.9, 83.8],
  [365, 44.4, 54.0],
  [500, 89.2, 127.0],
  [705, 35.0, 37.5],
  [730, 67.9, 138.6],
  [745, 60.3, 75.3],
];

/**
 * How close the model comes to the published figure at a minute, K: 0.1, but 1.1 at 500 min, where the table
 * is 0.6 / 1.05 K below the standard's own equations (test/unit/thermal.test.ts checks that point in closed form).
 */
export const iecExampleTolerance = (minute: number): number => (minute === 500 ? 1.1 : 0.1);

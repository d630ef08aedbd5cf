import { parse as parseCsv } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ageingRateNormal,
  ageingRateUpgraded,
  COOLING_SETS,
  ThermalModel,
  ThermalStates,
} from '../../processors/thermal/thermal.js';
import {
  OUTPUT_HEADER,
  parseThermalProfile,
  parseThermalSpec,
  runThermalProfile,
  thermalCsv,
  ThermalInputError,
  type ThermalSpec,
} from '../../processors/thermal/thermal-input.js';
import { IEC_EXAMPLE_PUBLISHED, iecExampleTolerance } from '../support/iec-example.js';

const FULL = {
  top_oil_rise_k: 50,
  hot_spot_gradient_k: 20,
  loss_ratio: 6,
  oil_exponent_x: 0.8,
  winding_exponent_y: 1.3,
  k11: 0.5,
  k21: 2,
  k22: 2,
  tau_oil_min: 150,
  tau_winding_min: 7,
  initial_top_oil_c: 35,
};

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ThermalInputError);
    return (error as ThermalInputError).problems;
  }
  throw new Error('expected the input to be refused');
}

const specProblems = (value: unknown) => problems(() => parseThermalSpec(JSON.stringify(value), 'spec.json'));
const profileProblems = (text: string) => problems(() => parseThermalProfile(text, 'profile.csv'));

describe('thermal spec', () => {
  it('reads every field, with normal paper and the hot spot at the top oil by default', () => {
    const spec = parseThermalSpec(JSON.stringify(FULL), 'spec.json');
    const { initial_top_oil_c: _, ...constants } = FULL;
    expect(spec).toEqual({
      constants,
      paper: 'normal',
      cooling: null,
      initial_top_oil_c: 35,
      initial_hot_spot_c: 35,
    });
    const upgraded = parseThermalSpec(
      JSON.stringify({ ...FULL, paper: 'upgraded', initial_hot_spot_c: 50 }),
      'spec.json',
    );
    expect(upgraded.paper).toBe('upgraded');
    expect(upgraded.initial_hot_spot_c).toBe(50);
  });

  it('fills the constants not given from a named cooling set; given ones win', () => {
    const spec = parseThermalSpec(
      JSON.stringify({ cooling: 'distribution-ONAN', top_oil_rise_k: 60, initial_top_oil_c: 20 }),
    );
    expect(spec.cooling).toBe('distribution-ONAN');
    expect(spec.constants).toEqual({ ...COOLING_SETS['distribution-ONAN'], top_oil_rise_k: 60 });
    for (const cooling of ['power-ONAN', 'power-ONAF'] as const)
      expect(parseThermalSpec(JSON.stringify({ cooling, initial_top_oil_c: 20 })).constants).toEqual(
        COOLING_SETS[cooling],
      );
  });

  it('accepts a byte-order mark', () => {
    expect(parseThermalSpec(`\uFEFF${JSON.stringify(FULL)}`).initial_top_oil_c).toBe(35);
  });

  it('names every missing, mistyped, out-of-range and unknown field at once', () => {
    const { k22: _k22, tau_oil_min: _tau, ...partial } = FULL;
    expect(
      specProblems({
        ...partial,
        k11: '0.5',
        k21: 0.8,
        loss_ratio: -2,
        tau_winding_min: null,
        tau_oil: 150,
        paper: 'kraft',
        initial_hot_spot_c: 30,
      }),
    ).toEqual([
      'spec.json: tau_oil: unknown field',
      'spec.json: paper: must be "normal" or "upgraded", got "kraft"',
      'spec.json: loss_ratio: must be >= 0, got -2',
      'spec.json: k11: expected a number, got "0.5"',
      'spec.json: k21: must be >= 1 (1.0: no hot-spot overshoot; power transformers 1.3 to 2.0), got 0.8',
      'spec.json: k22: missing (give it, or "cooling": one of distribution-ONAN, power-ONAN, power-ONAF)',
      'spec.json: tau_oil_min: missing (give it, or "cooling": one of distribution-ONAN, power-ONAN, power-ONAF)',
      'spec.json: tau_winding_min: expected a number, got null',
      'spec.json: initial_hot_spot_c: 30 is below initial_top_oil_c (35); the hot spot is the hottest point',
    ]);
  });

  it('refuses an unknown cooling set, with a hint for the bare class names', () => {
    expect(specProblems({ cooling: 'ONAN', initial_top_oil_c: 20 })).toEqual([
      'spec.json: cooling: must be one of distribution-ONAN, power-ONAN, power-ONAF, got "ONAN" (distribution-ONAN for a distribution transformer, power-ONAN for a medium or large power transformer)',
    ]);
    expect(specProblems({ cooling: 'OFAF', initial_top_oil_c: 20 })[0]).toMatch(/cooling: must be one of/);
  });

  it('needs the initial top oil, as a temperature in °C', () => {
    const { initial_top_oil_c: _, ...rest } = FULL;
    expect(specProblems(rest)).toEqual(['spec.json: initial_top_oil_c: missing']);
    expect(specProblems({ ...FULL, initial_top_oil_c: 308 })).toEqual([
      'spec.json: initial_top_oil_c: must be a temperature from -80 to 250 °C (not kelvin), got 308',
    ]);
  });

  it('refuses what is not a JSON object', () => {
    expect(problems(() => parseThermalSpec('{"k11": 1,', 'spec.json'))[0]).toMatch(/^spec\.json: not JSON/);
    expect(problems(() => parseThermalSpec('[1, 2]', 'spec.json'))).toEqual([
      'spec.json: expected a JSON object of transformer constants',
    ]);
  });
});

describe('thermal profile', () => {
  it('reads the three columns in any order, skipping blank lines, with a BOM and CRLF', () => {
    const profile = parseThermalProfile(
      '\uFEFFambient_c,minute,load_factor\r\n20,0,0.5\r\n\r\n21.5,15,1.25\r\n22,37.5,.8\r\n',
    );
    expect(Array.from(profile.minute)).toEqual([0, 15, 37.5]);
    expect(Array.from(profile.load_factor)).toEqual([0.5, 1.25, 0.8]);
    expect(Array.from(profile.ambient_c)).toEqual([20, 21.5, 22]);
  });

  it('names the line and the field of every bad cell, counting lines as the file does', () => {
    expect(
      profileProblems(
        [
          'minute,load_factor,ambient_c',
          '0,0.5,20',
          '',
          '15,abc,20',
          '15,1.0,20',
          '30,-0.1,20',
          '45,1.0,',
          '60,25,300',
          '1e2,1,20',
        ].join('\n'),
      ),
    ).toEqual([
      'profile.csv line 4: load_factor: expected a number, got "abc"',
      "profile.csv line 5: minute: 15 is not after the previous row's 15",
      'profile.csv line 6: load_factor: must be a per-unit load factor from 0 to 10 (load / rated), got -0.1',
      'profile.csv line 7: ambient_c: expected a number, got ""',
      'profile.csv line 8: load_factor: must be a per-unit load factor from 0 to 10 (load / rated), got 25',
      'profile.csv line 8: ambient_c: must be an air temperature from -80 to 80 °C, got 300',
    ]);
  });

  it('refuses a missing column, an empty profile, and malformed CSV', () => {
    expect(profileProblems('minute,load,ambient_c\n0,1,20\n')).toEqual([
      'profile.csv line 1: missing column load_factor (the header is minute,load_factor,ambient_c)',
    ]);
    expect(profileProblems('')).toEqual([
      'profile.csv line 1: missing columns minute, load_factor, ambient_c (the header is minute,load_factor,ambient_c)',
    ]);
    expect(profileProblems('minute,load_factor,ambient_c\n')).toEqual([
      'profile.csv: no rows after the header (the first row is the initial instant)',
    ]);
    expect(profileProblems('minute,load_factor,ambient_c\n0,1,20\n15,1\n')[0]).toMatch(
      /^profile\.csv: not valid CSV: .*line 3/,
    );
  });
});

describe('thermal run over a profile', () => {
  const spec: ThermalSpec = {
    constants: COOLING_SETS['distribution-ONAN'],
    paper: 'normal',
    cooling: 'distribution-ONAN',
    initial_top_oil_c: 40,
    initial_hot_spot_c: 55,
  };

  it('starts with the initial state, then holds each row’s load and ambient over the interval before it', () => {
    const profile = parseThermalProfile(
      'minute,load_factor,ambient_c\n0,9,-50\n15,1.2,25\n45,0.4,18\n50,1.0,20\n',
    );
    const run = runThermalProfile(spec, profile);
    expect(run.top_oil_c[0]).toBe(40);
    expect(run.hot_spot_c[0]).toBe(55);
    // The same by hand: the first row's load and ambient are not used.
    const model = new ThermalModel(spec.constants);
    const states = new ThermalStates(1);
    model.init(states, 0, 40, 55);
    const expected = [[40, 55]];
    for (const [k, ambient, minutes] of [
      [1.2, 25, 15],
      [0.4, 18, 30],
      [1.0, 20, 5],
    ] as const) {
      model.advance(states, 0, k, ambient, minutes);
      expected.push([states.topOilC(0), states.hotSpotC(0)]);
    }
    expect(Array.from(run.top_oil_c)).toEqual(expected.map((e) => e[0]));
    expect(Array.from(run.hot_spot_c)).toEqual(expected.map((e) => e[1]));
    run.hot_spot_c.forEach((h, r) => expect(run.ageing_rate[r]).toBeCloseTo(ageingRateNormal(h), 12));
    expect(run.loss_of_life_min).toBeCloseTo(states.lossOfLifeMin(0), 12);
  });

  it('gives the same temperatures for a profile at 15 minutes and the same loads at 5 minutes', () => {
    const coarse = ['minute,load_factor,ambient_c', '0,0,20'];
    const fine = ['minute,load_factor,ambient_c', '0,0,20'];
    for (let slot = 1; slot <= 12; slot++) {
      const k = [0.4, 1.3, 0.9, 1.6][slot % 4]!;
      coarse.push(`${slot * 15},${k},${20 + slot}`);
      for (const m of [10, 5, 0]) fine.push(`${slot * 15 - m},${k},${20 + slot}`);
    }
    const a = runThermalProfile(spec, parseThermalProfile(coarse.join('\n')));
    const b = runThermalProfile(spec, parseThermalProfile(fine.join('\n')));
    for (let slot = 0; slot <= 12; slot++) {
      expect(b.top_oil_c[slot * 3]).toBeCloseTo(a.top_oil_c[slot]!, 9);
      expect(b.hot_spot_c[slot * 3]).toBeCloseTo(a.hot_spot_c[slot]!, 9);
    }
    // Loss of life is integrated over sub-steps (here 3.75 and 2.5 minutes long): the same within 0.5%.
    expect(Math.abs(b.loss_of_life_min / a.loss_of_life_min - 1)).toBeLessThan(0.005);
  });

  it('uses the upgraded-paper ageing rate when the spec says so', () => {
    const run = runThermalProfile(
      { ...spec, paper: 'upgraded' },
      parseThermalProfile('minute,load_factor,ambient_c\n0,1,20\n60,1.4,30\n'),
    );
    expect(run.ageing_rate[1]).toBeCloseTo(ageingRateUpgraded(run.hot_spot_c[1]!), 12);
  });

  it('writes CSV that reads back as the run', () => {
    const lines = ['minute,load_factor,ambient_c', '0,0.5,20'];
    for (let m = 1; m <= 10_000; m++) lines.push(`${m * 2},${(m % 96) / 60},${15 + (m % 10)}`);
    const run = runThermalProfile(spec, parseThermalProfile(lines.join('\n')));
    const text = [...thermalCsv(run, 4096)].join('');
    expect(text.startsWith(`${OUTPUT_HEADER}\n`)).toBe(true);
    const rows = parseCsv(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(10_001);
    let minutes = 0;
    let temperature = 0;
    let ageing = 0;
    rows.forEach((row, r) => {
      if (Number(row.minute) === run.minute[r]) minutes++;
      temperature = Math.max(
        temperature,
        Math.abs(Number(row.top_oil_c) - run.top_oil_c[r]!),
        Math.abs(Number(row.hot_spot_c) - run.hot_spot_c[r]!),
      );
      ageing = Math.max(ageing, Math.abs(Number(row.ageing_rate) / run.ageing_rate[r]! - 1));
    });
    expect(minutes).toBe(rows.length);
    expect(temperature).toBeLessThanOrEqual(0.0005); // three decimals
    expect(ageing).toBeLessThan(1e-5); // six significant digits
  });

  it('reproduces the IEC 60076-7 worked example from the fixture files', () => {
    const dir = new URL('../fixtures/thermal/', import.meta.url);
    const run = runThermalProfile(
      parseThermalSpec(readFileSync(new URL('iec-example-spec.json', dir), 'utf8')),
      parseThermalProfile(readFileSync(new URL('iec-example-profile.csv', dir), 'utf8')),
    );
    IEC_EXAMPLE_PUBLISHED.forEach(([minute, topOil, hotSpot], r) => {
      const tolerance = iecExampleTolerance(minute);
      expect(run.minute[r]).toBe(minute);
      expect(Math.abs(run.top_oil_c[r]! - topOil)).toBeLessThan(tolerance);
      expect(Math.abs(run.hot_spot_c[r]! - hotSpot)).toBeLessThan(tolerance);
    });
    expect(run.peak_hot_spot_c).toBeGreaterThanOrEqual(138.6);
    expect(run.peak_minute).toBe(730);
  });
});

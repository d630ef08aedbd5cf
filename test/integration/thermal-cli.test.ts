import { parse as parseCsv } from 'csv-parse/sync';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { COOLING_SETS, ThermalModel, ThermalStates } from '../../processors/thermal/thermal.js';
import { IEC_EXAMPLE_PUBLISHED, iecExampleTolerance } from '../support/iec-example.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gridstream-thermal-'));
const FIXTURES = 'test/fixtures/thermal';

/** Runs `gridstream thermal` from source, as `npx gridstream` runs its build. */
async function thermal(spec: string, profile: string) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/gridstream.ts', 'thermal', '--spec', spec, '--profile', profile],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('gridstream thermal', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reproduces the IEC 60076-7 worked example from the spec and profile files', async () => {
    const { code, stdout, stderr } = await thermal(
      join(FIXTURES, 'iec-example-spec.json'),
      join(FIXTURES, 'iec-example-profile.csv'),
    );
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('minute,top_oil_c,hot_spot_c,ageing_rate');
    const rows = parseCsv(stdout, { columns: true, cast: true }) as Record<string, number>[];
    expect(rows.map((r) => r.minute)).toEqual(IEC_EXAMPLE_PUBLISHED.map((p) => p[0]));
    rows.forEach((row, r) => {
      const [minute, topOil, hotSpot] = IEC_EXAMPLE_PUBLISHED[r]!;
      const tolerance = iecExampleTolerance(minute);
      expect(Math.abs(row.top_oil_c! - topOil)).toBeLessThan(tolerance);
      expect(Math.abs(row.hot_spot_c! - hotSpot)).toBeLessThan(tolerance);
      // Normal paper; the printed hot spot is rounded to 0.001 K.
      expect(row.ageing_rate! / 2 ** ((row.hot_spot_c! - 98) / 6)).toBeCloseTo(1, 3);
    });
    expect(stderr).toMatch(/^loss of life [\d.]+ min \([\d.]+ h\) over 745 min \(normal paper/);
    expect(stderr).toMatch(/peak hot spot 138\.6 °C by minute 730/);
  });

  it('round-trips a day of 15-minute slots: one output row per profile row, as the model computes them', async () => {
    const spec = file(
      'dt.json',
      JSON.stringify({
        cooling: 'distribution-ONAN',
        paper: 'upgraded',
        initial_top_oil_c: 30,
        initial_hot_spot_c: 42,
      }),
    );
    const lines = ['minute,load_factor,ambient_c'];
    const loads: number[] = [];
    for (let slot = 0; slot <= 96; slot++) {
      const k = Number((0.4 + 0.9 * Math.max(0, Math.sin((Math.PI * (slot - 30)) / 60))).toFixed(3));
      loads.push(k);
      lines.push(`${slot * 15},${k},${(18 + 8 * Math.sin((Math.PI * slot) / 96)).toFixed(2)}`);
    }
    const { code, stdout } = await thermal(spec, file('day.csv', `${lines.join('\n')}\n`));
    expect(code).toBe(0);
    const rows = parseCsv(stdout, { columns: true, cast: true }) as Record<string, number>[];
    expect(rows).toHaveLength(97);

    const model = new ThermalModel(COOLING_SETS['distribution-ONAN'], { paper: 'upgraded' });
    const states = new ThermalStates(1);
    model.init(states, 0, 30, 42);
    rows.forEach((row, slot) => {
      if (slot > 0) model.stepSlot(states, 0, loads[slot]!, 18 + 8 * Math.sin((Math.PI * slot) / 96));
      expect(row.minute).toBe(slot * 15);
      expect(row.top_oil_c).toBeCloseTo(states.topOilC(0), 2);
      expect(row.hot_spot_c).toBeCloseTo(states.hotSpotC(0), 2);
      expect(row.ageing_rate! / states.ageingRate(0)).toBeCloseTo(1, 3);
    });
  });

  it('refuses a bad spec naming the fields, and exits non-zero with nothing on stdout', async () => {
    const spec = file(
      'bad.json',
      JSON.stringify({ cooling: 'power-ONAF', k21: 0.5, initial_top_oil_c: 'hot' }),
    );
    const { code, stdout, stderr } = await thermal(spec, join(FIXTURES, 'iec-example-profile.csv'));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^gridstream: invalid thermal spec:/);
    expect(stderr).toMatch(/bad\.json: k21: must be >= 1/);
    expect(stderr).toMatch(/bad\.json: initial_top_oil_c: expected a number, got "hot"/);
  });

  it('refuses a bad profile naming the line and field, and a missing file by its path', async () => {
    const profile = file('bad.csv', 'minute,load_factor,ambient_c\n0,1,20\n15,1.1,20\n10,1.2,x\n');
    const bad = await thermal(join(FIXTURES, 'iec-example-spec.json'), profile);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/bad\.csv line 4: minute: 10 is not after the previous row's 15/);
    expect(bad.stderr).toMatch(/bad\.csv line 4: ambient_c: expected a number, got "x"/);

    const missing = await thermal(join(dir, 'nowhere.json'), profile);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nowhere\.json/);
  });

  it('is listed in gridstream --help', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bin/gridstream.ts', '--help']);
    expect(stdout).toMatch(/^ {2}thermal\b/m);
  });
});

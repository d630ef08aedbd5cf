import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gridstream-cli-'));

/** Runs the gridstream command from source, as `npx gridstream` runs its build. */
async function gridstream(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/gridstream.ts', ...args],
      {
        env: { ...process.env, GRIDSTREAM_DATA_DIR: join(dir, 'data'), ...env },
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gridstream command', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists its subcommands and the configuration variables in --help', async () => {
    const { code, stdout } = await gridstream(['--help']);
    expect(code).toBe(0);
    for (const command of ['demo', 'run', 'topology', 'simulate', 'migrate'])
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(stdout).toMatch(/GRIDSTREAM_CLICKHOUSE_URL/);
  });

  it('loads a topology from CSV into the warehouse as a new version, and a second load is the next version', async () => {
    writeFileSync(
      join(dir, 'transformers.csv'),
      'dt_id,feeder_id,rated_kva,cooling_class,latitude,longitude,weather_station_id,nominal_voltage_v\ndt-1,f-1,250,ONAN,12.9,77.6,ws-1,230\n',
    );
    writeFileSync(
      join(dir, 'meters.csv'),
      'meter_id,meter_number,electronic_serial_number,service_point_id,premise_id,legs,dt_id\nm-1,N1,E1,SP1,P1,1,dt-1\nm-2,N2,E2,SP2,P2,3,dt-1\n',
    );
    const first = await gridstream([
      'topology',
      'load',
      join(dir, 'transformers.csv'),
      join(dir, 'meters.csv'),
    ]);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/topology version 1: 1 transformers, 2 meters/);
    const second = await gridstream(['topology', 'load', join(dir, 'meters.csv')]);
    expect(second.stdout).toMatch(/topology version 2: 0 transformers, 2 meters/);
  });

  it('refuses a bad topology file, naming the line and the field, and exits non-zero', async () => {
    writeFileSync(
      join(dir, 'bad-meters.csv'),
      'meter_id,meter_number,electronic_serial_number,service_point_id,premise_id,legs,dt_id\nm-1,N1,E1,SP1,P1,many,dt-1\n',
    );
    const { code, stderr } = await gridstream(['topology', 'load', join(dir, 'bad-meters.csv')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/bad-meters\.csv line 2: legs: expected int/);
  });

  it('refuses a bad configuration value naming the variable', async () => {
    const { code, stderr } = await gridstream(['migrate'], { GRIDSTREAM_RETENTION_DAYS: '-3' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/GRIDSTREAM_RETENTION_DAYS/);
  });
});

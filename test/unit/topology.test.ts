import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseTopologyCsv,
  parseTopologyJson,
  readTopologyFiles,
  TopologyError,
  TopologyIndex,
  unknownTransformerProblems,
  type MeterRow,
  type TransformerRow,
} from '../../core/topology.js';
import type { TopologyMeter, TopologyTransformer } from '../../schemas/types.gen.js';

const TRANSFORMERS: TransformerRow[] = [
  {
    dt_id: 'DT-1',
    feeder_id: 'F-1, North',
    rated_kva: 250,
    cooling_class: 'ONAN',
    latitude: 52.2053,
    longitude: -0.1218,
    weather_station_id: null,
    nominal_voltage_v: 230,
    top_oil_rise_k: 55,
    hot_spot_gradient_k: null,
    loss_ratio: 5.5,
    tau_oil_min: 180,
    tau_winding_min: null,
    tenant: 'default',
    timezone: null,
  },
  {
    dt_id: 'DT-2',
    feeder_id: 'F-2',
    rated_kva: 100,
    cooling_class: 'ONAF',
    latitude: -33.8688,
    longitude: 151.2093,
    weather_station_id: 'WS-9',
    nominal_voltage_v: 240,
    top_oil_rise_k: null,
    hot_spot_gradient_k: 23,
    loss_ratio: null,
    tau_oil_min: null,
    tau_winding_min: 4,
    tenant: 'default',
    timezone: null,
  },
];

const METERS: MeterRow[] = [
  {
    meter_id: 'M-1',
    meter_number: 'MN-0001',
    electronic_serial_number: 'ESN-A1',
    service_point_id: 'SP-1',
    premise_id: '12 High St, Flat 2',
    legs: 1,
    dt_id: 'DT-1',
  },
  {
    meter_id: 'M-2',
    meter_number: 'MN-0002',
    electronic_serial_number: 'ESN-A2',
    service_point_id: 'SP-2',
    premise_id: '14 High St',
    legs: 3,
    dt_id: 'DT-1',
  },
  {
    meter_id: 'M-3',
    meter_number: 'MN "3"',
    electronic_serial_number: 'ESN-B1',
    service_point_id: 'SP-3',
    premise_id: 'Unit 5',
    legs: 2,
    dt_id: 'DT-2',
  },
];

const TRANSFORMER_HEADER =
  'dt_id,feeder_id,rated_kva,cooling_class,latitude,longitude,weather_station_id,nominal_voltage_v,' +
  'top_oil_rise_k,hot_spot_gradient_k,loss_ratio,tau_oil_min,tau_winding_min';
const METER_HEADER = 'meter_id,meter_number,electronic_serial_number,service_point_id,premise_id,legs,dt_id';

/** The same topology as CSV: a BOM, Windows line ends, quoted fields with commas and quotes, empty nulls. */
const TRANSFORMERS_CSV =
  '\uFEFF' +
  [
    TRANSFORMER_HEADER,
    'DT-1,"F-1, North",250,ONAN,52.2053,-0.1218,,230,55,,5.5,180,',
    'DT-2,F-2,100.0,ONAF,-33.8688,151.2093,WS-9,240,,23,,, 4 ',
  ].join('\r\n') +
  '\r\n';
const METERS_CSV =
  [
    METER_HEADER,
    'M-1,MN-0001,ESN-A1,SP-1,"12 High St, Flat 2",1,DT-1',
    'M-2,MN-0002,ESN-A2,SP-2,14 High St,3,DT-1',
    'M-3,"MN ""3""",ESN-B1,SP-3,Unit 5,2,DT-2',
  ].join('\n') + '\n';

let dir: string;
let n = 0;
/** A fresh directory under the test's temporary directory, holding the given files. */
function files(contents: Record<string, string>): string {
  const path = join(dir, `case-${n++}`);
  mkdirSync(path);
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(path, name), text);
  return path;
}

/** The problems a load reports (fails the test if it loads). */
function problemsOf(paths: string[]): string[] {
  try {
    readTopologyFiles(paths);
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError);
    return (error as TopologyError).problems;
  }
  throw new Error('expected the load to fail');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridstream-topology-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('topology parsing', () => {
  it('reads a JSON topology into rows, filling absent optional fields with their defaults', () => {
    const problems: string[] = [];
    const withoutDefaults = TRANSFORMERS.map((t, i) =>
      i === 0
        ? {
            dt_id: t.dt_id,
            feeder_id: t.feeder_id,
            rated_kva: t.rated_kva,
            cooling_class: t.cooling_class,
            latitude: t.latitude,
            longitude: t.longitude,
            top_oil_rise_k: t.top_oil_rise_k,
            loss_ratio: t.loss_ratio,
            tau_oil_min: t.tau_oil_min,
          }
        : t,
    );
    const parsed = parseTopologyJson(
      JSON.stringify({ transformers: withoutDefaults, meters: METERS }),
      'topology.json',
      problems,
    );
    expect(problems).toEqual([]);
    expect(parsed).toEqual({ transformers: TRANSFORMERS, meters: METERS });
  });

  it('reads CSV (BOM, quoted commas, empty nullable cells as null, numbers converted) to the same rows as JSON', () => {
    const problems: string[] = [];
    const transformers = parseTopologyCsv(TRANSFORMERS_CSV, 'transformers.csv', problems);
    const meters = parseTopologyCsv(METERS_CSV, 'meters.csv', problems);
    expect(problems).toEqual([]);
    expect(transformers).toEqual({ transformers: TRANSFORMERS, meters: [] });
    expect(meters).toEqual({ transformers: [], meters: METERS });
    expect(typeof transformers.transformers[0]!.rated_kva).toBe('number');
    expect(typeof meters.meters[0]!.legs).toBe('number');
  });

  it('gives the same rows from a JSON file and from CSV files through readTopologyFiles', () => {
    const json = files({ 'topology.json': JSON.stringify({ transformers: TRANSFORMERS, meters: METERS }) });
    const csv = files({ 'meters.csv': METERS_CSV, 'transformers.csv': TRANSFORMERS_CSV });
    const fromJson = readTopologyFiles([join(json, 'topology.json')]);
    const fromCsv = readTopologyFiles([join(csv, 'transformers.csv'), join(csv, 'meters.csv')]);
    expect(fromJson).toEqual({ transformers: TRANSFORMERS, meters: METERS });
    expect(fromCsv).toEqual(fromJson);
  });

  it("takes a transformer's tenant from JSON or CSV, `default` when absent or an empty cell", () => {
    const problems: string[] = [];
    const csv = parseTopologyCsv(
      'dt_id,feeder_id,rated_kva,cooling_class,latitude,longitude,tenant\n' +
        'DT-1,F-1,100,ONAN,1,2,utility-b\nDT-2,F-1,100,ONAN,1,2,\n',
      'transformers.csv',
      problems,
    );
    expect(problems).toEqual([]);
    expect(csv.transformers.map((t) => t.tenant)).toEqual(['utility-b', 'default']);
    const json = parseTopologyJson(
      JSON.stringify({ transformers: [{ ...TRANSFORMERS[0], tenant: '' }] }),
      'topology.json',
      problems,
    );
    expect(json.transformers).toEqual([]);
    expect(problems).toEqual([expect.stringMatching(/transformers\[0\]: tenant: must not be empty/)]);
  });

  it("takes a transformer's IANA time zone from JSON or CSV, null when absent, and refuses a name that is not a zone", () => {
    const problems: string[] = [];
    const csv = parseTopologyCsv(
      'dt_id,feeder_id,rated_kva,cooling_class,latitude,longitude,timezone\n' +
        'DT-1,F-1,100,ONAN,12.97,77.59,Asia/Kolkata\nDT-2,F-1,100,ONAN,1,2,\n',
      'transformers.csv',
      problems,
    );
    expect(problems).toEqual([]);
    expect(csv.transformers.map((t) => t.timezone)).toEqual(['Asia/Kolkata', null]);
    const json = parseTopologyJson(
      JSON.stringify({ transformers: [{ ...TRANSFORMERS[0], timezone: 'Asia/Bangalore' }] }),
      'topology.json',
      problems,
    );
    expect(json.transformers).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(/transformers\[0\]: timezone: "Asia\/Bangalore" is not an IANA time zone/),
    ]);
  });

  it('reads a directory as all its .json and .csv files, and nothing else', () => {
    const path = files({
      'transformers.csv': TRANSFORMERS_CSV,
      'meters.json': JSON.stringify({ meters: METERS }),
      'README.txt': 'not topology, {not json either',
      'notes.md': '# notes',
    });
    expect(readTopologyFiles([path])).toEqual({ transformers: TRANSFORMERS, meters: METERS });
  });

  it('reports a directory without topology files', () => {
    const path = files({ 'README.txt': 'nothing here' });
    expect(problemsOf([path])).toEqual([`no .json or .csv topology files in ${path}`]);
  });
});

describe('topology problems', () => {
  /** Exactly one problem matches each pattern, and there are no others. */
  function expectProblems(problems: string[], patterns: RegExp[]) {
    for (const pattern of patterns)
      expect(
        problems.filter((p) => pattern.test(p)),
        String(pattern),
      ).toHaveLength(1);
    expect(problems).toHaveLength(patterns.length);
  }

  it('reports every bad CSV row with its file, line and field', () => {
    const transformers = [
      TRANSFORMER_HEADER,
      'DT-1,F-1,250,ONAN,52.2,-0.12,,230,,,,,',
      'DT-2,F-1,lots,ONAN,52.2,-0.12,,230,,,,,',
      '',
      'DT-3,F-1,100,ONAN,95,-0.12,,230,,,,,',
      'DT-4,F-1,100,ONAN,52.2,-0.12,,230,,,,n/a,',
    ].join('\n');
    const meters = [
      METER_HEADER,
      'M-1,MN-1,ESN-1,SP-1,P-1,4,DT-1',
      'M-2,MN-2,ESN-2,SP-2,P-2,1,',
      ',MN-3,ESN-3,SP-3,P-3,1,DT-1',
      'M-4,MN-4,ESN-4,SP-4,P-4,1,DT-1',
    ].join('\n');
    const path = files({ 't.csv': transformers, 'm.csv': meters });
    expectProblems(problemsOf([path]), [
      /^t\.csv line 3: rated_kva: .*lots/,
      /^t\.csv line 5: latitude: 95 is outside -90\.\.90$/,
      /^t\.csv line 6: tau_oil_min: .*n\/a/,
      /^m\.csv line 2: legs: 4 is not 1, 2 or 3$/,
      /^m\.csv line 3: dt_id: must not be empty$/,
      /^m\.csv line 4: meter_id: must not be empty$/,
    ]);
  });

  it('reports a CSV file without a required column on every row, naming the field', () => {
    const meters = [
      'meter_id,meter_number,electronic_serial_number,service_point_id,premise_id,legs',
      'M-1,MN-1,ESN-1,SP-1,P-1,1',
      'M-2,MN-2,ESN-2,SP-2,P-2,1',
    ].join('\n');
    const path = files({ 'meters.csv': meters });
    expectProblems(problemsOf([path]), [/^meters\.csv line 2: dt_id: /, /^meters\.csv line 3: dt_id: /]);
  });

  it('reports every bad JSON item with its file, index and field', () => {
    const good = TRANSFORMERS[0]!;
    const meter = METERS[0]!;
    const { dt_id: _dropped, ...withoutDt } = meter;
    const doc = {
      transformers: [{ ...good, rated_kva: 'lots' }, { ...good, dt_id: 'DT-9', latitude: 95 }, good],
      meters: [
        meter,
        { ...meter, meter_id: 'M-7', legs: 4 },
        { ...withoutDt, meter_id: 'M-8' },
        { ...meter, meter_id: '' },
      ],
    };
    const path = files({ 'topology.json': JSON.stringify(doc) });
    expectProblems(problemsOf([path]), [
      /^topology\.json: transformers\[0\]: rated_kva: expected double, got "lots"$/,
      /^topology\.json: transformers\[1\]: latitude: 95 is outside -90\.\.90$/,
      /^topology\.json: meters\[1\]: legs: 4 is not 1, 2 or 3$/,
      /^topology\.json: meters\[2\]: dt_id: expected string, got nothing$/,
      /^topology\.json: meters\[3\]: meter_id: must not be empty$/,
    ]);
  });

  it('reports a file that is not JSON, and one that is not a topology object', () => {
    const path = files({ 'a.json': '{"meters": [', 'b.json': '[1, 2]', 'c.json': '{"meters": {}}' });
    expectProblems(problemsOf([path]), [
      /^a\.json: not JSON: /,
      /^b\.json: expected an object with "transformers", "meters" and\/or "assets" arrays$/,
      /^c\.json: "meters" must be an array$/,
    ]);
  });

  it('reports a meter id or a DT id that appears twice in one load, also across files', () => {
    const path = files({
      'a.json': JSON.stringify({ transformers: TRANSFORMERS, meters: METERS }),
      'b.json': JSON.stringify({
        transformers: [TRANSFORMERS[1]],
        meters: [{ ...METERS[0], dt_id: 'DT-2' }],
      }),
    });
    expectProblems(problemsOf([path]), [/^transformer DT-2 appears twice$/, /^meter M-1 appears twice$/]);
  });

  it("reports a meter whose DT is not among the load's transformers", () => {
    const path = files({
      'topology.json': JSON.stringify({
        transformers: TRANSFORMERS,
        meters: [...METERS, { ...METERS[0], meter_id: 'M-9', dt_id: 'DT-404' }],
      }),
    });
    expectProblems(problemsOf([path]), [/^meter M-9: dt_id DT-404 is not a transformer of this load$/]);
  });

  it('accepts meters of any DT in a load without transformers', () => {
    const path = files({ 'meters.json': JSON.stringify({ meters: [{ ...METERS[0], dt_id: 'DT-404' }] }) });
    expect(readTopologyFiles([path])).toEqual({
      transformers: [],
      meters: [{ ...METERS[0], dt_id: 'DT-404' }],
    });
  });

  it('reads dispatchable assets from JSON and CSV, each behind a DT of the load', () => {
    const asset = { asset_id: 'bess-1', dt_id: 'DT-1', meter_id: null, asset_type: 'BESS', nominal_kw: 500 };
    const path = files({
      'topology.json': JSON.stringify({ transformers: TRANSFORMERS, meters: METERS, assets: [asset] }),
      'assets.csv': 'asset_id,dt_id,asset_type,nominal_kw,meter_id\nev-7,DT-2,EV,,M-1\n',
    });
    expect(readTopologyFiles([path]).assets).toEqual([
      { asset_id: 'ev-7', dt_id: 'DT-2', meter_id: 'M-1', asset_type: 'EV', nominal_kw: null },
      asset,
    ]);
    const bad = files({
      'topology.json': JSON.stringify({
        transformers: TRANSFORMERS,
        assets: [
          { ...asset, dt_id: 'DT-404' },
          { ...asset, asset_id: 'pv-1', nominal_kw: -5 },
          { ...asset, asset_id: 'pv-2', asset_type: '' },
        ],
      }),
    });
    expectProblems(problemsOf([bad]), [
      /^topology\.json: assets\[1\]: nominal_kw: -5 must be positive$/,
      /^topology\.json: assets\[2\]: asset_type: must not be empty$/,
      /^asset bess-1: dt_id DT-404 is not a transformer of this load$/,
    ]);
    // Without transformers in the load, the loader checks assets against the DTs already loaded.
    expect(
      unknownTransformerProblems(
        { transformers: [], meters: [], assets: [{ ...asset, dt_id: 'DT-9' }] },
        new Set(['DT-1']),
      ),
    ).toEqual(['asset bess-1: dt_id DT-9 is not a loaded transformer']);
  });

  it('lists every problem in TopologyError.problems, and the first 50 in its message', () => {
    const meters = Array.from({ length: 60 }, (_, i) => ({ ...METERS[0], meter_id: `M-${i}`, legs: 9 }));
    const path = files({ 'meters.json': JSON.stringify({ meters }) });
    let error: unknown;
    try {
      readTopologyFiles([path]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TopologyError);
    const { problems, message } = error as TopologyError;
    expect(problems).toEqual(
      Array.from({ length: 60 }, (_, i) => `meters.json: meters[${i}]: legs: 9 is not 1, 2 or 3`),
    );
    expect(message).toContain('meters.json: meters[49]: legs');
    expect(message).not.toContain('meters.json: meters[50]: legs');
    expect(message).toContain('and 10 more');
  });
});

describe('TopologyIndex', () => {
  const versioned = <T>(rows: T[], topology_version: number) =>
    rows.map((row) => ({ ...row, topology_version }));
  const dt3: TransformerRow = { ...TRANSFORMERS[1]!, dt_id: 'DT-3' };

  it('maps meters to DTs, counts meters per DT (0 for a DT without meters), and keeps the highest version', () => {
    const index = new TopologyIndex();
    index.apply(
      versioned<TransformerRow>([...TRANSFORMERS, dt3], 2) as TopologyTransformer[],
      versioned(METERS, 3) as TopologyMeter[],
    );
    expect(index.dtOf('M-1')).toBe('DT-1');
    expect(index.dtOf('M-3')).toBe('DT-2');
    expect(index.dtOf('M-404')).toBeUndefined();
    expect(index.metersPerDt()).toEqual(
      new Map([
        ['DT-1', 2],
        ['DT-2', 1],
        ['DT-3', 0],
      ]),
    );
    expect(index.version).toBe(3);

    // An older load applied later does not lower the version.
    index.apply([], versioned([METERS[2]!], 1) as TopologyMeter[]);
    expect(index.version).toBe(3);
  });

  it('moves the count when a meter moves to another DT', () => {
    const index = new TopologyIndex();
    index.apply(versioned(TRANSFORMERS, 1) as TopologyTransformer[], versioned(METERS, 1) as TopologyMeter[]);
    index.apply([], [{ ...METERS[0]!, dt_id: 'DT-2', topology_version: 4 }]);
    expect(index.dtOf('M-1')).toBe('DT-2');
    expect(index.metersPerDt()).toEqual(
      new Map([
        ['DT-1', 1],
        ['DT-2', 2],
      ]),
    );
    expect(index.version).toBe(4);
  });
});

describe('topology JSON with a byte-order mark', () => {
  it('reads it like the same JSON without one', () => {
    const problems: string[] = [];
    const file = parseTopologyJson('\uFEFF{"meters": []}', 'bom.json', problems);
    expect(problems).toEqual([]);
    expect(file.meters).toEqual([]);
  });
});

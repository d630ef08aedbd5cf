import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { deflateSegment, gzipOf, inflateSegments } from '../../core/gzip-segments.js';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import { profileHead, profileSlot } from '../../serving/load-profile-slot.js';
import { LoadProfileDays, type LoadProfileDayRow } from '../../serving/load-profile-days.js';
import type { DataQuality, DtEnvelope } from '../../schemas/types.gen.js';
import { sampleEnvelope } from '../support/records.js';

const NOW = Date.UTC(2026, 10, 20, 13, 7, 12, 345);
const TODAY = NOW - (NOW % DAY_MS);
const QUALITIES: DataQuality[] = ['ami_direct', 'ami_imputed', 'modelled_only'];

/** A deterministic pseudo-random sequence (the test must not depend on Math.random). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function envelope(dt: string, slot: number, version: number, r: () => number): DtEnvelope {
  const kw = 100 * r() - 20;
  return {
    ...sampleEnvelope,
    dt_id: dt,
    slot_start: slot,
    version,
    is_final: version % 2 === 1,
    net_mean_kw: kw,
    min_kw: kw - 10 * r(),
    max_kw: kw + 10 * r(),
    q_mean_kvar: r() < 0.2 ? null : 5 * r(),
    legs: [1, 2, 3].slice(0, 1 + Math.floor(3 * r())).map((leg) => ({
      leg,
      v_min: 220 + r(),
      v_mean: 230 + r(),
      v_max: 240 + r(),
    })),
    ami_coverage_pct: 100 * r(),
    data_quality: QUALITIES[Math.floor(3 * r())]!,
    imputed_kw: r() < 0.5 ? 0 : 3 * r(),
  };
}

/** The response the store's pieces make, as text, for a range. */
function storedResponse(store: LoadProfileDays, dt: string, from: number, to: number): string {
  const stored = store.profile(dt, from, to);
  const head = JSON.stringify(profileHead(dt, from, to, stored.newest));
  const segments = [
    deflateSegment(Buffer.from(head.slice(0, -1) + ',"slots":[')),
    ...stored.segments,
    deflateSegment(Buffer.from(']}')),
  ];
  const text = inflateSegments(segments).toString();
  expect(gunzipSync(gzipOf(segments)).toString()).toBe(text);
  return text;
}

/** What the warehouse path answers: the highest version of each slot in [from, to), rendered the same way. */
function expectedResponse(records: DtEnvelope[], dt: string, from: number, to: number): string {
  const current = new Map<number, DtEnvelope>();
  for (const e of records)
    if (e.dt_id === dt && e.slot_start >= from && e.slot_start < to)
      if ((current.get(e.slot_start)?.version ?? 0) < e.version) current.set(e.slot_start, e);
  const slots = [...current.values()].sort((a, b) => a.slot_start - b.slot_start).map(profileSlot);
  const newest = slots.at(-1);
  const head = profileHead(
    dt,
    from,
    to,
    newest && {
      data_quality: newest.data_quality,
      ami_coverage_pct: newest.ami_coverage_pct,
    },
  );
  return JSON.stringify({ ...head, slots });
}

describe('load-profile pieces', () => {
  const r = random(7);
  // Three days and today of two DTs, with gaps, every slot revised up to three times, in shuffled order.
  const records: DtEnvelope[] = [];
  for (const dt of ['dt-a', 'dt-b'])
    for (let slot = TODAY - 3 * DAY_MS; slot <= NOW; slot += SLOT_MS) {
      if (r() < 0.1) continue;
      for (let v = 1 + Math.floor(3 * r()); v > 0; v--) records.push(envelope(dt, slot, 2 * slot + v, r));
    }
  records.sort(() => r() - 0.5);

  it('answers every range byte for byte as the warehouse path renders the current versions', () => {
    // Applied in batches as the pipeline's task does: the stored pieces read, the batch applied, the changed
    // pieces written back (through JSON, as the warehouse gives them); the API reads the pieces.
    const warehouse = new Map<string, LoadProfileDayRow>();
    for (let i = 0; i < records.length; i += 500) {
      const batch = new LoadProfileDays();
      for (const row of warehouse.values()) batch.load(JSON.parse(JSON.stringify(row)) as LoadProfileDayRow);
      batch.apply(records.slice(i, i + 500));
      for (const row of batch.changed()) warehouse.set(`${row.dt_id} ${row.day}`, row);
    }
    const store = new LoadProfileDays();
    for (const row of warehouse.values()) store.load(JSON.parse(JSON.stringify(row)) as LoadProfileDayRow);
    const floor = TODAY - 3 * DAY_MS;
    const ranges: Array<[number, number]> = [
      [floor, NOW], // whole days and today
      [NOW - 2 * DAY_MS, NOW], // a partial first day
      [floor + 7 * SLOT_MS + 1, floor + 7 * SLOT_MS + 2], // inside one slot: nothing
      [floor + 7 * SLOT_MS, floor + 8 * SLOT_MS], // one slot
      [floor + DAY_MS, floor + 2 * DAY_MS], // one whole day
      [floor + DAY_MS - SLOT_MS, floor + 3 * DAY_MS + SLOT_MS], // straddling three day boundaries
      [floor, floor + 400 * DAY_MS], // far into the future
    ];
    for (let i = 0; i < 40; i++) {
      const from = floor + Math.floor(r() * 4 * DAY_MS);
      ranges.push([from, from + 1 + Math.floor(r() * 3 * DAY_MS)]);
    }
    for (const dt of ['dt-a', 'dt-b', 'dt-unknown'])
      for (const [from, to] of ranges)
        expect(storedResponse(store, dt, from, to), `${dt} ${from}..${to}`).toBe(
          expectedResponse(records, dt, from, to),
        );
  });

  it('declares the tier and coverage of the newest slot in the range', () => {
    const store = new LoadProfileDays();
    store.apply(records);
    const to = TODAY - DAY_MS + 5 * SLOT_MS + 1;
    const newest = records
      .filter((e) => e.dt_id === 'dt-a' && e.slot_start < to)
      .sort((a, b) => b.slot_start - a.slot_start || b.version - a.version)[0]!;
    const { newest: declared } = store.profile('dt-a', TODAY - 3 * DAY_MS, to)!;
    expect(declared).toEqual({
      data_quality: newest.data_quality.replaceAll('_', '-'),
      ami_coverage_pct: Math.round(newest.ami_coverage_pct * 100) / 100,
    });
  });

  it('reads back the pieces it writes, a newer piece replacing an older, as the task does per batch', () => {
    const writer = new LoadProfileDays();
    writer.apply([envelope('dt-a', TODAY, 9, r), envelope('dt-a', TODAY - DAY_MS, 9, r)]);
    const first = writer.changed();
    expect(first.map((p) => p.day).sort()).toEqual([day(TODAY - DAY_MS), day(TODAY)]);
    expect(writer.changed()).toEqual([]); // nothing changed since
    const later = new LoadProfileDays();
    for (const row of first) later.load(row);
    later.apply([envelope('dt-a', TODAY + SLOT_MS, 11, r), envelope('dt-a', TODAY, 5, r)]); // 5: older, ignored
    const second = later.changed();
    expect(second).toHaveLength(1);
    expect(Number(second[0]!.version)).toBe(9 + 11);
    const reader = new LoadProfileDays();
    for (const row of [...second, ...first]) reader.load(row); // in any order: the higher version stays
    expect(JSON.parse(storedResponse(reader, 'dt-a', TODAY - DAY_MS, NOW)).slots).toHaveLength(3);
  });

  it('keeps a slot at its highest version whatever order the revisions come in', () => {
    const store = new LoadProfileDays();
    const newer = envelope('dt-a', TODAY, 20, r);
    const older = envelope('dt-a', TODAY, 10, r);
    store.apply([newer]);
    store.apply([older]);
    const slots = JSON.parse(storedResponse(store, 'dt-a', TODAY, NOW)).slots;
    expect(slots).toEqual([JSON.parse(JSON.stringify(profileSlot(newer)))]);
  });
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

import { describe, expect, it } from 'vitest';
import type { LoadProfileDayRow } from '../../serving/load-profile-days.js';
import { PieceCache } from '../../serving/piece-cache.js';

const piece = (dt: string, day: string, deflateBytes: number): LoadProfileDayRow => ({
  dt_id: dt,
  day,
  version: 1,
  deflate: 'x'.repeat(deflateBytes),
  crc: 0,
  length: 0,
  offsets: [],
  versions: [],
  tiers: [],
  coverage: [],
});

describe('PieceCache', () => {
  it('holds at most its bytes, letting the least recently used pieces go first', () => {
    // Each entry counts its text and 4,096 bytes besides: three of 904 fit in 15,000 bytes, not four.
    const cache = new PieceCache(15_000);
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-03']) cache.set(piece('dt-a', day, 904));
    expect(cache.bytes()).toBe(15_000);
    expect(cache.get('dt-a', '2026-11-01')?.day).toBe('2026-11-01');
    cache.set(piece('dt-a', '2026-11-04', 904));
    // 11-02 was the least recently used (11-01 was read since).
    expect(cache.get('dt-a', '2026-11-02')).toBeUndefined();
    expect(['2026-11-01', '2026-11-03', '2026-11-04'].map((d) => cache.get('dt-a', d)?.day)).toEqual([
      '2026-11-01',
      '2026-11-03',
      '2026-11-04',
    ]);
    // A DT-day's newer piece replaces its older one; a piece larger than the cache is not kept.
    cache.set({ ...piece('dt-a', '2026-11-03', 904), version: 2 });
    expect(cache.get('dt-a', '2026-11-03')?.version).toBe(2);
    expect(cache.bytes()).toBe(15_000);
    cache.set(piece('dt-b', '2026-11-01', 20_000));
    expect(cache.get('dt-b', '2026-11-01')).toBeUndefined();
    cache.delete('dt-a', '2026-11-01');
    expect(cache.bytes()).toBe(10_000);
  });
});

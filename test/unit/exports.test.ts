import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { ExportJobs } from '../../api/exports.js';
import { WarehouseError, type Warehouse } from '../../io/warehouse/warehouse.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-exports-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A warehouse whose exports write `text`, or fail with `error`. */
const warehouse = (outcome: { text: string } | { error: Error }) =>
  ({
    async exportToFile(_sql: string, _params: unknown, _format: string, path: string) {
      if ('error' in outcome) throw outcome.error;
      writeFileSync(path, outcome.text, { flag: 'wx' });
      return { bytes: Buffer.byteLength(outcome.text) };
    },
  }) as unknown as Warehouse;

describe('export jobs', () => {
  it('queue, run one at a time, and record the bytes of the file', async () => {
    const jobs = new ExportJobs(warehouse({ text: 'a,b\n1,2\n' }), tempDir());
    const first = jobs.submit('t', 'csv', 'SELECT 1', {});
    const second = jobs.submit('t', 'json', 'SELECT 1', {});
    expect(second.status).toBe('queued');
    await jobs.close();
    for (const job of [first, second]) {
      expect(job).toMatchObject({ status: 'done', bytes: 8, tenant: 't' });
      expect(existsSync(job.path)).toBe(true);
    }
    expect(first.path).toMatch(/\.csv$/);
    expect(second.path).toMatch(/\.ndjson$/);
    expect(jobs.get(first.id)).toBe(first);
  });

  it("report ClickHouse's message of a failed export, without the statement", async () => {
    const error = new WarehouseError(
      'export',
      'SELECT secret FROM x',
      new Error('Code: 60. Unknown table x'),
    );
    const jobs = new ExportJobs(warehouse({ error }), tempDir());
    const job = jobs.submit('t', 'parquet', 'SELECT 1', {});
    await jobs.close();
    expect(job.status).toBe('failed');
    expect(job.error).toBe('ClickHouse export failed: Code: 60. Unknown table x');
  });

  it('remove files of an earlier run once past their keep time, and keep newer ones', () => {
    const dir = tempDir();
    const old = join(dir, 'old.csv');
    const recent = join(dir, 'recent.csv');
    writeFileSync(old, 'x');
    writeFileSync(recent, 'x');
    const twoDaysAgo = (Date.now() - 2 * 86_400_000) / 1000;
    utimesSync(old, twoDaysAgo, twoDaysAgo);
    new ExportJobs(warehouse({ text: '' }), dir);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });

  it('refuse a tenant its third export while two are queued or running, and not another tenant', async () => {
    const jobs = new ExportJobs(warehouse({ text: 'a\n' }), tempDir(), { maxJobs: 2 });
    jobs.submit('t', 'csv', 'SELECT 1', {});
    jobs.submit('t', 'csv', 'SELECT 1', {});
    expect(jobs.refusal('t')).toMatchObject({ reason: expect.stringMatching(/2 exports queued or running/) });
    expect(jobs.refusal('u')).toBeNull();
    await jobs.close();
    expect(jobs.refusal('t')).toBeNull();
  });

  it('refuse a tenant whose finished files reach its bytes, until the oldest expires', async () => {
    const jobs = new ExportJobs(warehouse({ text: '0123456789' }), tempDir(), {
      maxBytes: 20,
      ttlMs: 60_000,
    });
    jobs.submit('t', 'csv', 'SELECT 1', {});
    jobs.submit('t', 'csv', 'SELECT 1', {});
    await jobs.close();
    const now = Date.now();
    expect(jobs.refusal('t', now)).toMatchObject({
      reason: expect.stringMatching(/hold 20 bytes \(at most 20\)/),
      retryAfterS: expect.any(Number),
    });
    expect(jobs.refusal('t', now)!.retryAfterS).toBeLessThanOrEqual(60);
    expect(jobs.refusal('t', now + 61_000)).toBeNull();
  });

  it('forget an expired job and delete its file', async () => {
    const jobs = new ExportJobs(warehouse({ text: 'x' }), tempDir(), { ttlMs: 1000 });
    const job = jobs.submit('t', 'csv', 'SELECT 1', {});
    await jobs.close();
    expect(jobs.get(job.id, job.finishedAt! + 1000)).toBe(job);
    expect(jobs.get(job.id, job.finishedAt! + 1001)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(job.path)).toBe(false);
  });
});

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
});

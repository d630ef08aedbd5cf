import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';

import { CsvNullRewriter } from '../../io/warehouse/csv-nulls.js';

/** The rewriter's output for `csv` fed in chunks of `size` bytes. */
async function rewrite(csv: string, size: number, nullText = '--'): Promise<string> {
  const bytes = Buffer.from(csv, 'utf8');
  const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
    bytes.subarray(i * size, (i + 1) * size),
  );
  return text(Readable.from(chunks).pipe(new CsvNullRewriter(nullText)));
}

const CSV = [
  '"MeterLeg","TransformerId","PremiseId","Note"',
  '1,"dt-1",\\N,"a \\N inside, quoted"',
  '\\N,\\N,"\\N","""\\N"""',
  '2,"ümlaut, ""quoted""\nover two lines",\\Nx,\\N',
].join('\n');

const WANT = [
  '"MeterLeg","TransformerId","PremiseId","Note"',
  '1,"dt-1",--,"a \\N inside, quoted"',
  '--,--,"\\N","""\\N"""',
  '2,"ümlaut, ""quoted""\nover two lines",\\Nx,--',
].join('\n');

describe('CSV NULL rewriting (servers without format_csv_null_representation)', () => {
  it.each([1, 2, 3, 7, 1000])(
    'writes every unquoted \\N field as the NULL text and nothing else, in chunks of %i bytes',
    async (size) => {
      expect(await rewrite(CSV + '\n', size)).toBe(WANT + '\n');
      // A last field without a line end.
      expect(await rewrite(CSV, size)).toBe(WANT);
    },
  );

  it('takes a NULL text of another length', async () => {
    expect(await rewrite('\\N,1,\\N\n', 2, 'NULL')).toBe('NULL,1,NULL\n');
    expect(await rewrite('\\N,1,\\N\n', 2, '')).toBe(',1,\n');
  });
});

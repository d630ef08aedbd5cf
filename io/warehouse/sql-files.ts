import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { sqlDir } from '../../core/paths.js';

const cache = new Map<string, string>();

/**
 * The text of the application query `sql/queries/<name>.sql`, read once and cached. Queries live in files so
 * analysts can read and run them as they are; values are bound with {name:Type} placeholders, never pasted
 * into the text.
 */
export function sqlQuery(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`invalid query name: ${JSON.stringify(name)}`);
    const path = join(sqlDir, 'queries', `${name}.sql`);
    try {
      text = readFileSync(path, 'utf8').trim().replace(/;$/, '');
    } catch (error) {
      throw new Error(`cannot read query ${name} (${path}): ${(error as Error).message}`, { cause: error });
    }
    cache.set(name, text);
  }
  return text;
}

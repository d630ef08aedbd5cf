/**
 * Writes the configuration reference table of docs/operations/configuration.md from VARIABLES in
 * core/config.ts. Run `npm run gen:config-doc` after changing a variable; a unit test fails while the table
 * is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CONFIG_DOC, withConfigTable } from './config-doc.js';

writeFileSync(CONFIG_DOC, await withConfigTable(readFileSync(CONFIG_DOC, 'utf8')));
console.log('wrote the table of docs/operations/configuration.md');

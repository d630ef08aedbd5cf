import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../core/config.js';
import { PROCESSOR_HEAP_GROWTH_PCT } from '../../core/heap.js';
import {
  BEGIN_MARKER,
  CONFIG_DOC,
  configTable,
  END_MARKER,
  withConfigTable,
} from '../../scripts/config-doc.js';

const page = () => readFileSync(CONFIG_DOC, 'utf8');

/** The generated table's row of `name`, split into its cells. */
function row(markdown: string, name: string): string[] {
  const line = markdown.split('\n').find((text) => text.startsWith(`| \`${name}\``));
  if (!line) throw new Error(`no row for ${name}`);
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

describe('configuration reference', () => {
  it('docs/operations/configuration.md has the table the generator makes of VARIABLES (run `npm run gen:config-doc` after a change)', async () => {
    const markdown = page();
    expect(markdown, 'stale: run `npm run gen:config-doc`').toBe(await withConfigTable(markdown));
  });

  it('has one row per variable, in the order of VARIABLES, each with its doc', () => {
    const markdown = page();
    const generated = markdown.slice(markdown.indexOf(BEGIN_MARKER), markdown.indexOf(END_MARKER));
    const names = [...generated.matchAll(/^\| `(GRIDSTREAM_\w+)`/gm)].map((match) => match[1]);
    expect(names).toEqual(Object.keys(VARIABLES));
    for (const [name, variable] of Object.entries(VARIABLES))
      expect(row(generated, name)[1]).toBe(variable.doc);
  });

  it("gives the heap growth's default from the processor's own constant", () => {
    expect(row(page(), 'GRIDSTREAM_HEAP_GROWTH_PCT')[2]).toBe(
      `unset: ${PROCESSOR_HEAP_GROWTH_PCT} where the processor role runs, else V8's own`,
    );
  });

  it('marks a string default as code and escapes a pipe in a cell', () => {
    const table = configTable({
      GRIDSTREAM_X: { key: 'logLevel', kind: 'string', fallback: 'a|b', doc: 'one | two' },
    });
    expect(table.split('\n')[2]).toBe('| `GRIDSTREAM_X` | one \\| two | `a\\|b` |');
  });

  it('leaves the page outside the markers as it is', async () => {
    const markdown = `# Title\n\nBefore.\n\n${BEGIN_MARKER}\n\nold table\n\n${END_MARKER}\n\nAfter.\n`;
    const result = await withConfigTable(markdown);
    expect(result.startsWith(`# Title\n\nBefore.\n\n${BEGIN_MARKER}\n\n| variable`)).toBe(true);
    expect(result.endsWith(`|\n\n${END_MARKER}\n\nAfter.\n`)).toBe(true);
    expect(result).not.toContain('old table');
  });

  it('refuses a page without the markers, naming them', async () => {
    await expect(withConfigTable('# Configuration\n')).rejects.toThrow(BEGIN_MARKER);
    await expect(withConfigTable(`${END_MARKER}\n${BEGIN_MARKER}\n`)).rejects.toThrow(END_MARKER);
  });

  it("links from a variable's doc to files that exist", () => {
    for (const [name, variable] of Object.entries(VARIABLES))
      for (const [, target] of variable.doc.matchAll(/\]\(([^)\s#]+)[^)]*\)/g))
        if (!/^[a-z]+:/i.test(target!))
          expect(existsSync(resolve(dirname(CONFIG_DOC), target!)), `${name}: ${target}`).toBe(true);
  });
});

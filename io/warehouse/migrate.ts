import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { sqlDir } from '../../core/paths.js';
import { adaptSql, CURRENT, type ClickHouseVersion } from './dialect.js';
import { dateTime64 } from './rows.js';
import type { Warehouse } from './warehouse.js';

/**
 * Schema migrations: the numbered files sql/NNN_name.sql, applied in order and recorded in
 * gridstream_migrations (created by sql/bootstrap.sql). Applied versions are skipped; an applied file whose
 * text changed is refused (fix it with a new migration instead).
 *
 * Files are written for current ClickHouse; their version gates are resolved for the warehouse's dialect
 * before anything else (dialect.ts). The checksum covers the file as the database runs it: gates resolved,
 * '-- @' lines left out. So documenting a file in '-- @note' lines, or adding a gate whose '@if' lines are
 * the file's earlier text, changes no checksum on current ClickHouse. Each migration records the version of
 * the server that applied it (the database's dialect is the oldest of them).
 *
 * Statements in a file are separated by ';' at the end of a line. A migration is recorded only after all its
 * statements ran, and ClickHouse DDL is not transactional, so every statement must be idempotent
 * (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, ...): a run that failed half way is simply re-run.
 *
 * Retention: the marker {{retention_days}} in a file is replaced by the configured retention before it runs
 * (the checksum covers the file as written, so changing the retention does not "change" a migration). The
 * retention in effect is recorded in gridstream_retention; when the configured value differs from the recorded
 * one, the ALTER TABLE ... MODIFY TTL statements of sql/retention.sql are run with the new value and the new
 * value is recorded. (MODIFY TTL rewrites the affected parts in the background, as a mutation.)
 */

export const DEFAULT_RETENTION_DAYS = 395; // about 13 months, as in the impedance seed

export interface MigrateOptions {
  /** Retention of the time-series tables, days (default 395). */
  retentionDays?: number;
  /** Directory holding the migrations and retention.sql (default: the package's sql/). */
  dir?: string;
}

export interface MigrateResult {
  /** File names of the migrations applied by this run, in order. */
  applied: string[];
  retentionDays: number;
  /** True when this run re-applied the TTLs because the retention changed. */
  retentionChanged: boolean;
}

export interface Migration {
  version: number;
  name: string;
  path: string;
  text: string;
  checksum: string;
}

const RETENTION_MARKER = /\{\{\s*retention_days\s*\}\}/g;
const MIGRATION_FILE = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;

/**
 * The migrations in `dir`, ordered by version, as a database of `dialect` runs them (text adapted, checksum
 * of that text); two files with the same number, or a malformed gate, are an error naming the file.
 */
export function loadMigrations(dir: string = sqlDir, dialect: ClickHouseVersion = CURRENT): Migration[] {
  const migrations: Migration[] = [];
  for (const name of readdirSync(dir).sort()) {
    const match = MIGRATION_FILE.exec(name);
    if (match === null) continue;
    const path = join(dir, name);
    const text = adaptFile(readFileSync(path, 'utf8'), dialect, path);
    const checksum = createHash('sha256').update(text).digest('hex');
    migrations.push({ version: Number(match[1]), name, path, text, checksum });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    const [prev, cur] = [migrations[i - 1]!, migrations[i]!];
    if (prev.version === cur.version) {
      throw new Error(`two migrations have number ${cur.version}: ${prev.name} and ${cur.name}`);
    }
  }
  return migrations;
}

/** adaptSql, with the file named in the error of a malformed gate. */
export function adaptFile(text: string, dialect: ClickHouseVersion, file: string): string {
  try {
    return adaptSql(text, dialect);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Splits a SQL file into statements at each ';' that ends a line; comment-only pieces are dropped. */
export function splitStatements(text: string): string[] {
  return text
    .split(/;[ \t]*\r?\n|;[ \t]*$/)
    .map((statement) => statement.trim())
    .filter((statement) =>
      statement.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--')),
    );
}

/** Fills in {{retention_days}}; any other {{...}} marker left in the text is an error naming the file. */
export function fillTemplate(text: string, retentionDays: number, file: string): string {
  const filled = text.replace(RETENTION_MARKER, String(retentionDays));
  const unknown = /\{\{[^}]*\}\}/.exec(filled);
  if (unknown !== null) throw new Error(`${file}: unknown template marker ${unknown[0]}`);
  return filled;
}

export async function migrate(warehouse: Warehouse, options: MigrateOptions = {}): Promise<MigrateResult> {
  const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 100_000) {
    throw new Error(`retention must be a whole number of days from 1 to 100000, got ${retentionDays}`);
  }
  const dir = options.dir ?? sqlDir;
  const migrations = loadMigrations(dir, warehouse.dialect);

  // The runner's own bookkeeping, created before anything is read from it (not a migration: idempotent).
  const bootstrap = join(dir, 'bootstrap.sql');
  await runFile(
    warehouse,
    'bootstrap.sql',
    adaptFile(readFileSync(bootstrap, 'utf8'), warehouse.dialect, bootstrap),
  );
  const [server] = await warehouse.query<{ v: string }>('SELECT version() AS v');
  const applied = new Map(
    (
      await warehouse.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM gridstream_migrations FINAL',
      )
    ).map((row) => [Number(row.version), row]),
  );

  // Refuse before changing anything: a tampered applied migration means the schema is not what the files say.
  for (const migration of migrations) {
    const done = applied.get(migration.version);
    if (done !== undefined && done.checksum !== migration.checksum) {
      throw new Error(
        `migration ${migration.path} was changed after it was applied (checksum ${done.checksum.slice(0, 12)}… ` +
          `recorded for ${done.name}, file now ${migration.checksum.slice(0, 12)}…); ` +
          'restore the file and put the change in a new migration',
      );
    }
  }

  const appliedNow: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    await runFile(warehouse, migration.name, fillTemplate(migration.text, retentionDays, migration.path));
    await warehouse.insert('gridstream_migrations', [
      {
        version: migration.version,
        name: migration.name,
        checksum: migration.checksum,
        applied_at: dateTime64(Date.now()),
        clickhouse_version: server?.v ?? '',
      },
    ]);
    appliedNow.push(migration.name);
  }

  const [recorded] = await warehouse.query<{ retention_days: number | null }>(
    'SELECT argMax(retention_days, applied_at) AS retention_days FROM gridstream_retention HAVING count() > 0',
  );
  const recordedDays = recorded === undefined ? null : Number(recorded.retention_days);
  // No record and nothing applied before this run: every TTL table was just created with this retention.
  // (No record but older migrations: a run that stopped before recording; re-apply to be sure.)
  const retentionChanged = recordedDays === null ? applied.size > 0 : recordedDays !== retentionDays;
  if (retentionChanged) {
    const path = join(dir, 'retention.sql');
    const text = adaptFile(readFileSync(path, 'utf8'), warehouse.dialect, path);
    await runFile(warehouse, 'retention.sql', fillTemplate(text, retentionDays, path));
  }
  if (recordedDays !== retentionDays) {
    await warehouse.insert('gridstream_retention', [
      { retention_days: retentionDays, applied_at: dateTime64(Date.now()) },
    ]);
  }
  return { applied: appliedNow, retentionDays, retentionChanged };
}

async function runFile(warehouse: Warehouse, file: string, text: string): Promise<void> {
  const statements = splitStatements(text);
  for (const [index, statement] of statements.entries()) {
    try {
      await warehouse.command(statement);
    } catch (error) {
      throw new Error(
        `${file}: statement ${index + 1} of ${statements.length} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

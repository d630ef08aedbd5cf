import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLog } from '../../io/log/memory-log.js';
import { describeLogContract } from '../support/log-contract.js';

/** The Log contract on the in-process log, in memory and on disk (test/integration/kafka-log.test.ts: Kafka). */
describeLogContract('in-process log, in memory', {
  open: async () => new MemoryLog(),
  close: (log) => log.close(),
});

const dirs = new Map<MemoryLog, string>();
describeLogContract('in-process log, on disk', {
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridstream-log-contract-'));
    const log = new MemoryLog({ dir });
    dirs.set(log, dir);
    return log;
  },
  close: async (log) => {
    await log.close();
    rmSync(dirs.get(log as MemoryLog)!, { recursive: true, force: true });
  },
});

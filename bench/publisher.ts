/**
 * The benchmark's meters: a separate process publishing simulated telemetry as fast as the broker takes it,
 * for a fixed time. Prints its counts as JSON on the last line of stdout.
 */
import { runSimulate } from '../simulator/command.js';

const [url, seconds, transformers, meters, seed] = process.argv.slice(2);
const abort = new AbortController();
setTimeout(() => abort.abort(), Number(seconds) * 1000);
const result = await runSimulate({
  mqttUrl: url!,
  seed: Number(seed),
  transformers: Number(transformers),
  meters: Number(meters),
  start: '2026-07-01T00:00:00Z',
  end: '2026-09-01T00:00:00Z',
  now: Date.parse('2026-09-01T00:00:00Z'),
  silentShare: 0,
  signal: abort.signal,
});
console.log(JSON.stringify(result));

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFlexRun, runFlexScenario, type FlexRun } from '../support/flex-scenario.js';
import { apiCall, startTestGridstream } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

describe('a flexibility event on simulated batteries, embedded', () => {
  let g: Running;
  let run: FlexRun;

  beforeAll(async () => {
    g = await startTestGridstream({ webhookAllow: '127.0.0.1' });
    run = await runFlexScenario(g);
  }, 400_000);
  afterAll(async () => {
    await run?.close();
    await g?.stop();
  });

  it('goes through every step in order on the log and as webhooks, issues baselines before the start, and delivers within 10 % of the truth', async () => {
    await checkFlexRun(g, run, 0.1);
  });

  it('serves the event, its baselines and its stats', async () => {
    const event = (await (await apiCall(g.url, 'GET', `/v1/events/${run.eventId}`)).json()) as {
      status: string;
      steps: Array<{ type: string }>;
    };
    expect(event.status).toBe('STATS_READY');
    expect(event.steps.map((s) => s.type)).toHaveLength(7);
    const baselines = await apiCall(g.url, 'GET', `/v1/events/${run.eventId}/baselines?pageSize=1000`);
    expect(baselines.status).toBe(200);
    const stats = await apiCall(g.url, 'GET', `/v1/events/${run.eventId}/stats?pageSize=1000`);
    expect(stats.status).toBe(200);
  });
});

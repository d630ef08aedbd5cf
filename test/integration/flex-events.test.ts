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

  it('serves the event, its adjusted baselines and its stats as stored, the totals agreeing with the rows', async () => {
    const event = (await (await apiCall(g.url, 'GET', `/v1/events/${run.eventId}`)).json()) as {
      status: string;
      baseline_issue: string;
      delivered_kwh: number;
      steps: Array<{ type: string; sequence: number }>;
    };
    expect(event.status).toBe('STATS_READY');
    expect(event.baseline_issue).toBe('adjusted');
    expect(event.steps.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const periods = run.assetIds.length * 8;
    const baselines = (await (
      await apiCall(g.url, 'GET', `/v1/events/${run.eventId}/baselines?pageSize=1000`)
    ).json()) as { total: number; baselines: Array<{ baseline: { amount: string } | null }> };
    expect(baselines.total).toBe(periods);
    expect(baselines.baselines.every((b) => b.baseline !== null)).toBe(true);
    const stats = (await (
      await apiCall(g.url, 'GET', `/v1/events/${run.eventId}/stats?pageSize=1000`)
    ).json()) as {
      delivered_kwh: number;
      total: number;
      stats: Array<{ delivered_energy: { amount: string } | null }>;
    };
    expect(stats.delivered_kwh).toBe(event.delivered_kwh);
    expect(stats.total).toBe(periods);
    const sum = stats.stats.reduce((kwh, r) => kwh + Number(r.delivered_energy!.amount), 0);
    expect(sum).toBeCloseTo(event.delivered_kwh, 3);
  });
});

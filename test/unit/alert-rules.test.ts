import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../core/metrics.js';

/** infra/prometheus: the alert rules, their promtool unit tests and the scrape configuration. */
const DIR = fileURLToPath(new URL('../../infra/prometheus/', import.meta.url));

const promtool = (...args: string[]) => {
  const result = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
};
const promtoolInstalled = spawnSync('promtool', ['--version']).status === 0;
if (!promtoolInstalled)
  console.warn(
    'promtool is not installed (infra/setup.sh installs Debian\'s prometheus): skipping "promtool check rules" and "promtool test rules"',
  );

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alertname: string;
  exp_alerts: unknown[];
}

const rules: Rule[] = (
  parse(readFileSync(`${DIR}alerts.yml`, 'utf8')) as { groups: Array<{ rules: Rule[] }> }
).groups.flatMap((g) => g.rules);
const ruleTests: RuleTest[] = (
  parse(readFileSync(`${DIR}alerts.test.yml`, 'utf8')) as { tests: Array<{ alert_rule_test: RuleTest[] }> }
).tests.flatMap((t) => t.alert_rule_test);

describe('Prometheus alert rules (infra/prometheus/alerts.yml)', () => {
  it.skipIf(!promtoolInstalled)('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', 'alerts.yml');
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it.skipIf(!promtoolInstalled)(
    'fire and stay quiet exactly as alerts.test.yml expects (promtool test rules)',
    () => {
      const { status, output } = promtool('test', 'rules', 'alerts.test.yml');
      expect(status, output).toBe(0);
      expect(output).toMatch(/SUCCESS/);
    },
  );

  it.skipIf(!promtoolInstalled)(
    'are loaded by prometheus.yml, a valid configuration (promtool check config)',
    () => {
      const { status, output } = promtool('check', 'config', 'prometheus.yml');
      expect(status, output).toBe(0);
      expect(output).toMatch(/SUCCESS: 1 rule files found/);
    },
  );

  it('cover ingest stopped, consumer lag, dead-letter rate, warehouse insert failures and event-time lag', () => {
    const uses = (metric: string) => rules.filter((r) => r.expr.includes(metric)).map((r) => r.alert);
    expect(uses('gridstream_mqtt_messages_total')).toContain('GridstreamIngestStopped');
    expect(uses('gridstream_readings_ingested_total')).toContain('GridstreamReadingsStopped');
    expect(uses('gridstream_consumer_lag_records')).toEqual([
      'GridstreamConsumerLagGrowing',
      'GridstreamConsumerLagHigh',
    ]);
    expect(uses('gridstream_dead_letters_total')).toEqual(['GridstreamDeadLetterRateHigh']);
    expect(uses('gridstream_warehouse_insert_errors_total')).toEqual([
      'GridstreamWarehouseInsertErrors',
      'GridstreamWarehouseWritesStopped',
    ]);
    expect(uses('gridstream_event_time_lag_seconds')).toEqual(['GridstreamEventTimeLagHigh']);
    // The dead-letter alert keeps the reason, so the operator sees which kind of input fails.
    expect(rules.find((r) => r.alert === 'GridstreamDeadLetterRateHigh')!.expr).toMatch(
      /sum by \(job, reason\)/,
    );
  });

  it('each have a for duration, a severity, and a summary and description for the operator', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description?.length ?? 0, rule.alert).toBeGreaterThan(150);
    }
  });

  it('each are unit-tested both firing and not firing in alerts.test.yml', () => {
    for (const rule of rules) {
      const tests = ruleTests.filter((t) => t.alertname === rule.alert);
      expect(
        tests.some((t) => t.exp_alerts.length > 0),
        `${rule.alert} is never expected to fire`,
      ).toBe(true);
      expect(
        tests.some((t) => t.exp_alerts.length === 0),
        `${rule.alert} is never expected to stay quiet`,
      ).toBe(true);
    }
  });

  it('use only metrics gridstream exports (core/metrics.ts), so a renamed metric cannot silence an alert', async () => {
    const exported = new Set(
      (await createMetrics().registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const used = new Set(rules.flatMap((r) => r.expr.match(/\bgridstream_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(5);
    for (const metric of used) expect(exported, metric).toContain(metric);
  });
});

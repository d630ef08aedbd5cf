import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { dateTime, lossOfLife, num, pct, pct100 } from '../../console/src/format.js';
import { SLOT_MS, DAY_MS, iso } from '../../core/time.js';
import { simulateTopology } from '../../simulator/command.js';
import { meter, transformer } from '../support/topology.js';
import { axeViolations, launchChromium, screenshot } from '../support/browser.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { buildConsole } from '../../scripts/build-console.mjs';
import {
  apiCall,
  OTHER_TENANT_KEY,
  simulateInto,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A small simulated feeder: 3 DTs on 2 feeders, 12 meters each, a quarter of them with a battery. */
const SIM = { seed: 7, transformers: 3, meters: 12, feeders: 2, batteryShare: 0.25, silentShare: 0 };
/** The history ends an hour ago; the live test publishes that hour while a view is open. */
const END = Math.floor(Date.now() / SLOT_MS) * SLOT_MS - 4 * SLOT_MS;
/**
 * 31 days of history, so the 30-day load profile is whole (~2,880 slots): 29 days of 15-minute readings, then 2
 * of 1-minute ones.
 */
const START = END - 31 * DAY_MS;
/** The other tenant's (utility-b's) one transformer. */
const OTHER_DT = 'dt-of-utility-b';
const MINUTE_READINGS_FROM = END - 2 * DAY_MS;

describe('the console in Chromium, on the embedded gridstream with a simulated feeder', () => {
  let g: Awaited<ReturnType<typeof startTestGridstream>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  /** Failed calls but those of the status a test expects (a wrong or revoked key's 401, a refused body's 400). */
  const unexpectedFailures: string[] = [];
  let expectedStatus: number | null = null;
  let consoleDir = '';
  const topology = simulateTopology(SIM);
  const ASSET = topology.assets![0]!;

  const api = async (path: string, body?: unknown, key = TEST_API_KEY): Promise<Json> => {
    const response = await apiCall(g.url, body === undefined ? 'GET' : 'POST', path, body, key);
    expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
    return (await response.json()) as Json;
  };
  const text = async (selector: string) => (await page.locator(selector).first().innerText()).trim();
  /** Loads the console afresh at a view (a hash change alone would keep the page, its timers and its focus). */
  const visit = async (hash: string) => {
    await page.goto('about:blank');
    await page.goto(`${g.url}/${hash}`);
  };
  const openWithKey = async (key: string) => {
    await visit('');
    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
  };

  beforeAll(async () => {
    // The console as its sources are now, not whatever dist/ holds.
    consoleDir = await buildConsole(mkdtempSync(join(tmpdir(), 'gridstream-console-')));
    g = await startTestGridstream({}, undefined, undefined, consoleDir);
    // Another tenant's transformer beside the simulated feeder: each key must see only its own.
    await g.pipeline.loadTopology(
      {
        ...topology,
        transformers: [...topology.transformers, transformer(OTHER_DT, { tenant: 'utility-b' })],
        meters: [...topology.meters, meter('m-other', OTHER_DT)],
      },
      'console test',
    );
    await simulateInto(
      g,
      { ...SIM, start: START, end: MINUTE_READINGS_FROM, now: MINUTE_READINGS_FROM, intervalS: 900 },
      240_000,
    );
    await simulateInto(g, { ...SIM, start: MINUTE_READINGS_FROM, end: END, now: END }, 240_000);
    // A dispatch command to the first battery, within the last day: the transformer view lists it with its check.
    const asset = ASSET;
    const client = await mqtt.connectAsync(testMqttUrl(g));
    await client.publishAsync(
      `gridstream/v1/dispatch/${asset.asset_id}`,
      JSON.stringify({
        source: 'console-test',
        event_id: '5f0c9a52-7d55-4c1e-9a53-2b8f3f6e0c11',
        published_at: iso(END - 3 * SLOT_MS),
        asset_id: asset.asset_id,
        dispatch_time: iso(END - 2 * SLOT_MS),
        delivery_period_start: iso(END - SLOT_MS),
        target_power: { amount: '-3', unit: 'kW' },
        nominal_power: { amount: '5', unit: 'kW' },
      }),
      { qos: 1 },
    );
    await client.endAsync();
    await g.pipeline.settle(60_000);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() < 400) return;
      const failure = `${response.status()} ${new URL(response.url()).pathname}`;
      if (response.status() !== expectedStatus) unexpectedFailures.push(failure);
    });
    page.on('console', (message) => {
      // A failed request's own console line: the responses above judge those.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        pageErrors.push(`console: ${message.text()}`);
    });
  }, 400_000);
  afterAll(async () => {
    await browser?.close();
    await g?.stop();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  it('serves the console at / with its bundle, without a key, under a strict Content-Security-Policy', async () => {
    const index = await fetch(`${g.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await index.text()).toContain('/console/app.js');
    const bundle = await fetch(`${g.url}/console/app.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    // The data stays behind the key.
    expect((await fetch(`${g.url}/v1/fleet`)).status).toBe(401);
  });

  it('a wrong key gets a clear message, is not kept, and shows no data', async () => {
    expectedStatus = 401;
    await openWithKey('not-a-key-of-this-gridstream-000000');
    await expect.poll(() => text('#key-message')).toContain('The API key was not accepted');
    expect(await text('#key-message')).toContain('the API key is not valid');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#fleet-table').count()).toBe(0);
    await screenshot(page, 'wrong-key');
    expectedStatus = null;
  });

  it("another tenant's key sees its own transformer and none of this tenant's", async () => {
    await openWithKey(OTHER_TENANT_KEY);
    await page.waitForSelector('#fleet-table tbody tr');
    expect(await text('#fleet-summary')).toMatch(/^1 transformer /);
    expect(
      await page
        .locator('#fleet-table tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dt'))),
    ).toEqual([OTHER_DT]);
    // Searching for this tenant's meter finds nothing for that key.
    await page.fill('#fleet-search', topology.meters[0]!.meter_id);
    await expect.poll(() => text('#fleet-summary')).toMatch(/^0 transformers/);
    await page.click('text=Forget key');
    await page.waitForSelector('#api-key');
  });

  it('the fleet view ranks every DT as GET /v1/fleet does, with its figures', async () => {
    await openWithKey(TEST_API_KEY);
    await page.waitForSelector('#fleet-table tbody tr');
    // The key is kept for the session, never in the URL.
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([TEST_API_KEY]);
    expect(page.url()).not.toContain(TEST_API_KEY);
    const fleet = await api('/v1/fleet');
    const dts = fleet.transformers as Json[];
    expect(dts.map((d) => d.dt_id).sort()).toEqual(topology.transformers.map((t) => t.dt_id).sort());
    const rows = page.locator('#fleet-table tbody tr');
    expect(await rows.count()).toBe(dts.length);
    for (const [i, dt] of dts.entries()) {
      const row = rows.nth(i);
      expect(await row.getAttribute('data-dt')).toBe(dt.dt_id);
      const cell = async (field: string) => (await row.locator(`[data-field=${field}]`).innerText()).trim();
      expect(await cell('thermal_stress_prob')).toBe(pct(dt.thermal_stress_prob));
      expect(await cell('voltage_stress_prob')).toBe(pct(dt.voltage_stress_prob));
      expect(await cell('peak_stress_slot')).toBe(dateTime(dt.peak_stress_slot, dt.timezone));
      expect(await cell('load_factor')).toBe(num(dt.load_factor, 2));
      expect(await cell('loss_of_life_min')).toBe(lossOfLife(dt.loss_of_life_min));
      expect(await cell('data_quality')).toBe(dt.data_quality);
      expect(await cell('ami_coverage_pct')).toBe(pct100(dt.ami_coverage_pct));
      expect(await cell('open_impedance_flags')).toBe(String(dt.open_impedance_flags));
    }
    // Simulated data: every DT has a forecast and a tier.
    expect(dts.every((d) => d.stress_prob !== null && d.data_quality !== 'modelled-only')).toBe(true);
    await screenshot(page, 'fleet');
  });

  it('filters the fleet by feeder and finds a DT by meter and by service point', async () => {
    const feeder = topology.transformers[1]!.feeder_id;
    await page.selectOption('#fleet-feeder', feeder);
    const onFeeder = ((await api(`/v1/fleet?feeder_id=${feeder}`)).transformers as Json[]).map(
      (d) => d.dt_id,
    );
    await expect
      .poll(() =>
        page
          .locator('#fleet-table tbody tr')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dt'))),
      )
      .toEqual(onFeeder);
    await page.selectOption('#fleet-feeder', '');
    const meter = topology.meters.find((m) => m.dt_id === topology.transformers[2]!.dt_id)!;
    for (const q of [meter.meter_id, meter.service_point_id].filter((v): v is string => Boolean(v))) {
      await page.fill('#fleet-search', q);
      await expect
        .poll(() =>
          page
            .locator('#fleet-table tbody tr')
            .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dt'))),
        )
        .toEqual([meter.dt_id]);
      expect(await text('#fleet-table tbody tr th')).toContain(`meter ${meter.meter_id}`);
    }
    await page.fill('#fleet-search', '');
    await expect.poll(() => page.locator('#fleet-table tbody tr').count()).toBe(topology.transformers.length);
  });

  it('is usable from the keyboard: skip link first, then Tab to a DT and Enter opens it', async () => {
    await visit(`#/`);
    await page.waitForSelector('#fleet-table tbody tr');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    let href: string | null = null;
    for (let presses = 0; presses < 30; presses++) {
      await page.keyboard.press('Tab');
      href = await page.evaluate<string | null>("document.activeElement?.getAttribute('href') ?? null");
      if (href?.startsWith('#/dt/')) break;
    }
    expect(href, 'a DT link reached with Tab').toMatch(/^#\/dt\//);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate('location.hash')).toBe(href);
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('dt-title');
  });

  it('the transformer view shows the API’s load, heat, next day, voltage, service drops and dispatches', async () => {
    const dtId = ASSET.dt_id;
    await visit(`#/dt/${dtId}`);
    const [fleet, profile, stress, envelopes, meters, dispatches] = await Promise.all([
      api(`/v1/fleet?dt_id=${dtId}`),
      api(`/v1/dt/${dtId}/load-profile?days=30`),
      api(`/v1/dt/${dtId}/stress?days=7`),
      api(`/v1/dt/${dtId}/envelopes`),
      api(`/v1/dt/${dtId}/meters?days=30`),
      api(`/v1/dt/${dtId}/dispatches`),
    ]);
    const dt = (fleet.transformers as Json[]).find((d) => d.dt_id === dtId)!;
    const zone = dt.timezone as string;
    await page.waitForSelector('#dt-facts');
    expect(await text('#dt-facts [data-field=rated_kva]')).toBe(`${num(dt.rated_kva, 0)} kVA`);
    expect(await text('#dt-facts [data-field=feeder_id]')).toBe(dt.feeder_id);
    const slots = profile.slots as Json[];
    const newest = slots.at(-1)!;
    expect(await text('#dt-facts [data-field=newest_slot]')).toContain(
      `${dateTime(newest.slot_start, zone)}: ${num(newest.net_mean_kw, 1)} kW`,
    );
    await page.waitForSelector('#chart-load canvas');
    expect(slots.length).toBeGreaterThan(30 * 96 - 8);
    expect(Number(await page.getAttribute('#chart-load', 'data-points'))).toBe(slots.length);
    console.log(
      `console: data to first drawn frame of the ${slots.length}-slot load profile ${await page.getAttribute('#chart-load', 'data-draw-ms')} ms, ` +
        `the voltage band (${slots.length} slots x 6 series) ${await page.getAttribute('#chart-voltage', 'data-draw-ms')} ms`,
    );
    const peak = slots.reduce((m, s) => (s.max_kw > m.max_kw ? s : m));
    expect(await text('#load-summary')).toContain(`${slots.length} slots · peak ${num(peak.max_kw, 1)} kW`);
    await page.waitForSelector('#chart-heat canvas');
    expect(Number(await page.getAttribute('#chart-heat', 'data-points'))).toBe(stress.slots.length);
    // Its data table, opened, holds every slot with the API's figures.
    await page.click('#chart-heat summary');
    const heatRows = page.locator('#chart-heat .chart-table tbody tr');
    await expect.poll(() => heatRows.count()).toBe(stress.slots.length);
    const lastHeat = (stress.slots as Json[]).at(-1)!;
    expect(
      await heatRows
        .last()
        .locator('th, td')
        .evaluateAll((cells) => cells.map((c) => c.textContent)),
    ).toEqual([
      dateTime(lastHeat.slot_start, zone),
      num(lastHeat.hot_spot_c, 2),
      num(lastHeat.top_oil_c, 2),
      num(lastHeat.ambient_c, 2),
      num(stress.limits.hot_spot_c, 2),
      num(stress.limits.top_oil_c, 2),
    ]);
    await page.click('#chart-heat summary');
    expect(await text('#heat-summary')).toContain(
      `peak hot spot ${num(stress.summary.peak_hot_spot_c, 1)} °C`,
    );
    expect(await text('#heat-summary')).toContain(`limit ${num(stress.limits.hot_spot_c, 0)} °C`);
    const ahead = (envelopes.slots as Json[]).filter((s) => s.issued_at === envelopes.newest_issued_at);
    expect(ahead.length).toBeGreaterThan(0);
    await page.waitForSelector('#chart-envelope canvas');
    expect(Number(await page.getAttribute('#chart-envelope', 'data-points'))).toBe(ahead.length);
    expect(Number(await page.getAttribute('#chart-stress', 'data-points'))).toBe(ahead.length);
    expect(await text('#envelope-summary')).toContain(
      `least import headroom ${num(Math.min(...ahead.map((s) => s.import_kw)), 1)} kW`,
    );
    expect(Number(await page.getAttribute('#chart-voltage', 'data-points'))).toBe(slots.length);
    const meterRows = page.locator('#meters-table tbody tr');
    expect(await meterRows.count()).toBe(meters.meters.length);
    for (const [i, m] of (meters.meters as Json[]).entries()) {
      expect(await meterRows.nth(i).getAttribute('data-meter')).toBe(m.meter_id);
      const medians = (m.legs as Json[])
        .map((l) => `L${l.leg} ${num(l.latest_median_mohm, 1)} mΩ`)
        .join(' · ');
      expect((await meterRows.nth(i).locator('[data-field=latest_median_mohm]').innerText()).trim()).toBe(
        medians || '–',
      );
    }
    // Two days of one-minute readings give some meters their daily medians: one is shown as a trend.
    const withTrend = (meters.meters as Json[]).find((m) => (m.legs as Json[]).length > 0);
    expect(withTrend, 'a meter with impedance days').toBeDefined();
    await page.click(`#meters-table tr[data-meter="${withTrend!.meter_id}"] button`);
    await page.waitForSelector('#chart-impedance canvas');
    expect(Number(await page.getAttribute('#chart-impedance', 'data-points'))).toBe(
      new Set((withTrend!.legs as Json[]).flatMap((l) => (l.days as Json[]).map((d) => d.day))).size,
    );
    expect(dispatches.dispatches.length).toBe(1);
    expect(await page.locator('#dispatch-table tbody tr').count()).toBe(1);
    expect(await text('#dispatch-table tbody tr')).toContain(ASSET.asset_id);
    // The pipeline checked it against the asset's limits; the page shows that check.
    expect(dispatches.dispatches[0].check).not.toBeNull();
    expect(await text('#dispatch-table tbody tr [data-field=check]')).toBe(
      dispatches.dispatches[0].check.verdict,
    );
    await screenshot(page, 'transformer');
  });

  it('the what-if panels show the verdict the API gives, with the slots that decide it', async () => {
    const dtId = ASSET.dt_id;
    await visit(`#/dt/${dtId}`);
    await page.waitForSelector('#whatif-hosting');
    await page.selectOption('#hosting-type', 'ev');
    await page.fill('#hosting-kw', '40');
    expectedStatus = null;
    await page.fill('#hosting-schedule', '17:00-23:00');
    await page.click('#whatif-hosting button[type=submit]');
    const hosting = await api('/v1/dt/hosting-capacity', {
      dt_id: dtId,
      additions: [{ type: 'ev', kw: 40, schedule: '17:00-23:00' }],
    });
    await expect.poll(() => text('#whatif-hosting [data-field=verdict]')).toBe(hosting.verdict);
    expect(await text('#whatif-hosting .answer')).toContain(hosting.reason);
    // Each slot listed as deciding is one of the API's, with its figures.
    const shown = await page
      .locator('#whatif-hosting tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
    expect(shown.length).toBeGreaterThan(0);
    const zone = ((await api(`/v1/fleet?dt_id=${dtId}`)).transformers as Json[])[0]!.timezone as string;
    const bySlot = new Map((hosting.slots as Json[]).map((s) => [dateTime(s.slot_start, zone), s]));
    for (const [slot, addition, , allowed, binding] of shown) {
      const s = bySlot.get(slot!)!;
      expect(s, slot!).toBeDefined();
      expect([addition, allowed, binding]).toEqual([
        `${num(s.addition_kw, 1)} kW`,
        `${num(s.allowed_kw, 1)} kW`,
        s.binding_constraint ?? '–',
      ]);
    }
    // A schedule the API refuses: its message, in the panel.
    expectedStatus = 400;
    await page.fill('#hosting-schedule', '25:00-26:00');
    await page.click('#whatif-hosting button[type=submit]');
    const refusal = await apiCall(g.url, 'POST', '/v1/dt/hosting-capacity', {
      dt_id: dtId,
      additions: [{ type: 'ev', kw: 40, schedule: '25:00-26:00' }],
    });
    expect(refusal.status).toBe(400);
    await expect
      .poll(() => text('#whatif-hosting [role=alert]'))
      .toContain(((await refusal.json()) as Json).message);
    expectedStatus = null;
    await page.fill('#hosting-schedule', '17:00-23:00');
    await page.click('#whatif-hosting button[type=submit]');
    await expect.poll(() => text('#whatif-hosting [data-field=verdict]')).toBe(hosting.verdict);
    await page.fill('#rooftop-kwp', '8');
    await page.click('#whatif-rooftop button[type=submit]');
    const rooftop = await api('/v1/rooftop/sanction-check', { dt_id: dtId, pv_kwp: 8, inverter_kw: 5 });
    await expect.poll(() => text('#whatif-rooftop [data-field=verdict]')).toBe(rooftop.recommendation);
    expect(await text('#whatif-rooftop .answer')).toContain(
      `reverse power flow up to ${pct(rooftop.reverse_power_flow.max_probability)}`,
    );
    await page.click('#whatif-site button[type=submit]');
    await page.waitForSelector('#whatif-site tbody tr');
    const dt = topology.transformers.find((t) => t.dt_id === dtId)!;
    const site = await api('/v1/ev/site-screen', {
      latitude: dt.latitude,
      longitude: dt.longitude,
      radius_km: 5,
      station_kw: 22,
      dwell: { schedule: '08:00-18:00' },
    });
    expect(
      await page.locator('#whatif-site tbody tr th').evaluateAll((cells) => cells.map((c) => c.textContent)),
    ).toEqual((site.candidates as Json[]).map((c) => c.dt_id));
    await page.locator('#whatif-title').scrollIntoViewIfNeeded();
    await screenshot(page, 'what-if');
  });

  it('axe-core finds no accessibility violation in the key form, the fleet and the transformer view', async () => {
    const fresh = await context.newPage();
    await fresh.goto(`${g.url}/`);
    await fresh.waitForSelector('#api-key');
    const keyForm = await axeViolations(fresh);
    await fresh.close();
    await visit(`#/`);
    await page.waitForSelector('#fleet-table tbody tr');
    const fleet = await axeViolations(page);
    // The transformer view with every panel answered (the previous test's answers are gone with the reload).
    await visit(`#/dt/${ASSET.dt_id}`);
    await page.waitForSelector('#chart-envelope canvas');
    await page.waitForSelector('#meters-table');
    await page.waitForSelector('#dispatch-table');
    await page.click('#whatif-hosting button[type=submit]');
    await page.waitForSelector('#whatif-hosting .answer');
    // A chart's data table open too: the screen reader's way to its figures.
    await page.click('#chart-heat summary');
    await page.waitForSelector('#chart-heat .chart-table tbody tr');
    const transformer = await axeViolations(page);
    expect({ keyForm, fleet, transformer }).toEqual({ keyForm: [], fleet: [], transformer: [] });
  });

  it('follows new slots without a reload, one update after another', async () => {
    const dtId = topology.transformers[0]!.dt_id;
    await page.evaluate("localStorage.setItem('gridstream.console.poll-s', '1')");
    await visit(`#/dt/${dtId}`);
    await page.waitForSelector('#chart-load canvas');
    const marker = await page.evaluate('window.marker = 42');
    const zone = ((await api(`/v1/fleet?dt_id=${dtId}`)).transformers as Json[])[0]!.timezone as string;
    let from = END;
    for (const slots of [2, 3]) {
      const before = Number(await page.getAttribute('#chart-load', 'data-points'));
      const to = from + slots * SLOT_MS;
      await simulateInto(g, { ...SIM, start: from, end: to, now: to }, 60_000);
      from = to;
      const profile = await api(`/v1/dt/${dtId}/load-profile?days=30`);
      expect(profile.slots.length).toBeGreaterThan(before);
      const newest = (profile.slots as Json[]).at(-1)!;
      await expect
        .poll(() => text('#dt-facts [data-field=newest_slot]'), { timeout: 20_000 })
        .toContain(`${dateTime(newest.slot_start, zone)}: ${num(newest.net_mean_kw, 1)} kW`);
      await expect
        .poll(() => page.getAttribute('#chart-load', 'data-points'))
        .toBe(String(profile.slots.length));
    }
    // The same page: no reload happened.
    expect(await page.evaluate('window.marker')).toBe(marker);
  });

  it('moving from one DT to another shows only the second one’s figures, never a false "no transformer"', async () => {
    const [a, b] = topology.transformers;
    await visit(`#/dt/${a!.dt_id}`);
    await page.waitForSelector('#dt-facts');
    // Every alert the page raises from now on is kept.
    await page.evaluate(`window.alerts = [];
      new MutationObserver(() => document.querySelectorAll('[role=alert]').forEach((e) => window.alerts.push(e.textContent)))
        .observe(document.body, { childList: true, subtree: true, characterData: true });`);
    // As a link to another DT does (the site screen's candidates): the hash changes, the page stays.
    await page.evaluate(`location.hash = '#/dt/${b!.dt_id}'`);
    await expect.poll(() => text('#dt-title')).toBe(`Transformer ${b!.dt_id}`);
    await page.waitForSelector('#dt-facts');
    const dt = ((await api(`/v1/fleet?dt_id=${b!.dt_id}`)).transformers as Json[])[0]!;
    expect(await text('#dt-facts [data-field=feeder_id]')).toBe(dt.feeder_id);
    expect(await text('#dt-facts [data-field=rated_kva]')).toBe(`${num(dt.rated_kva, 0)} kVA`);
    const profile = await api(`/v1/dt/${b!.dt_id}/load-profile?days=30`);
    await expect
      .poll(() => page.getAttribute('#chart-load', 'data-points'))
      .toBe(String(profile.slots.length));
    expect(await page.evaluate('window.alerts')).toEqual([]);
  });

  it('a key refused while the console is open (revoked) brings back the key form with the reason', async () => {
    await visit('#/');
    await page.waitForSelector('#fleet-table tbody tr');
    expectedStatus = 401;
    await page.evaluate(
      "sessionStorage.setItem('gridstream.api-key', 'revoked-key-000000000000000000000000')",
    );
    // The next refresh (every second here) presents the refused key.
    await expect.poll(() => page.locator('#key-message').count(), { timeout: 10_000 }).toBe(1);
    expect(await text('#key-message')).toContain('The API key was not accepted: the API key is not valid');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expectedStatus = null;
    await page.fill('#api-key', TEST_API_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('#fleet-table tbody tr');
    await page.evaluate("localStorage.removeItem('gridstream.console.poll-s')");
  });

  it('the page logged no error and no call failed but those a test expected (CSP included)', () => {
    expect(pageErrors).toEqual([]);
    expect(unexpectedFailures).toEqual([]);
  });
});

import { useEffect, useMemo, useState } from 'preact/hooks';
import { TimeChart, type ChartSeries } from './chart.js';
import { dateTime, DASH, lossOfLife, num, pct, pct100 } from './format.js';
import type {
  DtDispatches,
  DtMeters,
  Envelopes,
  EnvelopeSlot,
  Fleet,
  FleetDt,
  LoadProfile,
  MeterLeg,
  ProfileSlot,
  Stress,
} from './types.js';
import { ErrorNote, useApi, type Loaded } from './use-api.js';
import { WhatIf } from './what-if.js';

const DAY_MS = 86_400_000;
const SLOT_MS = 900_000;
/** Days of load profile the view shows. */
const PROFILE_DAYS = 30;
const LEG_COLOURS = ['#c0392b', '#2471a3', '#1e8449'];

const ms = (iso: string) => Date.parse(iso);

/**
 * The last 30 days of the DT's load profile, following new slots: asked for whole until it has slots, then only
 * from its newest slot on (which may still be revised), keeping 30 days.
 */
function useLiveProfile(id: string): Loaded<LoadProfile> {
  const base = `/v1/dt/${encodeURIComponent(id)}/load-profile`;
  const [profile, setProfile] = useState<LoadProfile | undefined>(undefined);
  const empty = !profile || profile.slots.length === 0;
  const first = useApi<LoadProfile>(`${base}?days=${PROFILE_DAYS}`, empty);
  const since = empty ? null : profile.slots.at(-1)!.slot_start;
  const update = useApi<LoadProfile>(since ? `${base}?from=${encodeURIComponent(since)}` : null, true);
  useEffect(() => {
    if (first.data) setProfile(first.data);
  }, [first.data]);
  useEffect(() => {
    const fresh = update.data;
    if (!fresh || fresh.slots.length === 0) return;
    setProfile((old) => {
      if (!old) return old;
      const from = ms(fresh.slots[0]!.slot_start);
      const horizon = ms(fresh.slots.at(-1)!.slot_start) - PROFILE_DAYS * DAY_MS;
      const kept = old.slots.filter((s) => ms(s.slot_start) < from && ms(s.slot_start) > horizon);
      return { ...fresh, from: old.from, slots: [...kept, ...fresh.slots] };
    });
  }, [update.data]);
  return {
    ...first,
    data: profile,
    at: update.at ?? first.at,
    error: profile ? update.error : first.error,
  };
}

/** One DT: its load, heat, next day's headroom, voltage, service drops, dispatches and what-if judges. */
export function TransformerView({ id, focus }: { id: string; focus: boolean }) {
  const path = (tail: string) => `/v1/dt/${encodeURIComponent(id)}/${tail}`;
  const fleet = useApi<Fleet>(`/v1/fleet?dt_id=${encodeURIComponent(id)}`, true);
  const profile = useLiveProfile(id);
  const stress = useApi<Stress>(path('stress?days=7'), true);
  const envelopes = useApi<Envelopes>(path('envelopes'), true);
  const meters = useApi<DtMeters>(path('meters?days=30'), true);
  const dispatches = useApi<DtDispatches>(path('dispatches'), true);
  const dt = fleet.data?.transformers.find((t) => t.dt_id === id);
  const zone = dt?.timezone;
  useEffect(() => {
    if (focus) document.getElementById('dt-title')?.focus();
  }, []);
  const missing = fleet.data && !dt;
  return (
    <article aria-labelledby="dt-title" class="dt">
      <p>
        <a href="#/">← Fleet</a>
      </p>
      <h1 id="dt-title" tabIndex={-1}>
        Transformer {id}
      </h1>
      <ErrorNote error={fleet.error} />
      {missing && (
        <p class="error" role="alert">
          No transformer {id} among this key's transformers.
        </p>
      )}
      {dt && <DtFacts dt={dt} profile={profile.data} at={profile.at} />}
      <LoadSection profile={profile} rating={dt?.rated_kva} zone={zone} />
      <HeatSection stress={stress} zone={zone} />
      <NextDaySection envelopes={envelopes} zone={zone} />
      <VoltageSection profile={profile} zone={zone} />
      <MetersSection meters={meters} />
      <DispatchSection dispatches={dispatches} zone={zone} />
      {dt && <WhatIf dt={dt} />}
    </article>
  );
}

function DtFacts({
  dt,
  profile,
  at,
}: {
  dt: FleetDt;
  profile: LoadProfile | undefined;
  at: Date | undefined;
}) {
  const newest = profile?.slots.at(-1);
  // Tier and 30-day coverage as of the newest complete slot (the open one may still be revised).
  const complete = profile?.slots.findLast((s) => s.is_final);
  const quality = complete ?? { ...dt, slot_start: null };
  return (
    <dl class="facts" id="dt-facts">
      <div>
        <dt>Feeder</dt>
        <dd data-field="feeder_id">{dt.feeder_id}</dd>
      </div>
      <div>
        <dt>Rating</dt>
        <dd data-field="rated_kva">{num(dt.rated_kva, 0)} kVA</dd>
      </div>
      <div>
        <dt>Meters</dt>
        <dd data-field="meters_connected">{dt.meters_connected}</dd>
      </div>
      <div>
        <dt>Data quality</dt>
        <dd data-field="data_quality">
          <span class={`tier tier-${quality.data_quality}`}>{quality.data_quality}</span>
        </dd>
      </div>
      <div>
        <dt>AMI coverage, 30 days</dt>
        <dd data-field="ami_coverage_pct">
          {pct100(quality.ami_coverage_pct)}
          {quality.slot_start ? ` to ${dateTime(quality.slot_start, dt.timezone).slice(11)}` : ''}
        </dd>
      </div>
      <div>
        <dt>Stress, next 24 h</dt>
        <dd data-field="stress_prob">
          thermal {pct(dt.thermal_stress_prob)}, voltage {pct(dt.voltage_stress_prob)}
        </dd>
      </div>
      <div>
        <dt>Newest slot</dt>
        <dd data-field="newest_slot">
          {newest ? `${dateTime(newest.slot_start, dt.timezone)}: ${num(newest.net_mean_kw, 1)} kW` : DASH}
          {newest && !newest.is_final ? ', still open' : ''}
        </dd>
      </div>
      <div>
        <dt>Checked</dt>
        <dd>{at ? at.toLocaleTimeString('en-GB') : DASH}</dd>
      </div>
    </dl>
  );
}

function LoadSection({
  profile,
  rating,
  zone,
}: {
  profile: Loaded<LoadProfile>;
  rating?: number;
  zone?: string;
}) {
  const chart = useMemo(() => {
    const slots = profile.data?.slots ?? [];
    const x = slots.map((s) => ms(s.slot_start));
    const series: ChartSeries[] = [
      { label: 'max kW', values: slots.map((s) => s.max_kw), color: '#9ab', width: 1 },
      { label: 'min kW', values: slots.map((s) => s.min_kw), color: '#9ab', width: 1 },
      { label: 'net mean kW', values: slots.map((s) => s.net_mean_kw), color: '#1f4e79', width: 1.5 },
      { label: 'p95 kW', values: slots.map((s) => s.p95_kw), color: '#e67e22', width: 1 },
      {
        label: 'imputed part kW',
        values: slots.map((s) => (s.imputed_kw === 0 ? null : s.imputed_kw)),
        color: '#8e44ad',
        bars: true,
      },
    ];
    if (rating !== undefined)
      series.push({ label: 'rating kVA', values: slots.map(() => rating), color: '#c0392b', dash: [6, 4] });
    return { x, series, bands: [[0, 1, 'rgba(120,150,180,0.25)']] as Array<[number, number, string]> };
  }, [profile.data, rating]);
  const slots = profile.data?.slots ?? [];
  const imputed = slots.filter((s) => s.profile_source !== 'measured').length;
  const peak = slots.reduce<ProfileSlot | null>((m, s) => (m === null || s.max_kw > m.max_kw ? s : m), null);
  return (
    <section aria-labelledby="load-title">
      <h2 id="load-title">Load, last {PROFILE_DAYS} days</h2>
      <ErrorNote error={profile.error} />
      {profile.data && (
        <>
          <p class="summary" id="load-summary">
            {slots.length} slots · peak {num(peak?.max_kw, 1)} kW at {dateTime(peak?.slot_start, zone)} ·{' '}
            {imputed} slot{imputed === 1 ? '' : 's'} imputed or modelled
          </p>
          <TimeChart
            id="chart-load"
            title="Net load per 15-minute slot: mean, min–max band, p95, the imputed part (bars), and the rating"
            description={`Load profile of ${slots.length} slots; peak ${num(peak?.max_kw, 1)} kW`}
            x={chart.x}
            series={chart.series}
            bands={chart.bands}
            yLabel="kW"
            timeZone={zone}
            height={280}
          />
        </>
      )}
    </section>
  );
}

function HeatSection({ stress, zone }: { stress: Loaded<Stress>; zone?: string }) {
  const chart = useMemo(() => {
    const slots = stress.data?.slots ?? [];
    const limits = stress.data?.limits;
    const series: ChartSeries[] = [
      { label: 'hot spot °C', values: slots.map((s) => s.hot_spot_c), color: '#c0392b' },
      { label: 'top oil °C', values: slots.map((s) => s.top_oil_c), color: '#e67e22' },
      { label: 'ambient °C', values: slots.map((s) => s.ambient_c), color: '#2471a3' },
    ];
    if (limits) {
      series.push({
        label: 'hot-spot limit',
        values: slots.map(() => limits.hot_spot_c),
        color: '#c0392b',
        dash: [6, 4],
      });
      series.push({
        label: 'top-oil limit',
        values: slots.map(() => limits.top_oil_c),
        color: '#e67e22',
        dash: [6, 4],
      });
    }
    return { x: slots.map((s) => ms(s.slot_start)), series };
  }, [stress.data]);
  const summary = stress.data?.summary;
  const limits = stress.data?.limits;
  return (
    <section aria-labelledby="heat-title">
      <h2 id="heat-title">Heat, last 7 days</h2>
      <ErrorNote error={stress.error} />
      {stress.data && summary && (
        <>
          <p class="summary" id="heat-summary">
            peak hot spot {num(summary.peak_hot_spot_c, 1)} °C
            {limits
              ? ` (limit ${num(limits.hot_spot_c, 0)} °C, top oil ${num(limits.top_oil_c, 0)} °C)`
              : ''}{' '}
            · highest load factor {num(summary.max_load_factor, 2)} · loss of life{' '}
            {lossOfLife(summary.loss_of_life_min)} · {summary.thermal_exceedances} thermal and{' '}
            {summary.voltage_exceedances} voltage exceedance
            {summary.voltage_exceedances === 1 ? '' : 's'}
          </p>
          <TimeChart
            id="chart-heat"
            title="Top-oil and hot-spot temperatures with their limits, and the ambient"
            description={`Thermal state of ${summary.slots} slots; peak hot spot ${num(summary.peak_hot_spot_c, 1)} °C`}
            x={chart.x}
            series={chart.series}
            yLabel="°C"
            timeZone={zone}
          />
        </>
      )}
    </section>
  );
}

/** Consecutive slots with the same binding limits, as one line of the table. */
function bindingRuns(slots: EnvelopeSlot[]) {
  const runs: Array<{ from: string; to: string; imports: string; exports: string; slots: EnvelopeSlot[] }> =
    [];
  for (const s of slots) {
    const imports = s.import_limited_by ?? DASH;
    const exports = s.export_limited_by ?? DASH;
    const last = runs.at(-1);
    const end = new Date(ms(s.slot_start) + SLOT_MS).toISOString();
    if (last && last.imports === imports && last.exports === exports) {
      last.to = end;
      last.slots.push(s);
    } else runs.push({ from: s.slot_start, to: end, imports, exports, slots: [s] });
  }
  return runs;
}

function NextDaySection({ envelopes, zone }: { envelopes: Loaded<Envelopes>; zone?: string }) {
  const ahead = useMemo(() => {
    const issued = envelopes.data?.newest_issued_at;
    return (envelopes.data?.slots ?? []).filter((s) => s.issued_at === issued);
  }, [envelopes.data]);
  const headroom = useMemo(
    () => ({
      x: ahead.map((s) => ms(s.slot_start)),
      series: [
        { label: 'import headroom kW', values: ahead.map((s) => s.import_kw), color: '#1f4e79' },
        { label: 'export headroom kW', values: ahead.map((s) => s.export_kw), color: '#1e8449' },
        { label: 'forecast load kW', values: ahead.map((s) => s.base_kw), color: '#7f8c8d', dash: [4, 3] },
      ] as ChartSeries[],
    }),
    [ahead],
  );
  const probabilities = useMemo(
    () => ({
      x: ahead.map((s) => ms(s.slot_start)),
      series: [
        {
          label: 'thermal stress %',
          values: ahead.map((s) => (s.thermal_stress_prob === null ? null : s.thermal_stress_prob * 100)),
          color: '#c0392b',
        },
        {
          label: 'voltage stress %',
          values: ahead.map((s) => (s.voltage_stress_prob === null ? null : s.voltage_stress_prob * 100)),
          color: '#8e44ad',
        },
      ] as ChartSeries[],
    }),
    [ahead],
  );
  const yRange = useMemo(() => [0, 100] as [number, number], []);
  const runs = bindingRuns(ahead);
  return (
    <section aria-labelledby="next-title">
      <h2 id="next-title">Next 24 h: operating envelope and stress</h2>
      <ErrorNote error={envelopes.error} />
      {envelopes.data && ahead.length === 0 && <p>No operating envelope has been issued for this DT yet.</p>}
      {ahead.length > 0 && (
        <>
          <p class="summary" id="envelope-summary">
            issued {dateTime(envelopes.data?.newest_issued_at, zone)} · {ahead.length} slots · least import
            headroom {num(Math.min(...ahead.map((s) => s.import_kw ?? Infinity)), 1)} kW · least export
            headroom {num(Math.min(...ahead.map((s) => s.export_kw ?? Infinity)), 1)} kW
          </p>
          <TimeChart
            id="chart-envelope"
            title="Import and export headroom per slot, and the forecast load"
            description={`Operating envelope of ${ahead.length} slots`}
            x={headroom.x}
            series={headroom.series}
            yLabel="kW"
            timeZone={zone}
          />
          <TimeChart
            id="chart-stress"
            title="Forecast thermal and voltage stress probability per slot"
            description={`Stress probabilities of ${ahead.length} slots`}
            x={probabilities.x}
            series={probabilities.series}
            yLabel="%"
            yRange={yRange}
            timeZone={zone}
            height={180}
          />
          <table id="binding-table">
            <caption>Which limit binds, by period</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col">Until</th>
                <th scope="col">Import limited by</th>
                <th scope="col">Export limited by</th>
                <th scope="col">Least import headroom</th>
                <th scope="col">Highest stress</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.from}>
                  <td>{dateTime(r.from, zone)}</td>
                  <td>{dateTime(r.to, zone)}</td>
                  <td>{r.imports}</td>
                  <td>{r.exports}</td>
                  <td class="n">{num(Math.min(...r.slots.map((s) => s.import_kw ?? Infinity)), 1)} kW</td>
                  <td class="n">
                    {pct(
                      Math.max(
                        ...r.slots.map((s) =>
                          Math.max(s.thermal_stress_prob ?? 0, s.voltage_stress_prob ?? 0),
                        ),
                      ),
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function VoltageSection({ profile, zone }: { profile: Loaded<LoadProfile>; zone?: string }) {
  const chart = useMemo(() => {
    const slots = profile.data?.slots ?? [];
    const legs = [...new Set(slots.flatMap((s) => s.legs.map((l) => l.leg)))].sort((a, b) => a - b);
    const series: ChartSeries[] = [];
    const bands: Array<[number, number, string]> = [];
    legs.forEach((leg, i) => {
      const colour = LEG_COLOURS[i % LEG_COLOURS.length]!;
      const of = (pick: (l: ProfileSlot['legs'][number]) => number) =>
        slots.map((s) => {
          const found = s.legs.find((l) => l.leg === leg);
          return found ? pick(found) : null;
        });
      bands.push([series.length, series.length + 1, `${colour}22`]);
      series.push({ label: `leg ${leg} max V`, values: of((l) => l.v_max), color: colour, width: 1 });
      series.push({ label: `leg ${leg} min V`, values: of((l) => l.v_min), color: colour, width: 1 });
    });
    return { x: slots.map((s) => ms(s.slot_start)), series, bands, legs };
  }, [profile.data]);
  if (!profile.data) return null;
  return (
    <section aria-labelledby="voltage-title">
      <h2 id="voltage-title">Voltage band per leg, last {PROFILE_DAYS} days</h2>
      {chart.legs.length === 0 ? (
        <p>No voltage readings.</p>
      ) : (
        <TimeChart
          id="chart-voltage"
          title="Lowest and highest customer voltage per leg and slot"
          description={`Voltage band of ${chart.legs.length} legs`}
          x={chart.x}
          series={chart.series}
          bands={chart.bands}
          yLabel="V"
          timeZone={zone}
        />
      )}
    </section>
  );
}

/** The change of a leg's median over the range: newest day against the first, in percent. */
function trend(leg: MeterLeg): number | null {
  const first = leg.days[0];
  const last = leg.days.at(-1);
  if (!first || !last || first === last || first.median_mohm === 0) return null;
  return ((last.median_mohm - first.median_mohm) / first.median_mohm) * 100;
}

function MetersSection({ meters }: { meters: Loaded<DtMeters> }) {
  const [chosen, setChosen] = useState<string | null>(null);
  const list = meters.data?.meters ?? [];
  const meter = list.find((m) => m.meter_id === chosen);
  const chart = useMemo(() => {
    if (!meter) return null;
    const days = [...new Set(meter.legs.flatMap((l) => l.days.map((d) => d.day)))].sort();
    const x = days.map((d) => Date.parse(`${d}T00:00:00Z`));
    const series: ChartSeries[] = meter.legs.map((leg, i) => {
      const byDay = new Map(leg.days.map((d) => [d.day, d.median_mohm]));
      return {
        label: `leg ${leg.leg} mΩ`,
        values: days.map((d) => byDay.get(d) ?? null),
        color: LEG_COLOURS[i % LEG_COLOURS.length]!,
      };
    });
    return { x, series };
  }, [meter]);
  return (
    <section aria-labelledby="meters-title">
      <h2 id="meters-title">Service drops: impedance of the last 30 days</h2>
      <ErrorNote error={meters.error} />
      {meters.data && (
        <>
          <p class="summary" id="meters-summary">
            {list.length} meters · {meters.data.flagged_meters} flagged
          </p>
          <div class="table-wrap">
            <table id="meters-table">
              <caption>Meters by impedance flags, with each leg's newest daily median and its change</caption>
              <thead>
                <tr>
                  <th scope="col">Meter</th>
                  <th scope="col">Service point</th>
                  <th scope="col">Newest median per leg</th>
                  <th scope="col">Change over the range</th>
                  <th scope="col">Flags</th>
                  <th scope="col">Trend</th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => (
                  <tr key={m.meter_id} data-meter={m.meter_id} class={m.flag_count > 0 ? 'flagged-row' : ''}>
                    <th scope="row">{m.meter_id}</th>
                    <td>{m.service_point_id ?? DASH}</td>
                    <td data-field="latest_median_mohm">
                      {m.legs.length === 0
                        ? DASH
                        : m.legs.map((l) => `L${l.leg} ${num(l.latest_median_mohm, 1)} mΩ`).join(' · ')}
                    </td>
                    <td>
                      {m.legs.length === 0
                        ? DASH
                        : m.legs
                            .map((l) => {
                              const t = trend(l);
                              return `L${l.leg} ${t === null ? DASH : `${t >= 0 ? '+' : ''}${num(t, 1)} %`}`;
                            })
                            .join(' · ')}
                    </td>
                    <td data-field="flag_count">
                      {m.flag_count === 0
                        ? '0'
                        : `${m.flag_count} (${[...new Set(m.legs.flatMap((l) => l.flags.map((f) => f.kind)))].join(', ')})`}
                    </td>
                    <td>
                      {m.legs.length > 0 && (
                        <button
                          type="button"
                          aria-pressed={chosen === m.meter_id}
                          onClick={() => setChosen(chosen === m.meter_id ? null : m.meter_id)}
                        >
                          {chosen === m.meter_id ? 'Hide' : 'Show'}{' '}
                          <span class="sr-only">trend of {m.meter_id}</span>
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {meter && chart && (
            <TimeChart
              id="chart-impedance"
              title={`Daily median service-drop impedance of ${meter.meter_id}`}
              description={`Impedance trend of ${meter.meter_id} over ${chart.x.length} days`}
              x={chart.x}
              series={chart.series}
              yLabel="mΩ"
              timeZone="UTC"
              height={200}
            />
          )}
        </>
      )}
    </section>
  );
}

function DispatchSection({ dispatches, zone }: { dispatches: Loaded<DtDispatches>; zone?: string }) {
  // Newest first: the API lists them oldest first.
  const rows = [...(dispatches.data?.dispatches ?? [])].reverse();
  return (
    <section aria-labelledby="dispatch-title">
      <h2 id="dispatch-title">Dispatches of the last 7 days and the next, and their checks</h2>
      <ErrorNote error={dispatches.error} />
      {dispatches.data && (
        <>
          <p class="summary" id="dispatch-summary">
            {dispatches.data.assets.length} asset{dispatches.data.assets.length === 1 ? '' : 's'} behind this
            DT · {rows.length} command{rows.length === 1 ? '' : 's'}
            {dispatches.data.truncated ? ' (the newest shown)' : ''}
          </p>
          {rows.length > 0 && (
            <div class="table-wrap">
              <table id="dispatch-table">
                <caption>
                  Dispatch commands to the assets behind this DT, with the check against its limits
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Dispatched</th>
                    <th scope="col">Asset</th>
                    <th scope="col">Delivery period</th>
                    <th scope="col">Target</th>
                    <th scope="col">Check</th>
                    <th scope="col">Limit</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((d) => (
                    <tr key={`${d.event_id}/${d.asset_id}/${d.dispatch_time}`}>
                      <td>{dateTime(d.dispatch_time, zone)}</td>
                      <th scope="row">{d.asset_id}</th>
                      <td>{dateTime(d.delivery_period_start, zone)}</td>
                      <td>
                        {d.action === 'cancel'
                          ? 'cancel'
                          : d.target_power
                            ? `${d.target_power.amount} ${d.target_power.unit}`
                            : DASH}
                      </td>
                      <td data-field="check" class={d.check ? `verdict verdict-${d.check.verdict}` : ''}>
                        {d.check?.verdict ?? 'not checked'}
                      </td>
                      <td>
                        {d.check?.limit_kw === null || d.check?.limit_kw === undefined
                          ? DASH
                          : `${num(d.check.limit_kw, 1)} kW (${d.check.limit_source ?? DASH})`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

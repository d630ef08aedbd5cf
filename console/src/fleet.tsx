import { useEffect, useMemo, useState } from 'preact/hooks';
import { dateTime, lossOfLife, num, pct, pct100 } from './format.js';
import type { Fleet, FleetDt } from './types.js';
import { ErrorNote, useApi } from './use-api.js';

/** Transformers a page of the fleet holds. */
const PAGE = 200;
/** A forecast stress probability from which a DT is shown as at risk. */
const AT_RISK = 0.5;

function riskClass(p: number | null): string {
  if (p === null) return 'risk-none';
  if (p >= AT_RISK) return 'risk-high';
  if (p >= 0.2) return 'risk-medium';
  return 'risk-low';
}

/** Every DT of the key's tenant, ranked by forecast stress; filtered by feeder, searched by DT, meter or service point. */
export function FleetView({ focus }: { focus: boolean }) {
  const [feeder, setFeeder] = useState('');
  const [typed, setTyped] = useState('');
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  // A new search or feeder starts again at the first page.
  const search = (q: string) => {
    setQuery(q);
    setOffset(0);
  };
  // Searching as one types, once the typing pauses.
  useEffect(() => {
    const timer = setTimeout(() => search(typed.trim()), 300);
    return () => clearTimeout(timer);
  }, [typed]);
  useEffect(() => {
    if (focus) document.getElementById('fleet-title')?.focus();
  }, []);
  const path = useMemo(() => {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (feeder) params.set('feeder_id', feeder);
    if (query) params.set('q', query);
    return `/v1/fleet?${params}`;
  }, [feeder, query, offset]);
  // Another filter or page keeps the rows shown (and the feeder list) until its answer comes.
  const fleet = useApi<Fleet>(path, true, true);
  const rows = fleet.data?.transformers ?? [];
  const atRisk = rows.filter((dt) => (dt.stress_prob ?? 0) >= AT_RISK).length;
  const flags = rows.reduce((sum, dt) => sum + dt.open_impedance_flags, 0);
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title" tabIndex={-1}>
        Fleet
      </h1>
      <form class="filters" role="search" onSubmit={(e) => (e.preventDefault(), search(typed.trim()))}>
        <div>
          <label for="fleet-search">Search DT, meter or service point</label>
          <input
            id="fleet-search"
            type="search"
            value={typed}
            placeholder="dt-0001, a meter id, a service point"
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="fleet-feeder">Feeder</label>
          <select
            id="fleet-feeder"
            value={feeder}
            onChange={(e) => {
              setFeeder((e.target as HTMLSelectElement).value);
              setOffset(0);
            }}
          >
            <option value="">All feeders</option>
            {(fleet.data?.feeders ?? []).map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </div>
      </form>
      <ErrorNote error={fleet.error} />
      {fleet.data && (
        <p class="summary" id="fleet-summary">
          {fleet.data.total} transformer{fleet.data.total === 1 ? '' : 's'}
          {query ? ` matching “${query}”` : ''}
          {feeder ? ` on ${feeder}` : ''}
          {fleet.data.total > rows.length ? `, ${offset + 1}–${offset + rows.length} shown` : ''} · {atRisk}{' '}
          of those shown with a forecast stress probability of {pct(AT_RISK)} or more · {flags} open impedance
          flag
          {flags === 1 ? '' : 's'} among them
          {fleet.at ? ` · updated ${fleet.at.toLocaleTimeString('en-GB')}` : ''}
        </p>
      )}
      {fleet.loading && !fleet.data && <p aria-live="polite">Loading the fleet…</p>}
      {fleet.data && (
        <div class="table-wrap">
          <table class="fleet" id="fleet-table">
            <caption>
              Transformers ranked by the highest thermal or voltage stress probability forecast for the next
              24 h
            </caption>
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Transformer</th>
                <th scope="col">Feeder</th>
                <th scope="col">Stress (thermal)</th>
                <th scope="col">Stress (voltage)</th>
                <th scope="col">Peak slot</th>
                <th scope="col">Load factor now</th>
                <th scope="col">Loss of life</th>
                <th scope="col">Tier</th>
                <th scope="col">AMI coverage, 30 days</th>
                <th scope="col">Impedance flags</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((dt, i) => (
                <FleetRow key={dt.dt_id} dt={dt} rank={offset + i + 1} />
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p>No transformer matches.</p>}
          {fleet.data.total > PAGE && (
            <nav class="pager" aria-label="Pages of the fleet">
              <button
                type="button"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - PAGE))}
              >
                Previous {PAGE}
              </button>
              <button
                type="button"
                disabled={fleet.data.next_offset === null}
                onClick={() => setOffset(fleet.data?.next_offset ?? offset)}
              >
                Next {PAGE}
              </button>
            </nav>
          )}
        </div>
      )}
    </section>
  );
}

function FleetRow({ dt, rank }: { dt: FleetDt; rank: number }) {
  return (
    <tr data-dt={dt.dt_id}>
      <td class="n">{rank}</td>
      <th scope="row">
        <a href={`#/dt/${encodeURIComponent(dt.dt_id)}`}>{dt.dt_id}</a>
        {dt.matched && (
          <span class="matched">
            {' '}
            meter {dt.matched.meter_id}
            {dt.matched.service_point_id ? `, service point ${dt.matched.service_point_id}` : ''}
          </span>
        )}
      </th>
      <td>{dt.feeder_id}</td>
      <td class={`n ${riskClass(dt.thermal_stress_prob)}`} data-field="thermal_stress_prob">
        {pct(dt.thermal_stress_prob)}
      </td>
      <td class={`n ${riskClass(dt.voltage_stress_prob)}`} data-field="voltage_stress_prob">
        {pct(dt.voltage_stress_prob)}
      </td>
      <td class="nowrap" data-field="peak_stress_slot">
        {dateTime(dt.peak_stress_slot, dt.timezone)}
      </td>
      <td class="n" data-field="load_factor">
        {num(dt.load_factor, 2)}
      </td>
      <td class="n" data-field="loss_of_life_min">
        {lossOfLife(dt.loss_of_life_min)}
      </td>
      <td class="nowrap" data-field="data_quality">
        <span class={`tier tier-${dt.data_quality}`}>{dt.data_quality}</span>
      </td>
      <td class="n" data-field="ami_coverage_pct">
        {pct100(dt.ami_coverage_pct)}
      </td>
      <td class={`n ${dt.open_impedance_flags > 0 ? 'flagged' : ''}`} data-field="open_impedance_flags">
        {dt.open_impedance_flags}
      </td>
    </tr>
  );
}

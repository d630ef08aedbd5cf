import { useContext, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { ApiFailure, callApi } from './api.js';
import { dateTime, DASH, num, pct, timeOfDay } from './format.js';
import type { FleetDt, HostingAnswer, RooftopAnswer, SiteScreenAnswer } from './types.js';
import { ErrorNote, Unauthorized } from './use-api.js';

/** Slots the judges list at most as the ones deciding a verdict. */
const DECIDING_SLOTS = 12;

/** The head both DT judges answer with. */
type Judgement = Pick<
  HostingAnswer,
  | 'reason'
  | 'binding_constraint'
  | 'requested_kwh'
  | 'curtailed_kwh'
  | 'curtailment_schedule'
  | 'envelope_issued_at'
  | 'envelope_source'
  | 'data_quality'
>;

/** A POST to a judge: its answer, its failure, and whether it is under way. */
function useJudge<T>() {
  const unauthorized = useContext(Unauthorized);
  const [state, setState] = useState<{ answer?: T; error?: ApiFailure; busy: boolean }>({ busy: false });
  const run = async (path: string, body: unknown) => {
    setState({ busy: true });
    try {
      setState({ answer: await callApi<T>(path, { method: 'POST', body }), busy: false });
    } catch (error) {
      const failure = error instanceof ApiFailure ? error : new ApiFailure(0, 'network', String(error));
      if (failure.status === 401) unauthorized(failure.message);
      setState({ error: failure, busy: false });
    }
  };
  return { ...state, run };
}

const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;

function Field(props: { id: string; label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
    </div>
  );
}

/** A labelled input whose text goes to `onValue`. */
function Input(props: {
  id: string;
  label: string;
  value: string;
  onValue: (text: string) => void;
  type?: 'number' | 'text';
  min?: string;
  max?: string;
  step?: string;
  required?: boolean;
}) {
  return (
    <Field id={props.id} label={props.label}>
      <input
        id={props.id}
        // Preact's types take one literal type a time; both are plain inputs.
        type={(props.type ?? 'text') as 'text'}
        min={props.min}
        max={props.max}
        step={props.step}
        required={props.required}
        value={props.value}
        onInput={(e) => props.onValue(value(e))}
      />
    </Field>
  );
}

/** A judge's form: its fields side by side, the button, the API's refusal, and the answer below. */
function JudgeForm(props: {
  id: string;
  title: string;
  action: string;
  judge: { busy: boolean; error?: ApiFailure | undefined };
  onSubmit: () => void;
  answer: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <form
      class="panel"
      id={props.id}
      aria-labelledby={`${props.id}-title`}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      <h3 id={`${props.id}-title`}>{props.title}</h3>
      {props.children}
      <button type="submit" disabled={props.judge.busy}>
        {props.action}
      </button>
      <ErrorNote error={props.judge.error} />
      {props.answer}
    </form>
  );
}

function VerdictHead({ j, verdict, zone }: { j: Judgement; verdict: string; zone?: string | undefined }) {
  return (
    <div class="verdict-head" role="status">
      <p>
        <span class={`verdict verdict-${verdict}`} data-field="verdict">
          {verdict}
        </span>{' '}
        {j.reason}
      </p>
      <p class="summary">
        binding limit {j.binding_constraint ?? DASH} · requested {num(j.requested_kwh, 1)} kWh · curtailed{' '}
        {num(j.curtailed_kwh, 1)} kWh · envelope issued {dateTime(j.envelope_issued_at, zone)} (
        {j.envelope_source}, {j.data_quality})
      </p>
      {j.curtailment_schedule.length > 0 && (
        <p class="summary">
          Curtail:{' '}
          {j.curtailment_schedule
            .map((w) => `${timeOfDay(w.from, zone)}–${timeOfDay(w.to, zone)} at most ${num(w.max_kw, 1)} kW`)
            .join('; ')}
        </p>
      )}
    </div>
  );
}

/** Hosting capacity, rooftop PV sanction and EV site screening, on this DT's newest operating envelope. */
export function WhatIf({ dt }: { dt: FleetDt }) {
  return (
    <section aria-labelledby="whatif-title">
      <h2 id="whatif-title">What if</h2>
      <div class="whatif">
        <HostingPanel dt={dt} />
        <RooftopPanel dt={dt} />
        <SiteScreenPanel dt={dt} />
      </div>
    </section>
  );
}

type HostingSlot = HostingAnswer['slots'][number];
/** What of the addition a slot cannot take, kW. */
const shortfall = (s: HostingSlot) => Math.abs(s.addition_kw) - s.allowed_kw;
/** The headroom a slot keeps in the addition's direction once it is added, kW. */
const headroomLeft = (s: HostingSlot) =>
  s.addition_kw >= 0 ? s.headroom_after.import_kw : s.headroom_after.export_kw;

function HostingPanel({ dt }: { dt: FleetDt }) {
  const [type, setType] = useState('ev');
  const [kw, setKw] = useState('7.4');
  const [schedule, setSchedule] = useState('18:00-23:00');
  const [mode, setMode] = useState('charge');
  const judge = useJudge<HostingAnswer>();
  const submit = () => {
    const addition: Record<string, unknown> = { type, kw: Number(kw) };
    if (schedule.trim()) addition.schedule = schedule.trim();
    if (type === 'bess') addition.mode = mode;
    void judge.run('/v1/dt/hosting-capacity', { dt_id: dt.dt_id, additions: [addition] });
  };
  const a = judge.answer;
  // The slots that decide the verdict: those the additions do not fit in, else those with the least headroom left.
  const deciding = a
    ? [...a.slots]
        .filter((s) => s.addition_kw !== 0)
        .sort((x, y) => shortfall(y) - shortfall(x) || headroomLeft(x) - headroomLeft(y))
        .slice(0, DECIDING_SLOTS)
        .sort((x, y) => x.slot_start.localeCompare(y.slot_start))
    : [];
  return (
    <JudgeForm
      id="whatif-hosting"
      title="Hosting capacity for an addition"
      action="Judge"
      judge={judge}
      onSubmit={submit}
      answer={
        a && (
          <div class="answer">
            <VerdictHead j={a} verdict={a.verdict} zone={dt.timezone} />
            <table>
              <caption>The slots that decide it</caption>
              <thead>
                <tr>
                  <th scope="col">Slot</th>
                  <th scope="col">Addition</th>
                  <th scope="col">Headroom before</th>
                  <th scope="col">Allowed</th>
                  <th scope="col">Binding</th>
                </tr>
              </thead>
              <tbody>
                {deciding.map((s) => (
                  <tr key={s.slot_start}>
                    <td>{dateTime(s.slot_start, dt.timezone)}</td>
                    <td class="n">{num(s.addition_kw, 1)} kW</td>
                    <td class="n">
                      {num(s.addition_kw >= 0 ? s.headroom_before.import_kw : s.headroom_before.export_kw, 1)}{' '}
                      kW
                    </td>
                    <td class="n">{num(s.allowed_kw, 1)} kW</td>
                    <td>{s.binding_constraint ?? DASH}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    >
      <Field id="hosting-type" label="Addition">
        <select id="hosting-type" value={type} onChange={(e) => setType(value(e))}>
          <option value="ev">EV charger</option>
          <option value="heat_pump">Heat pump</option>
          <option value="pv">PV</option>
          <option value="bess">Battery</option>
        </select>
      </Field>
      <Input
        id="hosting-kw"
        label="Power, kW"
        type="number"
        min="0.1"
        step="0.1"
        required
        value={kw}
        onValue={setKw}
      />
      <Input
        id="hosting-schedule"
        label="Schedule, local time (HH:MM-HH:MM; empty for PV: the sun)"
        value={schedule}
        onValue={setSchedule}
      />
      {type === 'bess' && (
        <Field id="hosting-mode" label="Battery mode">
          <select id="hosting-mode" value={mode} onChange={(e) => setMode(value(e))}>
            <option value="charge">charge</option>
            <option value="discharge">discharge</option>
          </select>
        </Field>
      )}
    </JudgeForm>
  );
}

function RooftopPanel({ dt }: { dt: FleetDt }) {
  const [kwp, setKwp] = useState('6');
  const [inverter, setInverter] = useState('5');
  const [exportLimit, setExportLimit] = useState('');
  const judge = useJudge<RooftopAnswer>();
  const submit = () => {
    void judge.run('/v1/rooftop/sanction-check', {
      dt_id: dt.dt_id,
      pv_kwp: Number(kwp),
      ...(inverter.trim() ? { inverter_kw: Number(inverter) } : {}),
      ...(exportLimit.trim() ? { export_limit_kw: Number(exportLimit) } : {}),
    });
  };
  const a = judge.answer;
  const deciding = a
    ? a.slots
        .filter((s) => s.pv_kw > 0 && (s.pv_kw > s.allowed_kw || s.reverse_flow_probability >= 0.5))
        .slice(0, DECIDING_SLOTS)
    : [];
  return (
    <JudgeForm
      id="whatif-rooftop"
      title="Rooftop PV sanction check"
      action="Check"
      judge={judge}
      onSubmit={submit}
      answer={
        a && (
          <div class="answer">
            <VerdictHead j={a} verdict={a.recommendation} zone={dt.timezone} />
            <p class="summary">
              PV peak {num(a.pv_peak_kw, 1)} kW · reverse power flow up to{' '}
              {pct(a.reverse_power_flow.max_probability)} ({a.reverse_power_flow.slots_likely} slots likely) ·
              voltage rise curtails {num(a.voltage_rise.curtailed_kwh, 1)} kWh in {a.voltage_rise.slots_over}{' '}
              slots
            </p>
            {deciding.length === 0 ? (
              <p>No slot curtails the PV or is likely to reverse the DT's flow.</p>
            ) : (
              <table>
                <caption>The slots that decide it</caption>
                <thead>
                  <tr>
                    <th scope="col">Slot</th>
                    <th scope="col">PV</th>
                    <th scope="col">Export headroom</th>
                    <th scope="col">Allowed</th>
                    <th scope="col">Reverse flow</th>
                    <th scope="col">Binding</th>
                  </tr>
                </thead>
                <tbody>
                  {deciding.map((s) => (
                    <tr key={s.slot_start}>
                      <td>{dateTime(s.slot_start, dt.timezone)}</td>
                      <td class="n">{num(s.pv_kw, 1)} kW</td>
                      <td class="n">{num(s.export_headroom_kw, 1)} kW</td>
                      <td class="n">{num(s.allowed_kw, 1)} kW</td>
                      <td class="n">{pct(s.reverse_flow_probability)}</td>
                      <td>{s.binding_constraint ?? DASH}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        )
      }
    >
      <Input
        id="rooftop-kwp"
        label="PV peak, kWp"
        type="number"
        min="0.1"
        step="0.1"
        required
        value={kwp}
        onValue={setKwp}
      />
      <Input
        id="rooftop-inverter"
        label="Inverter, kW"
        type="number"
        min="0.1"
        step="0.1"
        value={inverter}
        onValue={setInverter}
      />
      <Input
        id="rooftop-export"
        label="Export limit, kW (optional)"
        type="number"
        min="0"
        step="0.1"
        value={exportLimit}
        onValue={setExportLimit}
      />
    </JudgeForm>
  );
}

function SiteScreenPanel({ dt }: { dt: FleetDt }) {
  const [latitude, setLatitude] = useState(String(dt.latitude ?? ''));
  const [longitude, setLongitude] = useState(String(dt.longitude ?? ''));
  const [radius, setRadius] = useState('5');
  const [station, setStation] = useState('22');
  const [dwell, setDwell] = useState('08:00-18:00');
  const judge = useJudge<SiteScreenAnswer>();
  const submit = () => {
    void judge.run('/v1/ev/site-screen', {
      latitude: Number(latitude),
      longitude: Number(longitude),
      radius_km: Number(radius),
      station_kw: Number(station),
      dwell: { schedule: dwell.trim() },
    });
  };
  const a = judge.answer;
  return (
    <JudgeForm
      id="whatif-site"
      title="EV site screen around this DT"
      action="Screen"
      judge={judge}
      onSubmit={submit}
      answer={
        a && (
          <div class="answer">
            <p role="status">
              {a.total} candidate DT{a.total === 1 ? '' : 's'} within {radius} km
            </p>
            <table>
              <caption>Candidate DTs, by the share of the dwell energy that fits</caption>
              <thead>
                <tr>
                  <th scope="col">DT</th>
                  <th scope="col">Distance</th>
                  <th scope="col">Fits</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Binding</th>
                  <th scope="col">Whole station fits</th>
                </tr>
              </thead>
              <tbody>
                {a.candidates.map((c) => (
                  <tr key={c.dt_id}>
                    <th scope="row">
                      <a href={`#/dt/${encodeURIComponent(c.dt_id)}`}>{c.dt_id}</a>
                    </th>
                    <td class="n">{num(c.distance_km, 2)} km</td>
                    <td class="n">{pct(c.fit_share)}</td>
                    <td>
                      <span class={`verdict verdict-${c.verdict ?? 'none'}`}>
                        {c.verdict ?? 'no envelope'}
                      </span>
                    </td>
                    <td>{c.binding_constraint ?? DASH}</td>
                    <td>
                      {c.windows.length === 0
                        ? 'never'
                        : c.windows
                            .map((w) => `${timeOfDay(w.from, dt.timezone)}–${timeOfDay(w.to, dt.timezone)}`)
                            .join(', ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    >
      <Input
        id="site-lat"
        label="Latitude"
        type="number"
        step="any"
        required
        value={latitude}
        onValue={setLatitude}
      />
      <Input
        id="site-lon"
        label="Longitude"
        type="number"
        step="any"
        required
        value={longitude}
        onValue={setLongitude}
      />
      <Input
        id="site-radius"
        label="Radius, km"
        type="number"
        min="0.1"
        max="50"
        step="0.1"
        value={radius}
        onValue={setRadius}
      />
      <Input
        id="site-kw"
        label="Station, kW"
        type="number"
        min="0.1"
        step="0.1"
        required
        value={station}
        onValue={setStation}
      />
      <Input
        id="site-dwell"
        label="Dwell, local time (HH:MM-HH:MM)"
        required
        value={dwell}
        onValue={setDwell}
      />
    </JudgeForm>
  );
}

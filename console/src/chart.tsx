import uPlot from 'uplot';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dateTime, num } from './format.js';

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  color: string;
  width?: number;
  dash?: number[];
  /** Drawn as points only (e.g. marks on some slots). */
  points?: boolean;
  /** Drawn as bars from zero (e.g. the imputed part of a slot). */
  bars?: boolean;
}

export interface TimeChartProps {
  /** The figure's id; the browser tests find charts by it. */
  id: string;
  title: string;
  /** What the chart shows, in words, for screen readers. */
  description: string;
  /** Epoch milliseconds, ascending. */
  x: number[];
  series: ChartSeries[];
  /** Fills between two series, by their index in `series`: [upper, lower, fill]. */
  bands?: Array<[number, number, string]>;
  yLabel: string;
  /** The DT's zone, for the time axis (the browser's when unknown). */
  timeZone?: string | undefined;
  height?: number;
  yRange?: [number, number];
}

const DAY_S = 86_400;

function optionsOf(props: TimeChartProps, width: number, onFirstDraw: () => void): uPlot.Options {
  const zone = props.timeZone;
  return {
    width,
    height: props.height ?? 240,
    ...(zone ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), zone) } : {}),
    series: [
      {},
      ...props.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.points ? 0 : (s.width ?? 1.5),
        ...(s.dash ? { dash: s.dash } : {}),
        ...(s.bars ? { paths: uPlot.paths.bars!({ size: [0.9, 12] }), fill: `${s.color}99` } : {}),
        points: s.points ? { show: true, size: 5, fill: s.color, stroke: s.color } : { show: false },
      })),
    ],
    bands: (props.bands ?? []).map(([upper, lower, fill]) => ({ series: [upper + 1, lower + 1], fill })),
    axes: [{ stroke: '#445' }, { label: props.yLabel, stroke: '#445', size: 60 }],
    scales: {
      // A single point (one day of a meter's medians) gets a day either side rather than uPlot's years.
      x: { range: (_u, min, max) => (min === max ? [min - DAY_S, max + DAY_S] : [min, max]) },
      ...(props.yRange ? { y: { range: props.yRange } } : {}),
    },
    cursor: { drag: { x: true, y: false } },
    hooks: { draw: [onFirstDraw] },
  };
}

const dataOf = (props: TimeChartProps) =>
  [props.x.map((ms) => ms / 1000), ...props.series.map((s) => s.values)] as uPlot.AlignedData;

/**
 * A uPlot time-series chart, resized with its container. Made once per shape (series, bands, zone); new data
 * goes into the same plot, so series hidden in the legend stay hidden.
 */
export function TimeChart(props: TimeChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const shape = JSON.stringify({
    series: props.series.map(({ values: _values, ...look }) => look),
    bands: props.bands,
    zone: props.timeZone,
    height: props.height,
    yRange: props.yRange,
    yLabel: props.yLabel,
  });
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    // From the data to the first drawn frame, for the browser test to print (a 2,880-slot profile must stay fast).
    const started = performance.now();
    let drawn = false;
    const firstDraw = () => {
      if (drawn) return;
      drawn = true;
      element.parentElement?.setAttribute('data-draw-ms', (performance.now() - started).toFixed(1));
    };
    const current = latest.current;
    const made = new uPlot(
      optionsOf(current, Math.max(320, element.clientWidth), firstDraw),
      dataOf(current),
      element,
    );
    plot.current = made;
    const observer = new ResizeObserver(() => {
      const width = Math.max(320, element.clientWidth);
      if (width !== made.width) made.setSize({ width, height: made.height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      made.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(dataOf(props));
  }, [props.x, props.series]);
  return (
    <figure class="chart" id={props.id} data-points={props.x.length}>
      <figcaption>{props.title}</figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={props.description} />
      <DataTable {...props} />
    </figure>
  );
}

/** The chart's figures as a table, for screen readers and keyboards: made only once opened. */
function DataTable(props: TimeChartProps) {
  const [open, setOpen] = useState(false);
  return (
    <details class="chart-data" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Data table</summary>
      {open && (
        <div class="table-wrap chart-table" tabIndex={0} role="region" aria-label={`${props.title}: data`}>
          <table>
            <caption>{props.title}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                {props.series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.x.map((ms, i) => (
                <tr key={ms}>
                  <th scope="row">{dateTime(new Date(ms).toISOString(), props.timeZone)}</th>
                  {props.series.map((s) => (
                    <td class="n" key={s.label}>
                      {num(s.values[i], 2)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

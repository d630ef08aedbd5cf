import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  color: string;
  width?: number;
  dash?: number[];
  /** Drawn as points only (e.g. marks on some slots). */
  points?: boolean;
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

/** A uPlot time-series chart: redrawn whenever its data change, resized with its container. */
export function TimeChart(props: TimeChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const height = props.height ?? 240;
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const zone = props.timeZone;
    const options: uPlot.Options = {
      width: Math.max(320, element.clientWidth),
      height,
      ...(zone ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), zone) } : {}),
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.points ? 0 : (s.width ?? 1.5),
          ...(s.dash ? { dash: s.dash } : {}),
          points: s.points ? { show: true, size: 5, fill: s.color, stroke: s.color } : { show: false },
        })),
      ],
      bands: (props.bands ?? []).map(([upper, lower, fill]) => ({ series: [upper + 1, lower + 1], fill })),
      axes: [{ stroke: '#445' }, { label: props.yLabel, stroke: '#445', size: 60 }],
      scales: {
        // A single point (one day of a meter's medians) gets a day either side rather than uPlot's years.
        ...(props.x.length === 1 ? { x: { range: (_u, min, max) => [min - 86_400, max + 86_400] } } : {}),
        ...(props.yRange ? { y: { range: props.yRange } } : {}),
      },
      cursor: { drag: { x: true, y: false } },
    };
    const data = [props.x.map((ms) => ms / 1000), ...props.series.map((s) => s.values)] as uPlot.AlignedData;
    // From the data to the first drawn frame, for the browser test to print (a 2,880-slot profile must stay fast).
    const started = performance.now();
    let drawn = false;
    options.hooks = {
      draw: [
        () => {
          if (drawn) return;
          drawn = true;
          element.parentElement?.setAttribute('data-draw-ms', (performance.now() - started).toFixed(1));
        },
      ],
    };
    const plot = new uPlot(options, data, element);
    const observer = new ResizeObserver(() => {
      const width = Math.max(320, element.clientWidth);
      if (width !== plot.width) plot.setSize({ width, height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series, props.bands, props.timeZone, props.yRange, height, props.yLabel]);
  return (
    <figure class="chart" id={props.id} data-points={props.x.length}>
      <figcaption>{props.title}</figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={props.description} />
    </figure>
  );
}

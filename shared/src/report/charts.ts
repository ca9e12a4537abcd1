/**
 * Charts for the reports: Apache ECharts rendered on the server into SVG strings
 * (`renderToSVGString`, no DOM, no canvas, no script in the page). Animation is off, so the
 * SVG is the final picture. Inputs are validated: equal-length series of finite numbers.
 */
import * as echarts from 'echarts';

export interface BarSeries {
  name: string;
  values: readonly number[];
  color?: string;
}

export interface BarChart {
  categories: readonly string[];
  series: readonly BarSeries[];
  width?: number;
  height?: number;
  /** Formats the value axis (e.g. percentages). */
  percent?: boolean;
  stacked?: boolean;
  horizontal?: boolean;
}

/** One bar chart as an SVG document fragment (`<svg …>…</svg>`). */
export function barChartSvg(c: BarChart): string {
  if (c.categories.length === 0) throw new RangeError('expected at least one category, got none');
  for (const s of c.series) {
    if (s.values.length !== c.categories.length) throw new RangeError(`series ${s.name}: expected ${c.categories.length} values, got ${s.values.length}`);
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new RangeError(`series ${s.name}[${i}]: expected a finite number, got ${String(v)}`);
    });
  }
  const width = c.width ?? 520;
  const height = c.height ?? Math.max(220, c.horizontal ? 40 + c.categories.length * 22 : 260);
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    const valueAxis = { type: 'value' as const, axisLabel: { formatter: c.percent ? (v: number) => `${Math.round(v * 100)}%` : undefined } };
    const categoryAxis = { type: 'category' as const, data: [...c.categories], inverse: c.horizontal === true, axisLabel: { interval: 0, rotate: c.horizontal || c.categories.length <= 6 ? 0 : 35, fontSize: 11 } };
    chart.setOption({
      animation: false,
      grid: { left: c.horizontal ? 110 : 50, right: 20, top: 36, bottom: c.horizontal || c.categories.length <= 6 ? 30 : 70 },
      legend: { top: 4 },
      xAxis: c.horizontal ? valueAxis : categoryAxis,
      yAxis: c.horizontal ? categoryAxis : valueAxis,
      series: c.series.map((s) => ({
        name: s.name, type: 'bar', data: [...s.values], ...(s.color ? { itemStyle: { color: s.color } } : {}), ...(c.stacked ? { stack: 'total' } : {}),
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

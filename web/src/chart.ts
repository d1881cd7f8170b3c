// Latency of recent classifications as small SVG bars, one series per runner.
export interface LatencyPoint {
  instanas: number;
  baseline?: number;
  server?: number;
}

const NS = 'http://www.w3.org/2000/svg';
const SERIES = ['instanas', 'baseline', 'server'] as const;

export function renderChart(svg: SVGSVGElement, points: readonly LatencyPoint[]): void {
  const W = 320;
  const H = 120;
  const pad = { l: 34, r: 4, t: 8, b: 14 };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  // A cold first run can be 100x the rest: the scale stops at 4x the median and
  // taller bars are clipped (drawn with a notch; the tooltip keeps the value).
  const values = points.flatMap((p) => SERIES.map((s) => p[s]).filter((v): v is number => v !== undefined));
  const sorted = [...values].sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)] ?? 1;
  const max = Math.max(0.1, Math.min(sorted.at(-1) ?? 1, 4 * med));
  const nice = 10 ** Math.floor(Math.log10(max));
  const top = Math.ceil(max / nice) * nice;
  const add = (tag: string, a: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / top);
  for (const v of [0, top / 2, top]) {
    add('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'gridline' });
    add('text', { x: pad.l - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'axis' }, `${+v.toPrecision(2)} ms`);
  }
  const slot = (W - pad.l - pad.r) / Math.max(points.length, 12);
  points.forEach((p, i) => {
    const present = SERIES.filter((s) => p[s] !== undefined);
    const bw = Math.max(1, (slot - 2) / present.length);
    present.forEach((s, k) => {
      const v = p[s]!;
      const shown = Math.min(v, top);
      const x = pad.l + i * slot + 1 + k * bw;
      const bar = add('rect', { x, y: y(shown), width: bw, height: y(0) - y(shown), class: `bar ${s}${i === points.length - 1 ? ' latest' : ''}` });
      bar.append(Object.assign(document.createElementNS(NS, 'title'), { textContent: `${s}: ${v.toFixed(2)} ms` }));
      if (v > top) add('rect', { x, y: y(top) + 3, width: bw, height: 2, class: 'clip' });
    });
  });
  add('text', { x: pad.l, y: H - 2, class: 'axis' }, points.length ? `last ${points.length} image${points.length > 1 ? 's' : ''}, newest right` : 'no images yet');
  const last = points.at(-1);
  svg.setAttribute(
    'aria-label',
    last ? `Latency of the last ${points.length} images; latest: ${SERIES.filter((s) => last[s] !== undefined).map((s) => `${s} ${last[s]!.toFixed(1)} ms`).join(', ')}` : 'No latency yet',
  );
}

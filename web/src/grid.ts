// The chosen path as a cells x options grid (SVG): a filled square is a module that
// ran; a column with none ran as identity; the ring marks each cell's default option.
import type { Manifest } from '../../runtime/manifest-types.js';
import type { Path } from '../../runtime/path.js';

const NS = 'http://www.w3.org/2000/svg';
const el = (tag: string, attrs: Record<string, string | number>, text?: string): SVGElement => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

export function renderGrid(svg: SVGSVGElement, m: Manifest, path: Path | null): void {
  const cells = m.graph.cells;
  const rows = Math.max(...cells.map((c) => c.options.length));
  const S = 18;
  const G = 4;
  const left = 62;
  const top = 4;
  const width = left + cells.length * (S + G);
  const height = top + rows * (S + G) + 18;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  // Scale with the panel, but a few cells should not turn into giant squares.
  svg.style.maxWidth = `${Math.round(width * 1.8)}px`;
  svg.replaceChildren();
  // Row labels: the op of option o in the first cell that names one.
  for (let o = 0; o < rows; o++) {
    const op = cells.find((c) => c.options[o]?.op)?.options[o]?.op ?? `option ${o}`;
    svg.append(el('text', { x: left - 6, y: top + o * (S + G) + S * 0.72, 'text-anchor': 'end', class: 'axis' }, op));
  }
  let ran = 0;
  cells.forEach((cell, ci) => {
    const x = left + ci * (S + G);
    const chosen = path?.cells[ci] ?? [];
    const identity = path !== null && chosen.length === 0;
    cell.options.forEach((opt, o) => {
      const on = chosen.includes(o);
      if (on) ran++;
      const r = el('rect', {
        x,
        y: top + o * (S + G),
        width: S,
        height: S,
        rx: 3,
        class: `mod${on ? ' on' : ''}${o === cell.defaultOption ? ' default' : ''}${identity ? ' skipped' : ''}`,
      });
      r.append(el('title', {}, `cell ${ci}, ${opt.op ?? `option ${o}`}: ${on ? 'ran' : 'skipped'} (${(opt.macs / 1e6).toFixed(2)} M MACs)`));
      svg.append(r);
    });
    svg.append(el('text', { x: x + S / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis' }, identity ? '=' : String(ci)));
  });
  svg.setAttribute(
    'aria-label',
    path
      ? `Path ${path.code}: ${ran} modules ran in ${cells.length - path.cells.filter((c) => c.length === 0).length} of ${cells.length} cells`
      : 'No image classified yet',
  );
}

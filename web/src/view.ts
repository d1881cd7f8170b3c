// Result cards (InstaNAS, baseline, server) and the MACs comparison; plain DOM.
export interface CardData {
  label: string;
  probability: number;
  topk: { label: string; probability: number }[];
  ms: number;
  /** Child + controller MACs for this image. */
  macs: number;
  code: string;
  note?: string;
}

const field = (card: HTMLElement, f: string): HTMLElement => {
  const e = card.querySelector<HTMLElement>(`[data-f="${f}"]`);
  if (!e) throw new Error(`card #${card.id}: missing [data-f="${f}"]`);
  return e;
};

export const fmtMacs = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(1)} k`);
const pct = (p: number): string => `${(p * 100).toFixed(1)}%`;

export function showResult(card: HTMLElement, d: CardData): void {
  card.classList.remove('error', 'busy');
  field(card, 'label').textContent = d.label;
  field(card, 'conf').textContent = `${pct(d.probability)} confidence`;
  field(card, 'bar').style.width = pct(d.probability);
  field(card, 'topk').replaceChildren(
    ...d.topk.slice(1, 3).map((t) => Object.assign(document.createElement('li'), { textContent: `${t.label} ${pct(t.probability)}` })),
  );
  field(card, 'ms').textContent = `${d.ms.toFixed(1)} ms${d.note ? ` (${d.note})` : ''}`;
  field(card, 'macs').textContent = `${fmtMacs(d.macs)} MACs`;
  field(card, 'code').textContent = d.code;
}

export function showError(card: HTMLElement, message: string): void {
  card.classList.remove('busy');
  card.classList.add('error');
  field(card, 'label').textContent = 'unavailable';
  field(card, 'conf').textContent = message;
  field(card, 'bar').style.width = '0';
  field(card, 'topk').replaceChildren();
  for (const f of ['ms', 'macs', 'code']) field(card, f).textContent = '–';
}

export function showBusy(card: HTMLElement): void {
  card.classList.add('busy');
}

/** Two bars: this image's InstaNAS MACs (child + controller) against the static baseline. */
export function showMacs(box: HTMLElement, instanas: number, baseline: number, baselineName: string): void {
  const max = Math.max(instanas, baseline);
  const row = (name: string, v: number, cls: string) => {
    const r = document.createElement('div');
    r.className = 'macrow';
    const bar = document.createElement('span');
    bar.className = `macbar ${cls}`;
    bar.style.width = `${(v / max) * 100}%`;
    const label = document.createElement('span');
    label.textContent = `${name}: ${fmtMacs(v)} MACs`;
    r.append(bar, label);
    return r;
  };
  const saved = 1 - instanas / baseline;
  const summary = document.createElement('p');
  summary.textContent =
    saved >= 0 ? `${pct(saved)} fewer MACs than the static baseline` : `${pct(-saved)} more MACs than the static baseline`;
  box.replaceChildren(row('This image (InstaNAS)', instanas, 'instanas'), row(`Static (${baselineName})`, baseline, 'baseline'), summary);
}

// Drawing pad: white strokes on black, like Fashion-MNIST. Calls onDone after each stroke.
export function setupPad(c: HTMLCanvasElement, onDone: () => void): { clear(): void } {
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, c.width, c.height);
  };
  clear();
  let last: { x: number; y: number } | null = null;
  const at = (e: PointerEvent) => {
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * c.width, y: ((e.clientY - r.top) / r.height) * c.height };
  };
  const stroke = (to: { x: number; y: number }) => {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = c.width / 11;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(last!.x, last!.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    last = to;
  };
  c.addEventListener('pointerdown', (e) => {
    c.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last);
    e.preventDefault();
  });
  c.addEventListener('pointermove', (e) => {
    if (last) stroke(at(e));
  });
  const end = () => {
    if (!last) return;
    last = null;
    onDone();
  };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointercancel', end);
  return { clear };
}

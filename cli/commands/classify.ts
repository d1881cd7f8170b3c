// instanas classify <image> --model <bundleDir> [--json] [--threads N]
import { classifyImage } from '../../runtime/classify-node.js';
import { loadModel } from '../../runtime/model-node.js';
import type { ClassifyResult } from '../../runtime/model.js';
import { positiveInt, UsageError, type Command } from '../command.js';

const ms = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(2)} ms`);

function formatText(r: ClassifyResult, image: string): string {
  const cells = r.path.cells.map((opts, i) => `cell ${i}: ${opts.length ? opts.join('+') : 'identity'}`).join(', ');
  const t = r.timings;
  return [
    `image:     ${image}`,
    `label:     ${r.label} (index ${r.index}, p=${r.probability.toFixed(4)})`,
    `top:       ${r.topk.map((p) => `${p.label} ${p.probability.toFixed(4)}`).join(', ')}`,
    `path:      ${r.path.code} (${cells})`,
    `macs:      ${r.path.macs.toLocaleString('en-US')} child + ${r.controllerMacs.toLocaleString('en-US')} controller`,
    `timings:   preprocess ${ms(t.preprocessMs)}, controller ${ms(t.controllerMs)}, child ${ms(t.childMs)}, total ${ms(t.totalMs)}`,
  ].join('\n');
}

export const classify: Command = {
  name: 'classify',
  summary: 'classify one image and show the path the controller chose',
  usage: 'classify <image> --model <bundleDir> [--json] [--threads N]',
  options: {
    model: { type: 'string', short: 'm' },
    json: { type: 'boolean' },
    threads: { type: 'string' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one <image>', this);
    const modelDir = values.model;
    if (typeof modelDir !== 'string' || modelDir === '') throw new UsageError('--model <bundleDir> is required', this);
    const threads = positiveInt(values.threads, '--threads', this);
    const image = positionals[0];
    const model = await loadModel(modelDir, { threads: threads ?? 1 });
    try {
      const result = await classifyImage(model, image);
      if (values.json) io.out(JSON.stringify({ image, model: model.manifest.name, ...result }, null, 2));
      else io.out(formatText(result, image));
    } finally {
      await model.release();
    }
    return 0;
  },
};

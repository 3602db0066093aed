// One FedAvg round of one site with a very large float32 model (600M parameters, a 2.4 GB
// update by default): the initial model uploaded from a file, downloaded by the site (in its own
// process), encoded, hashed and published in chunks, staged, inspected and folded by the
// coordinator, committed as a model version, then exported with `tributary model export`.
// Nothing on the way may hold a 2 GiB limit; the coordinator's peak memory is held to
// 4 x the model's size + 200 MB.
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { options, report, round, table } from './stack.mjs';
import { measureRounds, memoryBoundMiB } from './round.mjs';

const CLI = fileURLToPath(new URL('../coordinator/dist/cli/main.js', import.meta.url));

/** A safetensors file of one F32 tensor `w` of `params` zeros, written sparse (no data pages). */
export async function writeZerosModel(path, params) {
  let header = JSON.stringify({ w: { dtype: 'F32', shape: [params], data_offsets: [0, params * 4] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  const file = await open(path, 'w');
  try {
    await file.write(Buffer.concat([prefix, Buffer.from(header)]), 0);
    await file.truncate(8 + header.length + params * 4);
  } finally {
    await file.close();
  }
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { params: quick ? 2_000_000 : 600_000_000 });
  const modelBytes = o.params * 4;
  console.log(`Large model: one site, ${o.params.toLocaleString('en')} float32 parameters (${(modelBytes / 1e9).toFixed(2)} GB an update), one round`);
  const maxUpdate = `${Math.ceil((modelBytes + 2 ** 20) / 2 ** 20)}MiB`;
  const modelDir = await mkdtemp(join(tmpdir(), 'tributary-large-'));
  const initialModel = join(modelDir, 'initial.safetensors');
  let res;
  try {
    await writeZerosModel(initialModel, o.params);
    res = await measureRounds({
      sites: 1,
      params: o.params,
      processes: 1,
      rounds: 1,
      devArgs: ['--max-update-bytes', maxUpdate],
      initialModel: { file: initialModel },
      async after(stack) {
        const out = join(stack.dir, 'exported.safetensors');
        const started = performance.now();
        await promisify(execFile)(process.execPath, [CLI, 'model', 'export', 'bench', '--out', out, '--json'], {
          env: { ...process.env, TRIBUTARY_COORDINATOR: stack.coordinator, TRIBUTARY_KEY: join(stack.dir, 'admin.key') },
          maxBuffer: 2 ** 20,
        });
        const seconds = (performance.now() - started) / 1000;
        const { size } = await stat(out);
        if (size < modelBytes) throw new Error(`the exported model has ${size} bytes, fewer than its ${modelBytes} bytes of values`);
        await rm(out);
        return { seconds, size };
      },
    });
  } finally {
    await rm(modelDir, { recursive: true, force: true });
  }
  const r = res.rounds[0];
  const seconds = (r.closedAtMs - r.openedAtMs) / 1000;
  const bound = memoryBoundMiB(modelBytes);
  const mbps = r.bytesReceived / 1e6 / seconds;
  table([
    {
      params: o.params.toLocaleString('en'),
      'round s': seconds.toFixed(1),
      'MB/s in': mbps.toFixed(0),
      'export s': res.after.seconds.toFixed(1),
      'coordinator peak MiB': res.coordinatorPeakMiB.toFixed(0),
      'memory bound MiB': bound.toFixed(0),
      'site peak MiB': res.sitePeakMiB.toFixed(0),
    },
  ]);
  report(
    'large',
    { params: o.params, bytes: r.bytesReceived, roundSeconds: round(seconds, 2), mbps: round(mbps, 1), exportSeconds: round(res.after.seconds, 2), peakMiB: round(res.coordinatorPeakMiB, 0), memoryBoundMiB: round(bound, 0), sitePeakMiB: round(res.sitePeakMiB, 0) },
    { ratio: res.coordinatorPeakMiB / bound, target: 1, met: res.coordinatorPeakMiB <= bound },
  );
}

// npm run soak -- --minutes N [--max-size 40MiB] [--seed S]: the chaos property for N minutes with
// fresh seeds (thousands of schedules). Not part of npm test or CI.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, 'max-size': { type: 'string', default: String(40 * 1024 * 1024) }, seed: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error('soak: --minutes expects a positive number');
  process.exit(2);
}
const env = { ...process.env, CHAOS_MINUTES: String(minutes), CHAOS_MAX_SIZE: values['max-size'], ...(values.seed ? { CHAOS_SEED: values.seed } : {}) };
const child = spawn('npx', ['vitest', 'run', 'test/chaos'], { env, stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));

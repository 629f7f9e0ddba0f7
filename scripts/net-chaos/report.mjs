// The tables RELIABILITY.md gives, from the runner's records.
const median = (values) => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
};
const seconds = (value) => (value === undefined ? '—' : `${value.toFixed(1)} s`);

function row(scenario, protocol, records) {
  const count = (outcome) => records.filter((record) => record.outcome === outcome).length;
  const codes = {};
  for (const record of records.filter((entry) => entry.code)) codes[record.code] = (codes[record.code] ?? 0) + 1;
  const recover = records.map((record) => record.recoverSeconds);
  const errorAfter = records.map((record) => record.errorAfterSeconds);
  const retryCodes = {};
  for (const record of records) for (const [code, n] of Object.entries(record.retryCodes ?? {})) retryCodes[code] = (retryCodes[code] ?? 0) + n;
  const extras = records.reduce((sum, record) => sum + (record.corruptedPackets ?? 0), 0);
  return `| ${scenario} | ${protocol} | ${records.length} | ${count('exact')} | ${Object.entries(codes).map(([code, n]) => `${code} × ${n}`).join(', ') || '—'} | ` +
    `${count('wrong') + count('typed-but-finalized')} | ${count('untyped') + count('crash')} | ${count('hang')} | ${records.filter((record) => record.leaked).length} | ` +
    `${seconds(median(recover))} / ${seconds(Math.max(...recover.filter(Number.isFinite)) > 0 ? Math.max(...recover.filter(Number.isFinite)) : undefined)} | ${seconds(median(errorAfter))} | ` +
    `${Object.entries(retryCodes).map(([code, n]) => `${code} × ${n}`).join(', ') || '—'}${extras ? ` (corrupted packets ${extras / records.length})` : ''} |`;
}

export function report(records) {
  const keys = [...new Set(records.map((record) => `${record.scenario}\t${record.protocol}`))];
  return [
    '| scenario | protocol | runs | stored exactly | typed failures | wrong / finalized on error | untyped | hangs | leaked | recovery (median / max) | error after fault (median) | retries by code |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...keys.map((key) => {
      const [scenario, protocol] = key.split('\t');
      return row(scenario, protocol, records.filter((record) => record.scenario === scenario && record.protocol === protocol));
    }),
  ].join('\n');
}

// The tables RELIABILITY.md gives, from the runner's records.
const median = (values) => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
};
const largest = (values) => {
  const finite = values.filter((value) => Number.isFinite(value));
  return finite.length === 0 ? undefined : Math.max(...finite);
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
  const total = (field) => records.reduce((sum, record) => sum + (record[field] ?? 0), 0);
  const triggered = records.filter((record) => record.triggered).length;
  const notes = [
    records.some((record) => record.fault) ? `fault applied in ${triggered}/${records.length}` : '',
    total('corruptedPackets') ? `${total('corruptedPackets')} packets corrupted, ${total('tcpChecksumDrops')} dropped by TCP's checksum` : '',
    total('heldPackets') ? `${total('heldPackets')} packets held back` : '',
    total('openUploads') ? `${total('openUploads')} multipart upload(s) left open` : '',
  ].filter(Boolean).join('; ');
  return `| ${scenario} | ${protocol} | ${records.length} | ${count('exact')} | ${Object.entries(codes).map(([code, n]) => `${code} × ${n}`).join(', ') || '—'} | ` +
    `${count('wrong') + count('typed-but-finalized')} | ${count('untyped') + count('crash')} | ${count('hang')} | ${records.filter((record) => record.leaked).length} | ` +
    `${seconds(median(recover))} / ${seconds(largest(recover))} | ${seconds(median(errorAfter))} | ` +
    `${Object.entries(retryCodes).map(([code, n]) => `${code} × ${n}`).join(', ') || '—'} | ${notes || '—'} |`;
}

export function report(records) {
  const keys = [...new Set(records.map((record) => `${record.scenario}\t${record.protocol}`))];
  return [
    '| scenario | protocol | runs | stored exactly | typed failures | wrong / finalized on error | untyped | hangs | leaked | recovery (median / max) | error after fault (median) | retries by code | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...keys.map((key) => {
      const [scenario, protocol] = key.split('\t');
      return row(scenario, protocol, records.filter((record) => record.scenario === scenario && record.protocol === protocol));
    }),
  ].join('\n');
}

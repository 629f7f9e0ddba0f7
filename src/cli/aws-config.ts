/**
 * The region of the AWS profile in use, read from the shared config file the way the AWS CLI
 * reads it: `aws s3 cp` signs for that region, and a signature for another is refused. Only the
 * `region` key is read; credentials stay with the provider chain (credentials/aws.ts).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** AWS_CONFIG_FILE (default ~/.aws/config), profile AWS_PROFILE (default "default"): its region, if any. */
export function profileRegion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env['AWS_CONFIG_FILE'] || join(homedir(), '.aws', 'config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No config file is the common case, and not an error: the region then comes from elsewhere.
    return undefined;
  }
  const profile = env['AWS_PROFILE'] || 'default';
  // The config file names a profile "[profile NAME]", but "[default]" bare (and tolerates "[profile default]").
  const sections = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  const values = readIniSections(text);
  for (const section of sections) {
    const region = values.get(section)?.get('region');
    if (region) return region;
  }
  return undefined;
}

/**
 * Sections and their top-level keys. Indented lines continue a nested block (`s3 =` followed by
 * `  addressing_style = path`) and are skipped: a nested `region` is not the profile's.
 */
export function readIniSections(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(trimmed);
    if (header) {
      const name = (header[1] as string).replace(/\s+/g, ' ');
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    if (/^\s/.test(line) || current === undefined) continue;
    const equals = trimmed.indexOf('=');
    if (equals <= 0) continue;
    const value = trimmed.slice(equals + 1).replace(/\s[#;].*$/, '').trim();
    current.set(trimmed.slice(0, equals).trim().toLowerCase(), value);
  }
  return sections;
}

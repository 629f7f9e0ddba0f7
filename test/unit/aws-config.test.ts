/** The profile's region from the AWS shared config file, as the AWS CLI reads it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { profileRegion, readIniSections } from '../../src/cli/aws-config.js';

const CONFIG = `# comment
[default]
region = us-east-1

[profile ops]
s3 =
  region = nested-is-not-the-profile's
region=eu-west-3 ; trailing comment
[ profile  spaced ]
region = ap-south-1
[profile empty]
output = json
`;

describe('profileRegion', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'rws-aws-config-')), 'config');
  writeFileSync(file, CONFIG);

  it.each([
    [undefined, 'us-east-1'],
    ['default', 'us-east-1'],
    ['ops', 'eu-west-3'],
    ['spaced', 'ap-south-1'],
    ['empty', undefined],
    ['missing', undefined],
  ])('AWS_PROFILE=%s → %s', (profile, region) => {
    expect(profileRegion({ AWS_CONFIG_FILE: file, ...(profile === undefined ? {} : { AWS_PROFILE: profile }) })).toBe(region);
  });

  it('no config file is no region, not an error', () => {
    expect(profileRegion({ AWS_CONFIG_FILE: join(tmpdir(), 'no-such-aws-config'), AWS_PROFILE: 'ops' })).toBeUndefined();
  });

  it('a [profile NAME] section is not the bare [NAME] section of the credentials file', () => {
    expect(readIniSections('[ops]\nregion = x\n').get('profile ops')).toBeUndefined();
  });
});

/** The refresh policy of S3 credentials, on a clock the test moves (credentials/aws.ts). */
import { describe, expect, it } from 'vitest';
import { REFRESH_MARGIN_MS, refreshingCredentials, type S3Credentials } from '../../src/credentials/aws.js';

const HOUR = 3600_000;

function provider(clock: { now: number }, outcomes: Array<'ok' | 'fail'> = []) {
  let calls = 0;
  const fn = async (): Promise<S3Credentials> => {
    calls++;
    if (outcomes[calls - 1] === 'fail') throw new Error('the metadata service hiccuped');
    return { accessKeyId: `KEY${calls}`, secretAccessKey: 's', expiration: new Date(clock.now + HOUR) };
  };
  return { fn, calls: () => calls };
}

describe('refreshingCredentials', () => {
  it('keeps credentials until 5 minutes before they expire, then fetches new ones', async () => {
    const clock = { now: 0 };
    const source = provider(clock);
    const current = refreshingCredentials(source.fn, () => clock.now);
    expect((await current()).accessKeyId).toBe('KEY1');
    clock.now = HOUR - REFRESH_MARGIN_MS - 1;
    expect((await current()).accessKeyId).toBe('KEY1');
    clock.now = HOUR - REFRESH_MARGIN_MS + 1;
    expect((await current()).accessKeyId).toBe('KEY2');
    expect(source.calls()).toBe(2);
  });

  it('one fetch for many requests signing at once', async () => {
    const clock = { now: 0 };
    const source = provider(clock);
    const current = refreshingCredentials(source.fn, () => clock.now);
    const keys = await Promise.all([current(), current(), current()]);
    expect(keys.map((key) => key.accessKeyId)).toEqual(['KEY1', 'KEY1', 'KEY1']);
    expect(source.calls()).toBe(1);
  });

  it('a failed refresh keeps credentials that still work; once they expired it is RWS_CREDENTIALS', async () => {
    const clock = { now: 0 };
    const source = provider(clock, ['ok', 'fail', 'fail']);
    const current = refreshingCredentials(source.fn, () => clock.now);
    await current();
    clock.now = HOUR - 60_000;
    expect((await current()).accessKeyId).toBe('KEY1');
    clock.now = HOUR + 1;
    await expect(current()).rejects.toMatchObject({ code: 'RWS_CREDENTIALS', message: expect.stringMatching(/provider failed: the metadata service hiccuped/) });
  });

  it('credentials without an expiration are fetched once', async () => {
    let calls = 0;
    const current = refreshingCredentials(async () => (calls++, { accessKeyId: 'A', secretAccessKey: 's' }));
    await current();
    await current();
    expect(calls).toBe(1);
  });

  it('an expiration that is not a Date is refused, naming the field, not the secret', async () => {
    const current = refreshingCredentials(async () => ({ accessKeyId: 'A', secretAccessKey: 'TOPSECRET', expiration: '2030-01-01' as unknown as Date }));
    const error = await current().catch((caught: unknown) => caught as Error);
    expect(error).toMatchObject({ code: 'RWS_CREDENTIALS', message: expect.stringMatching(/`expiration` that is not a valid Date/) });
    expect((error as Error).message).not.toContain('TOPSECRET');
  });
});

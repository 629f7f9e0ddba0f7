/**
 * S3 without static keys: the AWS default provider chain (@aws-sdk/credential-providers'
 * fromNodeProviderChain) run for real on loopback in child processes with a controlled
 * environment — shared config/credentials files with two profiles, web identity, ECS container credentials,
 * an IMDSv2 issuing credentials that expire during the upload — and a provider function of the
 * caller's. The S3 test server knows every key pair issued and refuses a request signed with one
 * that is unknown, expired or without its session token, so every request must have been signed
 * with credentials current when it was sent.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type S3Credentials } from '../../src/index.js';
import { createS3TestServer, type S3TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, MiB, sha256 } from './helpers.js';
import { runFlow, startImds, type IssuedKey } from './credentials-helpers.js';

const DEFAULT_KEY = { accessKeyId: 'AKIARWSDEFAULT', secretAccessKey: 'default-secret-key' };
const OTHER_KEY = { accessKeyId: 'ASIARWSOTHER', secretAccessKey: 'other-secret-key', sessionToken: 'other-session-token' };
/**
 * A metadata service makes new credentials available 5 minutes before the old ones expire; the
 * server stops taking a key this long after that point, so a client that did not switch fails.
 */
const GRACE_MS = 3000;
const PAST_REFRESH_POINT = 5 * 60_000 + 1000;

let directory: string;
let s3: S3TestServer;
let baseEnv: Record<string, string>;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'rws-aws-credentials-'));
  s3 = await createS3TestServer({ keys: [DEFAULT_KEY, OTHER_KEY] });
  const home = join(directory, 'home');
  await mkdir(home);
  const credentialsFile = join(directory, 'credentials');
  const configFile = join(directory, 'config');
  await writeFile(
    credentialsFile,
    `[default]\naws_access_key_id = ${DEFAULT_KEY.accessKeyId}\naws_secret_access_key = ${DEFAULT_KEY.secretAccessKey}\n\n` +
      `[other]\naws_access_key_id = ${OTHER_KEY.accessKeyId}\naws_secret_access_key = ${OTHER_KEY.secretAccessKey}\naws_session_token = ${OTHER_KEY.sessionToken}\n`,
  );
  await writeFile(configFile, '[default]\nregion = us-east-1\n\n[profile other]\nregion = us-east-1\n');
  baseEnv = { HOME: home, AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile, AWS_EC2_METADATA_DISABLED: 'true' };
}, 30_000);

afterAll(async () => {
  await s3.close();
  await rm(directory, { recursive: true, force: true });
});

const flowTo = (key: string, extra: Record<string, unknown> = {}) => ({ kind: 's3', bucket: 'bkt', key, size: 1000, s3: { endpoint: s3.endpoint }, ...extra });
const storedSha = (key: string, server = s3) => {
  const object = server.object('bkt', key);
  return object ? sha256(object) : undefined;
};

describe('the AWS default chain (fromNodeProviderChain)', () => {
  it('shared files: the default profile, or AWS_PROFILE’s (with its session token, env keys then ignored as the SDK does)', async () => {
    const before = s3.requests.length;
    const first = await runFlow(flowTo('chain/default.bin'), baseEnv);
    expect(first.error).toBeUndefined();
    expect(storedSha('chain/default.bin')).toBe(first['sha256']);
    expect(new Set(s3.requests.slice(before).map((entry) => entry.accessKeyId))).toEqual(new Set([DEFAULT_KEY.accessKeyId]));

    const middle = s3.requests.length;
    const second = await runFlow(flowTo('chain/other.bin'), { ...baseEnv, AWS_PROFILE: 'other', AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey });
    expect(second.error).toBeUndefined();
    expect(storedSha('chain/other.bin')).toBe(second['sha256']);
    const requests = s3.requests.slice(middle);
    expect(new Set(requests.map((entry) => entry.accessKeyId))).toEqual(new Set([OTHER_KEY.accessKeyId]));
    expect(requests.every((entry) => entry.headers['x-amz-security-token'] === OTHER_KEY.sessionToken)).toBe(true);
  });

  it('ECS container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI with its authorization token)', async () => {
    const key = { accessKeyId: 'ASIARWSECS', secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(20).toString('hex') };
    s3.addKey({ ...key, expiresAt: Date.now() + 3600_000 });
    const asked: Array<string | undefined> = [];
    const ecs = createServer((req, res) => {
      asked.push(req.headers.authorization);
      if (req.headers.authorization !== 'ecs-auth-token') return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey, Token: key.sessionToken, Expiration: new Date(Date.now() + 3600_000).toISOString() }),
      );
    });
    await new Promise<void>((resolve) => ecs.listen(0, '127.0.0.1', resolve));
    try {
      const uri = `http://127.0.0.1:${(ecs.address() as AddressInfo).port}/v2/credentials/rws`;
      const before = s3.requests.length;
      const result = await runFlow(flowTo('chain/ecs.bin'), { HOME: baseEnv['HOME'] as string, AWS_CONTAINER_CREDENTIALS_FULL_URI: uri, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'ecs-auth-token' });
      expect(result.error).toBeUndefined();
      expect(storedSha('chain/ecs.bin')).toBe(result['sha256']);
      expect(asked).toEqual(['ecs-auth-token']);
      expect(new Set(s3.requests.slice(before).map((entry) => entry.accessKeyId))).toEqual(new Set([key.accessKeyId]));
    } finally {
      ecs.closeAllConnections();
      await new Promise((resolve) => ecs.close(resolve));
    }
  });

  it('web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, as on EKS): the token is exchanged at STS (AWS_ENDPOINT_URL_STS)', async () => {
    const key = { accessKeyId: 'ASIARWSWEB', secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(20).toString('hex') };
    s3.addKey({ ...key, expiresAt: Date.now() + 3600_000 });
    const calls: Array<Record<string, string>> = [];
    const sts = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        calls.push(form);
        if (form['Action'] !== 'AssumeRoleWithWebIdentity' || form['WebIdentityToken'] !== 'eks-projected-token') {
          return void res.writeHead(400, { 'content-type': 'text/xml' }).end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token</Message></Error></ErrorResponse>');
        }
        const expiration = new Date(Date.now() + 3600_000).toISOString();
        res.writeHead(200, { 'content-type': 'text/xml' }).end(
          '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>' +
            `<Credentials><AccessKeyId>${key.accessKeyId}</AccessKeyId><SecretAccessKey>${key.secretAccessKey}</SecretAccessKey><SessionToken>${key.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
            '<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/rws/uploader</Arn><AssumedRoleId>AROA:uploader</AssumedRoleId></AssumedRoleUser>' +
            '</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>rws-1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
    try {
      const tokenFile = join(directory, 'web-identity-token');
      await writeFile(tokenFile, 'eks-projected-token');
      const env = {
        HOME: baseEnv['HOME'] as string,
        AWS_SHARED_CREDENTIALS_FILE: join(directory, 'none'),
        AWS_CONFIG_FILE: join(directory, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'us-east-1',
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/rws',
        AWS_ROLE_SESSION_NAME: 'uploader',
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${(sts.address() as AddressInfo).port}`,
      };
      const before = s3.requests.length;
      const result = await runFlow(flowTo('chain/web-identity.bin'), env);
      expect(result.error).toBeUndefined();
      expect(storedSha('chain/web-identity.bin')).toBe(result['sha256']);
      expect(calls).toEqual([expect.objectContaining({ Action: 'AssumeRoleWithWebIdentity', RoleArn: env.AWS_ROLE_ARN, RoleSessionName: 'uploader' })]);
      expect(new Set(s3.requests.slice(before).map((entry) => entry.accessKeyId))).toEqual(new Set([key.accessKeyId]));
    } finally {
      sts.closeAllConnections();
      await new Promise((resolve) => sts.close(resolve));
    }
  });

  it('EC2 IMDSv2 credentials that expire during the upload: fetched again before they expire, every request signed with current ones', async () => {
    const issued: Array<IssuedKey & { at: number }> = [];
    const imds = await startImds(() => {
      const at = Date.now();
      const key = { accessKeyId: `ASIARWSIMDS${issued.length}`, secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(24).toString('hex'), expiration: new Date(at + PAST_REFRESH_POINT) };
      s3.addKey({ ...key, expiresAt: at + (PAST_REFRESH_POINT - 5 * 60_000) + GRACE_MS });
      issued.push({ ...key, at });
      return key;
    });
    try {
      const before = s3.requests.length;
      // 6 parts of 5 MiB over about 6 s: several keys' lifetimes.
      const flow = flowTo('chain/imds.bin', { size: 30 * MiB, writeSize: MiB, delayMs: 200, s3: { endpoint: s3.endpoint, queueSize: 1 } });
      const result = await runFlow(flow, { HOME: baseEnv['HOME'] as string, AWS_SHARED_CREDENTIALS_FILE: join(directory, 'none'), AWS_CONFIG_FILE: join(directory, 'none'), AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint });
      expect(result.error).toBeUndefined();
      expect(storedSha('chain/imds.bin')).toBe(result['sha256']);
      const requests = s3.requests.slice(before);
      expect(requests.map((entry) => entry.status).every((status) => status === 200)).toBe(true);
      const used = new Set(requests.map((entry) => entry.accessKeyId));
      expect(used.size).toBeGreaterThanOrEqual(3);
      expect([...used].every((id) => issued.some((key) => key.accessKeyId === id))).toBe(true);
      expect(imds.requests).toContain('PUT /latest/api/token');
    } finally {
      await imds.close();
    }
  }, 60_000);

  it('none found: RWS_CREDENTIALS saying where it looked and what to run; nothing sent', async () => {
    const before = s3.requests.length;
    const result = await runFlow(flowTo('chain/none.bin'), { HOME: baseEnv['HOME'] as string, AWS_SHARED_CREDENTIALS_FILE: join(directory, 'none'), AWS_CONFIG_FILE: join(directory, 'none'), AWS_EC2_METADATA_DISABLED: 'true' });
    expect(result.error).toMatchObject({ code: 'RWS_CREDENTIALS', name: 'CredentialsError' });
    for (const where of [/AWS_ACCESS_KEY_ID/, /~\/\.aws\/credentials/, /AWS_PROFILE/, /SSO/, /AWS_WEB_IDENTITY_TOKEN_FILE/, /ECS/, /IMDSv2/, /`aws configure`/, /`aws sso login`/]) {
      expect(result.error?.message).toMatch(where);
    }
    expect(s3.requests.length).toBe(before);
  });

  it('@aws-sdk/credential-providers not installed: RWS_CREDENTIALS naming the package to install', async () => {
    const result = await runFlow(flowTo('chain/missing.bin'), baseEnv, ['@aws-sdk/credential-providers']);
    expect(result.error).toMatchObject({ code: 'RWS_CREDENTIALS' });
    expect(result.error?.message).toMatch(/npm install @aws-sdk\/credential-providers@\^3/);
  });

  it("an S3 user never loads Google's auth library: the chain works with google-auth-library, gaxios and gcp-metadata not importable", async () => {
    const result = await runFlow(flowTo('chain/no-google.bin'), baseEnv, ['google-auth-library', 'gaxios', 'gcp-metadata']);
    expect(result.error).toBeUndefined();
    expect(storedSha('chain/no-google.bin')).toBe(result['sha256']);
  });

  it('keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY need neither SDK: importing and uploading with both not importable', async () => {
    const env = { HOME: baseEnv['HOME'] as string, AWS_ACCESS_KEY_ID: DEFAULT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: DEFAULT_KEY.secretAccessKey };
    const result = await runFlow(flowTo('chain/env.bin'), env, ['@aws-sdk', '@smithy', 'google-auth-library', 'gaxios', 'gcp-metadata']);
    expect(result.error).toBeUndefined();
    expect(storedSha('chain/env.bin')).toBe(result['sha256']);
  });
});

describe('endpoint and region from the environment', () => {
  it('AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL (path-style, as with s3.endpoint), AWS_REGION signs', async () => {
    const west = await createS3TestServer({ region: 'eu-west-1', keys: [DEFAULT_KEY] });
    try {
      const env = { ...baseEnv, AWS_ENDPOINT_URL_S3: west.endpoint, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'eu-west-1' };
      const result = await runFlow({ kind: 's3', bucket: 'bkt', key: 'env/endpoint.bin', size: 1000, s3: {} }, env);
      expect(result.error).toBeUndefined();
      expect(storedSha('env/endpoint.bin', west)).toBe(result['sha256']);
      const general = await runFlow({ kind: 's3', bucket: 'bkt', key: 'env/general.bin', size: 1000, s3: {} }, { ...baseEnv, AWS_ENDPOINT_URL: west.endpoint, AWS_REGION: 'eu-west-1' });
      expect(general.error).toBeUndefined();
      expect(storedSha('env/general.bin', west)).toBe(general['sha256']);
    } finally {
      await west.close();
    }
  });

  it('an endpoint from the environment is validated like the option, named by its variable', () => {
    const saved = process.env['AWS_ENDPOINT_URL_S3'];
    process.env['AWS_ENDPOINT_URL_S3'] = 'http://minio.internal:9000';
    try {
      expect(() => createResumableWriteStream({ s3: { bucket: 'b', key: 'k', credentials: DEFAULT_KEY } })).toThrow(/Expected `AWS_ENDPOINT_URL_S3` to use https/);
    } finally {
      if (saved === undefined) delete process.env['AWS_ENDPOINT_URL_S3'];
      else process.env['AWS_ENDPOINT_URL_S3'] = saved;
    }
  });
});

describe('s3.credentials: a provider function', () => {
  it('asked again before its credentials expire, not per request; every request signed with current ones', async () => {
    let calls = 0;
    const provider = async (): Promise<S3Credentials> => {
      calls++;
      const at = Date.now();
      const key = { accessKeyId: `ASIARWSFN${calls}`, secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(24).toString('hex') };
      s3.addKey({ ...key, expiresAt: at + (PAST_REFRESH_POINT - 5 * 60_000) + GRACE_MS });
      return { ...key, expiration: new Date(at + PAST_REFRESH_POINT) };
    };
    const before = s3.requests.length;
    const data = randomBytes(20 * MiB);
    const slow = Readable.from(
      (async function* () {
        for (let offset = 0; offset < data.length; offset += MiB) {
          if (offset > 0) await delay(150);
          yield data.subarray(offset, offset + MiB);
        }
      })(),
    );
    const stream = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'fn/provider.bin', endpoint: s3.endpoint, credentials: provider, queueSize: 1 }, chunkSize: 5 * MiB, retry: FAST_RETRY });
    await pipeline(slow, stream);
    expect(storedSha('fn/provider.bin')).toBe(sha256(data));
    const requests = s3.requests.slice(before);
    expect(requests.every((entry) => entry.status === 200)).toBe(true);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(new Set(requests.map((entry) => entry.accessKeyId)).size).toBe(calls);
  }, 30_000);

  it('a provider that fails, or gives no keys: RWS_CREDENTIALS without the secret; nothing completed', async () => {
    const failing = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'fn/failing.bin', endpoint: s3.endpoint, credentials: async () => Promise.reject(new Error('sso session expired')) } });
    const error = await pipeline(Readable.from([Buffer.alloc(10)]), failing).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_CREDENTIALS', message: expect.stringMatching(/provider failed: sso session expired/) });
    const empty = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'fn/empty.bin', endpoint: s3.endpoint, credentials: async () => ({ accessKeyId: 'AKIA', secretAccessKey: '' }) } });
    const second = await pipeline(Readable.from([Buffer.alloc(10)]), empty).then(() => undefined, (caught: unknown) => caught);
    expect(second).toMatchObject({ code: 'RWS_CREDENTIALS', message: expect.stringMatching(/gave no secretAccessKey/) });
    expect(s3.object('bkt', 'fn/failing.bin')).toBeUndefined();
  });

  it('static keys are still checked at construction, never echoed', () => {
    expect(() => createResumableWriteStream({ s3: { bucket: 'b', key: 'k', credentials: { accessKeyId: 'a', secretAccessKey: '' } } })).toThrow(/`s3.credentials.secretAccessKey` to be a non-empty string, received an empty string/);
    expect(() => createResumableWriteStream({ s3: { bucket: 'b', key: 'k', credentials: 'AKIA:secret' as never } })).toThrow(/Expected `s3.credentials` to be an object/);
  });
});

/**
 * GCS sessions without a hand-made token: Application Default Credentials through
 * google-auth-library, run for real on loopback in child processes with a controlled environment
 * — a service-account key whose signed JWT a fake token endpoint verifies (google-auth-library
 * posts it to https://oauth2.googleapis.com/token whatever the key says, so it gets there through
 * HTTPS_PROXY, trusting a test CA from NODE_EXTRA_CA_CERTS), gcloud's user credentials, the GCE
 * metadata server, workload identity federation — and STORAGE_EMULATOR_HOST.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsSession } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { sha256 } from './helpers.js';
import {
  makeCertificates,
  makeServiceAccountKey,
  runFlow,
  startConnectProxy,
  startGceMetadata,
  startRecordingFront,
  startSts,
  startTokenEndpoint,
  STORAGE_SCOPE,
  TOKEN_HOST,
} from './credentials-helpers.js';

const ACCESS_TOKEN = 'ya29.rws-test-access-token';
const REFRESH_TOKEN = '1//rws-test-refresh-token';

let directory: string;
let gcs: TestServer;
let emulator: TestServer;
let tokenEndpoint: Awaited<ReturnType<typeof startTokenEndpoint>>;
let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
let keyFile: string;
let clientEmail: string;
/** Reaches the token endpoint through the proxy, trusts the test CA, finds no real credentials. */
let baseEnv: Record<string, string>;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'rws-gcs-credentials-'));
  const tls = await makeCertificates(directory, TOKEN_HOST);
  const serviceAccount = makeServiceAccountKey();
  clientEmail = serviceAccount.file.client_email as string;
  keyFile = join(directory, 'key.json');
  await writeFile(keyFile, JSON.stringify(serviceAccount.file));
  tokenEndpoint = await startTokenEndpoint(tls, { publicKey: serviceAccount.publicKey, clientEmail, refreshToken: REFRESH_TOKEN }, ACCESS_TOKEN);
  proxy = await startConnectProxy({ [`${TOKEN_HOST}:443`]: tokenEndpoint.port });
  gcs = await createTestServer({ token: ACCESS_TOKEN });
  emulator = await createTestServer();
  const home = join(directory, 'home');
  await mkdir(home);
  // A closed port: no metadata server, refused at once.
  baseEnv = { HOME: home, NODE_EXTRA_CA_CERTS: tls.caFile, HTTPS_PROXY: proxy.url, GCE_METADATA_HOST: '127.0.0.1:9' };
}, 60_000);

afterAll(async () => {
  await Promise.all([tokenEndpoint.close(), proxy.close(), gcs.close(), emulator.close()]);
  await rm(directory, { recursive: true, force: true });
});

const flowTo = (name: string, session: Record<string, unknown> = {}) => ({ kind: 'gcs', bucket: 'bkt', name, size: 300_000, session: { apiEndpoint: gcs.url, useAuthWithCustomEndpoint: true, ...session } });

const storedSha = (name: string) => {
  const object = gcs.object('bkt', name) ?? emulator.object('bkt', name);
  return object?.data ? sha256(object.data) : undefined;
};

describe('Application Default Credentials (google-auth-library)', () => {
  it('a service-account key (GOOGLE_APPLICATION_CREDENTIALS): its signed JWT is exchanged at the token endpoint, the session starts with that token', async () => {
    const grants = tokenEndpoint.grants.length;
    const result = await runFlow(flowTo('adc/key.bin'), { ...baseEnv, GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    expect(result.error).toBeUndefined();
    expect(storedSha('adc/key.bin')).toBe(result['sha256']);
    expect(tokenEndpoint.grants.slice(grants)).toEqual([
      { grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', detail: expect.objectContaining({ iss: clientEmail, scope: STORAGE_SCOPE }) },
    ]);
    expect(proxy.tunnels).toContain(`${TOKEN_HOST}:443`);
  });

  it("gcloud's user credentials (gcloud auth application-default login): the refresh token is exchanged", async () => {
    const home = join(directory, 'user-home');
    await mkdir(join(home, '.config', 'gcloud'), { recursive: true });
    const adc = { type: 'authorized_user', client_id: 'rws-client.apps.googleusercontent.com', client_secret: 'rws-client-secret', refresh_token: REFRESH_TOKEN };
    await writeFile(join(home, '.config', 'gcloud', 'application_default_credentials.json'), JSON.stringify(adc));
    const grants = tokenEndpoint.grants.length;
    const result = await runFlow(flowTo('adc/user.bin'), { ...baseEnv, HOME: home });
    expect(result.error).toBeUndefined();
    expect(storedSha('adc/user.bin')).toBe(result['sha256']);
    expect(tokenEndpoint.grants.slice(grants)).toEqual([{ grantType: 'refresh_token', detail: { client_id: adc.client_id } }]);
  });

  it('the GCE/GKE metadata server (GCE_METADATA_HOST): pinged with Metadata-Flavor, then asked for a token with the storage scope', async () => {
    const metadata = await startGceMetadata(ACCESS_TOKEN);
    try {
      const result = await runFlow(flowTo('adc/metadata.bin'), { HOME: baseEnv['HOME'] as string, GCE_METADATA_HOST: metadata.host });
      expect(result.error).toBeUndefined();
      expect(storedSha('adc/metadata.bin')).toBe(result['sha256']);
      expect(metadata.requests[0]).toBe('GET /computeMetadata/v1/instance');
      expect(metadata.requests).toContainEqual(expect.stringMatching(/^GET \/computeMetadata\/v1\/instance\/service-accounts\/default\/token\?scopes=.*devstorage\.full_control/));
    } finally {
      await metadata.close();
    }
  });

  it('workload identity federation (an external_account file): the subject token is exchanged at its token_url', async () => {
    const audience = '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/rws/providers/ci';
    const subjectToken = 'eyJ.rws-ci-oidc-token.sig';
    const sts = await startSts({ subjectToken, audience }, ACCESS_TOKEN);
    try {
      const subjectFile = join(directory, 'subject-token');
      await writeFile(subjectFile, subjectToken);
      const config = { type: 'external_account', audience, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_url: sts.tokenUrl, cloud_resource_manager_url: sts.resourceManagerUrl, credential_source: { file: subjectFile } };
      const configFile = join(directory, 'external-account.json');
      await writeFile(configFile, JSON.stringify(config));
      const result = await runFlow(flowTo('adc/wif.bin'), { HOME: baseEnv['HOME'] as string, GCE_METADATA_HOST: '127.0.0.1:9', GOOGLE_APPLICATION_CREDENTIALS: configFile });
      expect(result.error).toBeUndefined();
      expect(storedSha('adc/wif.bin')).toBe(result['sha256']);
      expect(sts.exchanges.filter((form) => form['grant_type'])).toEqual([expect.objectContaining({ audience, subject_token: subjectToken, scope: STORAGE_SCOPE })]);
    } finally {
      await sts.close();
    }
  });

  it('none found: RWS_CREDENTIALS saying where it looked and what to run', async () => {
    const result = await runFlow(flowTo('adc/none.bin'), baseEnv);
    expect(result.error).toMatchObject({ code: 'RWS_CREDENTIALS', name: 'CredentialsError' });
    expect(result.error?.message).toMatch(/GOOGLE_APPLICATION_CREDENTIALS/);
    expect(result.error?.message).toMatch(/application_default_credentials\.json/);
    expect(result.error?.message).toMatch(/metadata server/);
    expect(result.error?.message).toMatch(/gcloud auth application-default login/);
    expect(gcs.object('bkt', 'adc/none.bin')).toBeUndefined();
  });

  it('a key the token endpoint refuses: RWS_CREDENTIALS with its reason, no session started', async () => {
    const other = makeServiceAccountKey();
    const file = join(directory, 'unknown-key.json');
    await writeFile(file, JSON.stringify(other.file));
    const initiations = gcs.requests.filter((entry) => entry.kind === 'initiate').length;
    const result = await runFlow(flowTo('adc/refused.bin'), { ...baseEnv, GOOGLE_APPLICATION_CREDENTIALS: file });
    expect(result.error).toMatchObject({ code: 'RWS_CREDENTIALS' });
    expect(result.error?.message).toMatch(/invalid_grant/);
    expect(result.error?.message).not.toContain(other.file.private_key as string);
    expect(gcs.requests.filter((entry) => entry.kind === 'initiate')).toHaveLength(initiations);
  });

  it('google-auth-library not installed: RWS_CREDENTIALS naming the package to install', async () => {
    const result = await runFlow(flowTo('adc/missing.bin'), { ...baseEnv, GOOGLE_APPLICATION_CREDENTIALS: keyFile }, ['google-auth-library']);
    expect(result.error).toMatchObject({ code: 'RWS_CREDENTIALS' });
    expect(result.error?.message).toMatch(/npm install google-auth-library@\^10/);
    expect(result.error?.message).toMatch(/`token`, `getToken` or `auth`/);
  });

  it('with a token neither SDK is needed: importing and uploading with both not importable', async () => {
    const flow = { kind: 'gcs', bucket: 'bkt', name: 'adc/token.bin', size: 1000, session: { apiEndpoint: gcs.url, token: ACCESS_TOKEN } };
    const result = await runFlow(flow, baseEnv, ['google-auth-library', 'gaxios', 'gcp-metadata', '@aws-sdk', '@smithy']);
    expect(result.error).toBeUndefined();
    expect(storedSha('adc/token.bin')).toBe(result['sha256']);
  });

  it('a GCS-only user never loads the AWS SDK: ADC works with @aws-sdk and @smithy not importable', async () => {
    const result = await runFlow(flowTo('adc/no-aws.bin'), { ...baseEnv, GOOGLE_APPLICATION_CREDENTIALS: keyFile }, ['@aws-sdk', '@smithy']);
    expect(result.error).toBeUndefined();
    expect(storedSha('adc/no-aws.bin')).toBe(result['sha256']);
  });
});

describe('STORAGE_EMULATOR_HOST', () => {
  it('is the endpoint, and gets no credentials (not even with a key in GOOGLE_APPLICATION_CREDENTIALS) unless asked', async () => {
    const front = await startRecordingFront(emulator.url);
    try {
      const grants = tokenEndpoint.grants.length;
      const env = { ...baseEnv, GOOGLE_APPLICATION_CREDENTIALS: keyFile, STORAGE_EMULATOR_HOST: front.url };
      const plain = await runFlow({ kind: 'gcs', bucket: 'bkt', name: 'emu/plain.bin', size: 1000, session: {} }, env);
      expect(plain.error).toBeUndefined();
      expect(storedSha('emu/plain.bin')).toBe(plain['sha256']);
      expect(front.seen[0]?.authorization).toBeUndefined();
      expect(tokenEndpoint.grants.length).toBe(grants);

      const before = front.seen.length;
      const asked = await runFlow({ kind: 'gcs', bucket: 'bkt', name: 'emu/asked.bin', size: 1000, session: { useAuthWithCustomEndpoint: true } }, env);
      expect(asked.error).toBeUndefined();
      // The initiation carries the token; the upload to the session URI needs none.
      expect(front.seen[before]?.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    } finally {
      await front.close();
    }
  });

  it('without a scheme it is https (as @google-cloud/storage reads it); plain http to a host that is not loopback is refused', async () => {
    const result = await runFlow({ kind: 'gcs', bucket: 'bkt', name: 'emu/x', session: {} }, { HOME: baseEnv['HOME'] as string, STORAGE_EMULATOR_HOST: 'http://gcs-emulator.internal:4443' });
    expect(result.error?.message).toMatch(/Expected `STORAGE_EMULATOR_HOST` to use https.*allowInsecureHttp/);
  });
});

describe('auth: a GoogleAuth or AuthClient of your own', () => {
  it('authorizes the session with the client’s headers', async () => {
    const client = new OAuth2Client();
    client.setCredentials({ access_token: ACCESS_TOKEN, expiry_date: Date.now() + 3600_000 });
    const url = await createGcsSession({ bucket: 'bkt', name: 'auth/client.bin', apiEndpoint: gcs.url, auth: client });
    expect(url).toMatch(/upload_id=/);
  });

  it('one of token, getToken and auth; auth must be a client', async () => {
    const client = new OAuth2Client();
    await expect(createGcsSession({ bucket: 'b', name: 'n', token: 't', auth: client })).rejects.toThrow(/Give one of `token`, `getToken` and `auth`, received `token` and `auth`/);
    await expect(createGcsSession({ bucket: 'b', name: 'n', auth: {} as never })).rejects.toThrow(/Expected `auth` to be a GoogleAuth or an AuthClient/);
    await expect(createGcsSession({ bucket: 'b', name: 'n', token: 't', useAuthWithCustomEndpoint: 'yes' as never })).rejects.toThrow(/`useAuthWithCustomEndpoint` to be a boolean/);
  });
});

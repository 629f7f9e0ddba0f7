/**
 * Optional peer dependencies, imported only when a credential chain is needed: a GCS user never
 * loads (or installs) the AWS SDK, an S3 user never loads Google's auth library, and a user who
 * passes a token or static keys loads neither (nor @azure/identity, for Azure's Entra tokens).
 */
import { CredentialsError } from '../errors.js';

/** The packages this file may import, with the range the library was tested with. */
export const OPTIONAL_PACKAGES = {
  'google-auth-library': '^10',
  '@aws-sdk/credential-providers': '^3',
  '@azure/identity': '^4',
} as const;

export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** Imports `name`, or fails with a CredentialsError that says what to install and what to pass instead. */
export async function importOptional<T>(name: OptionalPackage, load: () => Promise<T>, instead: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissing(error, name)) throw error;
    throw new CredentialsError(
      `${purposeOf(name)} needs the optional package ${name}, which is not installed: ` +
        `run \`npm install ${name}@${OPTIONAL_PACKAGES[name]}\`, or ${instead}`,
      { cause: error },
    );
  }
}

const PURPOSES: Readonly<Record<OptionalPackage, string>> = {
  'google-auth-library': 'Finding Google Application Default Credentials',
  '@aws-sdk/credential-providers': 'Finding AWS credentials (the default provider chain)',
  '@azure/identity': 'Finding Microsoft Entra credentials (DefaultAzureCredential)',
};

function purposeOf(name: OptionalPackage): string {
  return PURPOSES[name];
}

function isMissing(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${name}'`);
}

/** A provider's failure in a message: its own words, at most 300 characters of them. */
export function describeCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}


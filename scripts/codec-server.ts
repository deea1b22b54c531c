/**
 * Runs the codec server so the Temporal Web UI (or `temporal workflow show --codec-endpoint`) can show
 * encrypted payloads in clear text:
 *
 *   RETENTION_CODEC_KEYS=k1:BASE64KEY RETENTION_CODEC_AUTH_TOKEN=$(openssl rand -hex 32) \
 *     npx tsx scripts/codec-server.ts --port 8888 --cors-origin http://localhost:8233
 *
 * then `temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888`, or set the endpoint in
 * the Web UI's codec server setting. RETENTION_CODEC_AUTH_TOKEN is required as a bearer token (kept
 * out of the command line, where `ps` shows it) unless `--no-auth` says explicitly to serve without one.
 */
import { parseArgs } from 'node:util';
import { CODEC_KEYS_ENV, CodecError, REQUIRE_ENCRYPTION_ENV } from '../codec/aes-gcm-codec';
import { startCodecServer, type CodecServerOptions } from '../codec/codec-server';
import { requireEncryptionFromEnv } from '../codec/data-converter';

export const AUTH_TOKEN_ENV = 'RETENTION_CODEC_AUTH_TOKEN';

const USAGE =
  'usage: codec-server [--port 8888] [--host 127.0.0.1] [--cors-origin http://localhost:8233 ...] [--no-auth] [--require-encryption]\n\n' +
  `Decrypts and encrypts payloads for the Temporal Web UI. Keys from ${CODEC_KEYS_ENV} ("id:base64key,...").\n` +
  `${AUTH_TOKEN_ENV} (at least 16 characters) is required as "Authorization: Bearer <token>", unless --no-auth.\n` +
  'Requests from browser pages of other origins than --cors-origin are refused (403).\n' +
  `--require-encryption (or ${REQUIRE_ENCRYPTION_ENV}=true) refuses to decode payloads that are not encrypted.`;

/** The server's options from the command line and the environment; undefined for --help. */
export function codecServerOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): CodecServerOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8888' },
      host: { type: 'string', default: '127.0.0.1' },
      'cors-origin': { type: 'string', multiple: true, default: ['http://localhost:8233'] },
      'no-auth': { type: 'boolean', default: false },
      'require-encryption': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const keys = env[CODEC_KEYS_ENV];
  if (!keys)
    throw new CodecError(
      `${CODEC_KEYS_ENV} is not set: give the same keys as the worker ("id:base64key,...")`,
    );
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new CodecError(`--port ${values.port}: expected a port number`);
  const token = env[AUTH_TOKEN_ENV] || undefined;
  if (token && values['no-auth'])
    throw new CodecError(`--no-auth and ${AUTH_TOKEN_ENV} contradict each other: unset one`);
  if (!token && !values['no-auth'])
    throw new CodecError(
      `${AUTH_TOKEN_ENV} is not set: whoever reaches the codec server can decrypt, so it requires a bearer token ` +
        `(export ${AUTH_TOKEN_ENV}=$(openssl rand -hex 32)); to serve without one, pass --no-auth`,
    );
  return {
    port,
    host: values.host,
    keys,
    corsOrigin: values['cors-origin'],
    ...(token ? { authToken: token } : { noAuth: true }),
    requireEncryption: values['require-encryption'] || requireEncryptionFromEnv(env),
  };
}

export async function runCodecServer(argv: string[]): Promise<void> {
  const opts = codecServerOptions(argv);
  if (!opts) {
    console.log(USAGE);
    return;
  }
  const server = await startCodecServer(opts);
  const origins = [opts.corsOrigin ?? []].flat().join(', ');
  console.error(
    `codec server on ${server.url} (browser origins allowed: ${origins}; ` +
      `${opts.noAuth ? 'NO AUTHENTICATION (--no-auth)' : 'bearer token required'}` +
      `${opts.requireEncryption ? '; unencrypted payloads refused' : ''})\n` +
      `point the Web UI at it: temporal server start-dev --ui-codec-endpoint ${server.url}, or the Web UI's codec server setting`,
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  runCodecServer(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

/**
 * Runs the codec server so the Temporal Web UI (or `temporal workflow show --codec-endpoint`) can show
 * encrypted payloads in clear text:
 *
 *   RETENTION_CODEC_KEYS=k1:BASE64KEY npx tsx scripts/codec-server.ts --port 8888 --cors-origin http://localhost:8233
 *
 * then `temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888`, or set the endpoint in
 * the Web UI's codec server setting. RETENTION_CODEC_AUTH_TOKEN, when set, is required as a bearer
 * token (kept out of the command line, where `ps` shows it).
 */
import { parseArgs } from 'node:util';
import { CODEC_KEYS_ENV } from '../codec/aes-gcm-codec';
import { startCodecServer } from '../codec/codec-server';

export async function runCodecServer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8888' },
      host: { type: 'string', default: '127.0.0.1' },
      'cors-origin': { type: 'string', multiple: true, default: ['http://localhost:8233'] },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: codec-server [--port 8888] [--host 127.0.0.1] [--cors-origin http://localhost:8233 ...]\n\n' +
        `Decrypts and encrypts payloads for the Temporal Web UI. Keys from ${CODEC_KEYS_ENV} ("id:base64key,...");\n` +
        'RETENTION_CODEC_AUTH_TOKEN, when set, is required as "Authorization: Bearer <token>".',
    );
    return;
  }
  const keys = process.env[CODEC_KEYS_ENV];
  if (!keys)
    throw new Error(`${CODEC_KEYS_ENV} is not set: give the same keys as the worker ("id:base64key,...")`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port}: expected a port number`);
  const server = await startCodecServer({
    port,
    host: values.host,
    keys,
    corsOrigin: values['cors-origin'],
    authToken: process.env.RETENTION_CODEC_AUTH_TOKEN || undefined,
  });
  console.error(
    `codec server on ${server.url} (CORS for ${values['cors-origin'].join(', ')})\n` +
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

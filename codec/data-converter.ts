/**
 * The data converter of the worker and the clients: Temporal's default JSON conversion, plus the
 * AES-256-GCM codec when RETENTION_CODEC_KEYS is set. Workers and clients of one deployment must
 * agree: a client without the keys cannot read what an encrypting worker wrote, and a worker that
 * requires encryption refuses what a client without them wrote.
 */
import type { DataConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  CODEC_KEYS_ENV,
  CodecError,
  parseCodecKeys,
  REQUIRE_ENCRYPTION_ENV,
} from './aes-gcm-codec';

/**
 * RETENTION_CODEC_REQUIRE_ENCRYPTION: "true" refuses unencrypted payloads, "false" or unset passes
 * them through (what was written before encryption was turned on). Anything else is an error, and so
 * is "true" without keys: a setting that would silently do nothing.
 */
export function requireEncryptionFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[REQUIRE_ENCRYPTION_ENV]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false') return false;
  if (v !== 'true')
    throw new CodecError(
      `${REQUIRE_ENCRYPTION_ENV}: expected "true" or "false", got ${JSON.stringify(env[REQUIRE_ENCRYPTION_ENV])}`,
    );
  if (!env[CODEC_KEYS_ENV]?.trim())
    throw new CodecError(
      `${REQUIRE_ENCRYPTION_ENV}=true needs ${CODEC_KEYS_ENV}: without keys nothing is encrypted and every payload would be refused`,
    );
  return true;
}

/**
 * The codec from RETENTION_CODEC_KEYS ("id1:base64key,id2:..."; the first encrypts), refusing
 * unencrypted payloads when RETENTION_CODEC_REQUIRE_ENCRYPTION=true; undefined when no keys are set.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const requireEncryption = requireEncryptionFromEnv(env);
  const spec = env[CODEC_KEYS_ENV];
  if (!spec?.trim()) return undefined;
  return new AesGcmCodec(parseCodecKeys(spec), { requireEncryption });
}

/** `{ payloadCodecs: [codec] }` when RETENTION_CODEC_KEYS is set, else undefined (the SDK's default). */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

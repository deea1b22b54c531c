/**
 * The data converter of the worker and the clients: Temporal's default JSON conversion, plus the
 * AES-256-GCM codec when RETENTION_CODEC_KEYS is set. Workers and clients of one deployment must
 * agree: a client without the keys cannot read what an encrypting worker wrote.
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec, CODEC_KEYS_ENV, parseCodecKeys } from './aes-gcm-codec';

/** The codec from RETENTION_CODEC_KEYS ("id1:base64key,id2:..."; the first encrypts), or undefined when unset. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const spec = env[CODEC_KEYS_ENV];
  if (!spec?.trim()) return undefined;
  return new AesGcmCodec(parseCodecKeys(spec));
}

/** `{ payloadCodecs: [codec] }` when RETENTION_CODEC_KEYS is set, else undefined (the SDK's default). */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

/**
 * Optional payload encryption (AES-256-GCM) for everything the SDK serializes: workflow and activity
 * inputs and results, signals, updates, queries, heartbeat details and memos. Temporal then stores only
 * ciphertext; a worker, client or codec server holding the keys reads it.
 *
 * Wire format of an encrypted payload: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`; data = 12-byte random IV ‖ ciphertext ‖ 16-byte GCM tag, where the
 * plaintext is the original Payload protobuf (metadata and data) and the key id is authenticated
 * data. Decoding picks the key by the id in the metadata, so keys rotate: put the new key first
 * (it encrypts), keep the old ones after it (they still decrypt).
 *
 * Search attributes are not payloads the codec sees (the server indexes them), and failure messages
 * and stack traces stay readable; neither ever carries credentials.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
export const CODEC_KEYS_ENV = 'RETENTION_CODEC_KEYS';
export const REQUIRE_ENCRYPTION_ENV = 'RETENTION_CODEC_REQUIRE_ENCRYPTION';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export interface CodecKey {
  id: string;
  /** 32 bytes (AES-256). Never logged, never part of an error message. */
  key: Buffer;
}

/**
 * Reads `id1:base64key,id2:base64key` (the format of RETENTION_CODEC_KEYS). The first key is the
 * active one. Errors name the key id and the problem, never the key material.
 */
export function parseCodecKeys(spec: string, source = CODEC_KEYS_ENV): CodecKey[] {
  const keys: CodecKey[] = [];
  for (const [i, entry] of spec.split(',').entries()) {
    const part = entry.trim();
    if (!part) continue;
    const colon = part.indexOf(':');
    if (colon < 0)
      throw new CodecError(
        `${source}: entry ${i + 1} is not "id:base64key" (generate a key with: openssl rand -base64 32)`,
      );
    const id = part.slice(0, colon).trim();
    const material = part.slice(colon + 1).trim();
    if (!KEY_ID.test(id))
      throw new CodecError(`${source}: entry ${i + 1}: key id must be 1-64 letters, digits, ".", "_" or "-"`);
    if (keys.some((k) => k.id === id)) throw new CodecError(`${source}: key id "${id}" appears twice`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material))
      throw new CodecError(`${source}: key "${id}" is not base64`);
    const key = Buffer.from(material, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new CodecError(
        `${source}: key "${id}" is ${key.length} bytes after base64 decoding; AES-256-GCM needs ${KEY_BYTES} (openssl rand -base64 32)`,
      );
    }
    keys.push({ id, key });
  }
  if (!keys.length)
    throw new CodecError(
      `${source}: no keys (expected "id1:base64key,id2:base64key", the first one encrypts)`,
    );
  return keys;
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export interface AesGcmCodecOptions {
  /**
   * Refuse to decode payloads that are not encrypted, instead of passing them through. Then only
   * holders of the keys can start runs or send signals and updates: AES-GCM authenticates what it
   * decrypts, so a payload written straight into Temporal by anyone else is refused.
   */
  requireEncryption?: boolean;
}

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly active: CodecKey;
  readonly requireEncryption: boolean;

  constructor(keys: CodecKey[], opts: AesGcmCodecOptions = {}) {
    if (!keys.length) throw new CodecError('AesGcmCodec needs at least one key');
    this.active = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.requireEncryption = opts.requireEncryption ?? false;
  }

  /** The id new payloads are encrypted with. */
  get activeKeyId(): string {
    return this.active.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = text(p.metadata?.[METADATA_ENCODING_KEY]);
      if (encoding === ENCRYPTED_ENCODING) return this.decrypt(p);
      // Payloads written before encryption was turned on pass through unchanged, unless refused.
      if (this.requireEncryption) {
        throw new CodecError(
          `payload is not encrypted (encoding ${JSON.stringify((encoding ?? 'none').slice(0, 40))}) and ${REQUIRE_ENCRYPTION_ENV}=true refuses it: ` +
            `start runs and send signals and updates through a client with the ${CODEC_KEYS_ENV} keys (or the codec server's /encode)`,
        );
      }
      return p;
    });
  }

  private encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
    cipher.setAAD(Buffer.from(this.active.id, 'utf8'));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA_KEY]: utf8(this.active.id),
      },
      data: new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()])),
    };
  }

  private decrypt(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[KEY_ID_METADATA_KEY]);
    if (!keyId)
      throw new CodecError(
        `encrypted payload has no "${KEY_ID_METADATA_KEY}" metadata: it was not written by this codec`,
      );
    const key = this.byId.get(keyId);
    if (!key) {
      throw new CodecError(
        `payload was encrypted with key "${keyId}", which is not among the configured keys (${[...this.byId.keys()].join(', ')}); ` +
          `keep retired keys after the active one in ${CODEC_KEYS_ENV} so old payloads stay readable`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new CodecError(`encrypted payload (key "${keyId}") is truncated: ${data.length} bytes`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new CodecError(
        `encrypted payload failed authentication with key "${keyId}": it was altered, or the key with that id is not the one that encrypted it`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/**
 * Huawei CSBS (Cloud Server Backup Service), API v1 (legacy service), per providers.md §2.
 * Item = one checkpoint item (`id`) inside its checkpoint (`checkpointId`).
 * Delete: DELETE /v1/{project}/providers/{provider}/checkpoints/{checkpoint}?checkpoint_items={item} → 200 {}.
 * The deletion is queued by CSBS (5 running per user, the rest `waiting_delete`); there is no task API,
 * so it is observed through GET /v1/{project}/checkpoint_items/{item}: done at `deleted` or 404
 * CSBS.3001, failed at `error` with extend_info.fail_op = delete.
 */
import { z } from 'zod';
import type { ItemRef } from '../../contract/model';
import type { AccountConfig } from '../../worker/config';
import type { HttpResponse } from '../http';
import { ProviderError } from '../provider-error';
import {
  type AdapterFactory,
  parseBody,
  type CallContext,
  type ListPage,
  type Observation,
  type ProviderAdapter,
} from './adapter';
import { classifyHuawei, HuaweiServiceAdapter, huaweiSessionFor, utcIso, type HuaweiDialect } from './huawei';

/** The fixed provider id of CSBS in the v1 (Karbor) URL. */
export const CSBS_PROVIDER_ID = 'fc4d5750-22e7-4798-8a46-f48f62c4c1da';

/**
 * CSBS runs at most 5 deletion tasks at once per user; more wait in its queue, where each counts
 * against the deadline of an item that is not running. The worker config refuses a CSBS account whose
 * `limits.maxConcurrent` is above it (worker/config.ts reads this constant).
 */
export const CSBS_MAX_CONCURRENT_DELETIONS = 5;

const failCodeSchema = z.object({ Code: z.string().nullish(), Description: z.string().nullish() });
const extendInfoSchema = z.object({
  fail_op: z.string().nullish(),
  fail_reason: z.string().nullish(),
  // Real answers carry `{}` when nothing failed.
  fail_code: failCodeSchema.nullish(),
  /** MB. */
  size: z.number().nullish(),
  os_images_data: z.array(z.object({ image_id: z.string().nullish() })).nullish(),
  resource_name: z.string().nullish(),
  auto_trigger: z.boolean().nullish(),
});
/** What observing a deletion needs. */
const itemSchema = z.object({
  id: z.string(),
  checkpoint_id: z.string(),
  status: z.string(),
  extend_info: extendInfoSchema.nullish(),
});
/** What a retention policy needs on top. */
const listedItemSchema = itemSchema.extend({
  name: z.string().nullish(),
  resource_id: z.string(),
  resource_type: z.string().nullish(),
  created_at: z.string().nullish(),
  tags: z.array(z.object({ key: z.string(), value: z.string().nullish() })).nullish(),
});
const showSchema = z.object({ checkpoint_item: itemSchema });
const listSchema = z.object({ checkpoint_items: z.array(listedItemSchema) });

/** Statuses in which CSBS accepts a delete; the others mean another operation runs (CSBS.2003). */
const DELETABLE_STATUSES = new Set(['available', 'error']);
/** Statuses that mean a deletion is already queued or running. */
const DELETING_STATUSES = new Set(['waiting_delete', 'deleting', 'deleted']);

const LIST_PAGE = 100;

export const CSBS_DIALECT: HuaweiDialect = {
  notFound: new Set(['CSBS.3001']),
  marker: 'CSBS.3001',
  busy: new Set(['CSBS.2003']),
  transient: new Set(['CSBS.9998', 'CSBS.9999']),
  blocked: new Map([
    ['BackupService.4008', 'this project may not use the legacy CSBS service; use CBR'],
    ['CSBS.8007', 'the backup is registered as an image'],
  ]),
};

export class CsbsAdapter extends HuaweiServiceAdapter implements ProviderAdapter {
  protected readonly apiVersion = 'v1';
  /** Queued or running deletions (see activities/resent-items.ts). */
  readonly deletingStatuses: ReadonlySet<string> = new Set(['waiting_delete', 'deleting']);
  private itemPath(id: string): string {
    return this.path(`/checkpoint_items/${encodeURIComponent(id)}`);
  }

  async requestDeletion(item: ItemRef, ctx: CallContext): Promise<Record<string, string>> {
    // Without checkpoint_items CSBS would delete every backup of the checkpoint: always name the item,
    // and learn its checkpoint from the provider when the request did not carry it.
    const checkpointId = item.checkpointId ?? (await this.lookup(item.id, ctx)).checkpoint_id;
    const what = `CSBS delete checkpoint item ${item.id} of checkpoint ${checkpointId}`;
    const res = await this.session.send(
      'DELETE',
      this.path(
        `/providers/${CSBS_PROVIDER_ID}/checkpoints/${encodeURIComponent(checkpointId)}?checkpoint_items=${encodeURIComponent(item.id)}`,
      ),
      ctx,
    );
    if (res.status === 200 || res.status === 202 || res.status === 204) return { checkpointId };
    const err = this.classify(res, what);
    if (err.kind === 'busy') {
      // CSBS.2003 also answers a delete of an item whose deletion is already queued or running (a retried
      // attempt whose first delete was accepted): observe that deletion instead of waiting for "not busy".
      const seen = await this.lookup(item.id, ctx).catch(() => undefined);
      if (seen && DELETING_STATUSES.has(seen.status)) {
        throw new ProviderError('in-progress', `${what}: deletion already ${seen.status}`, err.info);
      }
    }
    if (err.kind === 'not-found' && item.checkpointId) {
      // A wrong checkpoint id must not pass for "already gone" while the backup stays.
      const seen = await this.lookup(item.id, ctx).catch(() => undefined);
      if (seen && seen.checkpoint_id !== item.checkpointId) {
        throw new ProviderError(
          'rejected',
          `${what}: the item belongs to checkpoint ${seen.checkpoint_id}, not ${item.checkpointId}; fix the request's checkpointId`,
          { status: res.status, code: 'CheckpointMismatch' },
        );
      }
    }
    throw err;
  }

  async observeDeletion(
    item: ItemRef,
    _handle: Record<string, string>,
    ctx: CallContext,
  ): Promise<Observation> {
    const what = `CSBS get checkpoint item ${item.id}`;
    const res = await this.session.send('GET', this.itemPath(item.id), ctx);
    if (res.status !== 200) {
      const err = this.classify(res, what);
      if (err.kind === 'not-found') return { state: 'gone' };
      // The legacy service closed while we waited: nothing will ever finish it.
      if (err.kind === 'blocked')
        return { state: 'blocked', status: `HTTP ${res.status}`, reason: err.message, ...code(err) };
      throw err;
    }
    const { checkpoint_item: ci } = parseBody(showSchema, res, what);
    if (ci.status === 'deleted') return { state: 'gone' };
    const info = ci.extend_info;
    if (ci.status === 'error' && info?.fail_op === 'delete') {
      const reason =
        info.fail_reason || info.fail_code?.Description || 'provider reports the deletion failed';
      return { state: 'failed', status: ci.status, reason, code: info.fail_code?.Code || 'error' };
    }
    return { state: 'pending', status: ci.status };
  }

  async listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage> {
    const marker = cursor ? `&marker=${encodeURIComponent(cursor)}` : '';
    const res = await this.session.send(
      'GET',
      this.path(`/checkpoint_items?limit=${LIST_PAGE}${marker}`),
      ctx,
    );
    if (res.status !== 200) throw this.classify(res, 'CSBS list checkpoint items');
    const body = parseBody(listSchema, res, 'CSBS list checkpoint items');
    const records = body.checkpoint_items
      .filter((ci) => ci.status !== 'deleted')
      .map((ci) => {
        const info = ci.extend_info;
        const image = info?.os_images_data?.length ? info.os_images_data : undefined;
        const tags = ci.tags?.length
          ? Object.fromEntries(ci.tags.map((t) => [t.key, t.value ?? '']))
          : undefined;
        return {
          account: this.accountName,
          provider: 'csbs' as const,
          id: ci.id,
          checkpointId: ci.checkpoint_id,
          backupId: ci.id,
          ...(ci.name ? { name: ci.name } : {}),
          createdAt: utcIso(ci.created_at),
          status: ci.status,
          successful: ci.status === 'available',
          ...(info?.size != null ? { sizeBytes: info.size * 1024 ** 2 } : {}),
          group: ci.resource_id,
          ...(tags ? { tags } : {}),
          deletable: image
            ? { ok: false as const, reason: 'registered as an image (CSBS.8007); delete the image first' }
            : DELETABLE_STATUSES.has(ci.status)
              ? { ok: true as const }
              : { ok: false as const, reason: `status ${ci.status}` },
        };
      });
    // Marker pagination: the next page starts after the last id of this one (deleted ones included).
    const last = body.checkpoint_items.at(-1);
    return body.checkpoint_items.length >= LIST_PAGE && last ? { records, next: last.id } : { records };
  }

  /** The item as CSBS sees it; 404 → not-found. */
  private async lookup(id: string, ctx: CallContext): Promise<z.output<typeof itemSchema>> {
    const what = `CSBS get checkpoint item ${id}`;
    const res = await this.session.send('GET', this.itemPath(id), ctx);
    if (res.status !== 200) throw this.classify(res, what);
    return parseBody(showSchema, res, what).checkpoint_item;
  }

  classify(res: HttpResponse, what: string): ProviderError {
    return classifyHuawei(res, what, CSBS_DIALECT, this.ref);
  }
}

function code(err: ProviderError): { code?: string } {
  return err.info.code ? { code: err.info.code } : {};
}

export const csbsAdapterFactory: AdapterFactory = (name, account, loaded, http) => {
  const a = account as Extract<AccountConfig, { provider: 'csbs' }>;
  return new CsbsAdapter(name, a, huaweiSessionFor(name, a, loaded, http));
};

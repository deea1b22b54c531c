/** What every provider simulator shares: the clock, counters, timings and the Huawei IAM token book. */
import { randomBytes } from 'node:crypto';
import { Counters } from './counters';
import { json, type SimRequest, type SimResponse } from './http-kit';

export interface Timings {
  /** How long a deletion takes once started, per provider (ms). CSBS documents up to 30 minutes. */
  deleteMs: Record<string, number>;
  /** Huawei IAM token lifetime (24 h documented). */
  huaweiTokenTtlMs: number;
  /** Veeam access token lifetime (60 min documented). */
  veeamTokenTtlMs: number;
}

export const DEFAULT_TIMINGS: Timings = {
  deleteMs: { vbs: 300, csbs: 300, taurusdb: 300, jsa: 300, veeam: 300 },
  huaweiTokenTtlMs: 24 * 3_600_000,
  veeamTokenTtlMs: 3_600_000,
};

export class SimContext {
  readonly counters = new Counters();
  timings: Timings = structuredClone(DEFAULT_TIMINGS);
  /** When set, IAM only accepts these username → password pairs. */
  huaweiUsers?: Record<string, string>;
  private readonly huaweiTokens = new Map<string, { projectId: string; expiresAt: number }>();

  now(): number {
    return Date.now();
  }

  deleteMs(provider: string): number {
    return this.timings.deleteMs[provider] ?? 300;
  }

  /** POST /v3/auth/tokens (password identity, project scope) → 201 + X-Subject-Token. */
  issueHuaweiToken(req: SimRequest): SimResponse {
    let body: unknown;
    try {
      body = req.json();
    } catch {
      return json(400, {
        error: { code: 400, message: 'The request body is invalid JSON', title: 'Bad Request' },
      });
    }
    const auth = (
      body as {
        auth?: {
          identity?: {
            methods?: string[];
            password?: { user?: { name?: string; password?: string; domain?: { name?: string } } };
          };
          scope?: { project?: { id?: string; name?: string } };
        };
      }
    )?.auth;
    const user = auth?.identity?.password?.user;
    const projectId = auth?.scope?.project?.id ?? auth?.scope?.project?.name;
    if (
      !auth?.identity?.methods?.includes('password') ||
      !user?.name ||
      !user.password ||
      !user.domain?.name ||
      !projectId
    ) {
      return json(400, {
        error: { code: 400, message: 'Invalid input for field identity/scope', title: 'Bad Request' },
      });
    }
    if (this.huaweiUsers && this.huaweiUsers[user.name] !== user.password) {
      return json(401, {
        error: { code: 401, message: 'The username or password is wrong.', title: 'Unauthorized' },
      });
    }
    const token = `MII${randomBytes(24).toString('hex')}`;
    const expiresAt = this.now() + this.timings.huaweiTokenTtlMs;
    this.huaweiTokens.set(token, { projectId, expiresAt });
    this.counters.bump(this.counters.tokensIssued, `huawei:${user.domain.name}:${user.name}`);
    return json(
      201,
      {
        token: {
          expires_at: new Date(expiresAt).toISOString(),
          methods: ['password'],
          project: { id: projectId },
        },
      },
      { 'X-Subject-Token': token },
    );
  }

  /** 401 response when the X-Auth-Token is missing, unknown, revoked, expired or for another project. */
  checkHuaweiToken(req: SimRequest, projectId: string): SimResponse | undefined {
    const token = req.headers['x-auth-token'];
    const t = typeof token === 'string' ? this.huaweiTokens.get(token) : undefined;
    if (!t || t.expiresAt <= this.now() || t.projectId !== projectId) {
      return json(401, {
        error_code: 'APIGW.0301',
        error_msg: 'Incorrect IAM authentication information: verify aksk signature fail',
      });
    }
    return undefined;
  }

  revokeHuaweiTokens(): void {
    this.huaweiTokens.clear();
  }
}

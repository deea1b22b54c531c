import type { SimRequest, SimResponse } from './http-kit';

/** One provider's simulated API. `scope` is the project (Huawei), console (JSA) or appliance (Veeam). */
export interface ProviderSim {
  readonly name: string;
  handle(req: SimRequest): SimResponse | Promise<SimResponse>;
  /** Adds backups in the provider's own JSON shape (plus optional `sim` switches). Returns how many. */
  seed(scope: string, backups: unknown[]): number;
  /** The backups that still exist, in the provider's shape. */
  list(scope: string): unknown[];
  reset(): void;
  /**
   * Sets a scope's simulation modes (listing behaviour and the like), as `PUT /_admin/modes` does;
   * providers without scope modes leave it out.
   */
  configure?(scope: string, modes: Record<string, unknown>): void;
}

/**
 * Registers the product's search attributes (workflows/search-attributes.ts) on a namespace, through
 * Temporal's operator service: once per namespace of a real cluster, before the first run (a run that
 * sets an unregistered attribute fails its workflow tasks until it exists). The dev server registers
 * them itself (`--search-attribute`, scripts/dev-server.ts).
 *
 * Idempotent: an attribute registered with the right type is left alone. One registered with another
 * type is a conflict, and then nothing is added: the server would silently keep the other type (it
 * ignores a name it already has), and every run would fail on it.
 */
import type { ConnectionLike } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SA, SEARCH_ATTRIBUTE_TYPE_NAMES } from '../workflows/search-attributes';

export interface SearchAttributeState {
  name: string;
  /** Temporal's name of the type retention-cleanup needs, e.g. "KeywordList". */
  type: string;
  /**
   * added: registered now; present: already there with this type; conflict: there with another type
   * (`registeredAs`); missing: not there, and not added because of a conflict.
   */
  state: 'added' | 'present' | 'conflict' | 'missing';
  registeredAs?: string;
}

export interface NamespaceSetup {
  namespace: string;
  attributes: SearchAttributeState[];
}

const { IndexedValueType } = temporal.api.enums.v1;

/** The operator service's number for a type (the SDK's type names are the enum's without its prefix). */
const indexedValueType = (type: SearchAttributeType): number =>
  IndexedValueType[`INDEXED_VALUE_TYPE_${type}`];

/** Temporal's type name ("Keyword", "Int"...) of a number the server answered. */
function typeName(indexed: number): string {
  const type = IndexedValueType[indexed]?.replace('INDEXED_VALUE_TYPE_', '') as
    SearchAttributeType | undefined;
  return (type && SEARCH_ATTRIBUTE_TYPE_NAMES[type]) ?? `type ${indexed}`;
}

const WANTED = Object.values(SA).map((key) => ({
  name: key.name,
  type: SEARCH_ATTRIBUTE_TYPE_NAMES[key.type],
  indexedValueType: indexedValueType(key.type),
}));

/** The namespace's custom search attributes: name → IndexedValueType. */
async function registered(
  connection: Pick<ConnectionLike, 'operatorService'>,
  namespace: string,
): Promise<Map<string, number>> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return new Map(Object.entries(customAttributes ?? {}).map(([name, t]) => [name, Number(t)]));
}

/**
 * Registers the missing attributes, unless one conflicts (then it adds nothing and the result names
 * the conflicts). Throws the server's error, e.g. NOT_FOUND for an unknown namespace.
 */
export async function setupNamespace(
  connection: Pick<ConnectionLike, 'operatorService'>,
  namespace: string,
): Promise<NamespaceSetup> {
  const have = await registered(connection, namespace);
  const missing = WANTED.filter((w) => !have.has(w.name));
  const conflicts = WANTED.filter((w) => have.has(w.name) && have.get(w.name) !== w.indexedValueType);
  const adding = conflicts.length ? [] : missing;
  if (adding.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(adding.map((w) => [w.name, w.indexedValueType])),
    });
    // Read back: the server keeps a name it already has whatever type we asked for, so one that
    // another client registered in the meantime could have another type.
    const now = await registered(connection, namespace);
    const wrong = adding.filter((w) => now.get(w.name) !== w.indexedValueType);
    if (wrong.length) {
      throw new Error(
        `namespace "${namespace}": ${wrong.map((w) => `${w.name} (${w.type})`).join(', ')} did not register ` +
          'with the right type (changed by someone else meanwhile?); run setup-namespace again to see why',
      );
    }
  }
  return {
    namespace,
    attributes: WANTED.map(({ name, type }) => {
      const got = have.get(name);
      if (got === undefined) return { name, type, state: adding.length ? 'added' : 'missing' };
      if (conflicts.some((c) => c.name === name))
        return { name, type, state: 'conflict', registeredAs: typeName(got) };
      return { name, type, state: 'present' };
    }),
  };
}

// Lists the pickers share, read once per sign-in: departments, review cycles, the people
// directory, trials. Each comes from a public query and is cached until sign-out.

import { allNodes, graphql } from "./api.js";

const cache = new Map();

function cached(key, load) {
  if (!cache.has(key)) {
    const promise = load();
    promise.catch(() => cache.delete(key)); // a failure is not remembered: the next call retries
    cache.set(key, promise);
  }
  return cache.get(key);
}

export function forgetAll() {
  cache.clear();
  names.clear();
}

/** Departments in tree order, each with its depth: [{id, code, name, depth}]. */
export function departments() {
  return cached("departments", async () => {
    const nodes = await allNodes(async (after) =>
      (
        await graphql(
          `query Departments($after: String) {
            departments(first: 200, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { id code name parent { id } } }
            }
          }`,
          { after },
        )
      ).departments,
    );
    const children = new Map();
    for (const node of nodes) {
      const parent = node.parent?.id ?? null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(node);
    }
    const known = new Set(nodes.map((node) => node.id));
    const roots = nodes.filter((node) => !node.parent || !known.has(node.parent.id));
    const ordered = [];
    const visit = (node, depth) => {
      ordered.push({ id: node.id, code: node.code, name: node.name, depth });
      for (const child of (children.get(node.id) ?? []).sort((a, b) => a.code.localeCompare(b.code))) visit(child, depth + 1);
    };
    for (const root of roots.sort((a, b) => a.code.localeCompare(b.code))) visit(root, 0);
    return ordered;
  });
}

/** Review cycles, newest period first: [{id, name, period, status}]. */
export function cycles() {
  return cached("cycles", async () => {
    const nodes = await allNodes(async (after) =>
      (
        await graphql(
          `query Cycles($after: String) {
            reviewCycles(first: 200, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { id name period status } }
            }
          }`,
          { after },
        )
      ).reviewCycles,
    );
    return nodes.sort((a, b) => b.period.localeCompare(a.period) || a.name.localeCompare(b.name));
  });
}

/** Everyone in the directory: [{id, code, name}] by code. */
export function people() {
  return cached("people", async () =>
    allNodes(async (after) =>
      (
        await graphql(
          `query People($after: String) {
            employees(first: 200, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { id code name } }
            }
          }`,
          { after },
        )
      ).employees,
    ),
  );
}

const names = new Map(); // id -> "Name (CODE)", or null for an id that names no one
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAMES_PER_REQUEST = 100;

/**
 * "Name (CODE)" for each of `ids` that names a person (raters, actors; other ids, such as
 * "seed", are left out), asked for in one request per hundred unknown ids rather than by
 * reading the whole directory.
 */
export async function namesFor(ids) {
  const unknown = [...new Set(ids)].filter((id) => typeof id === "string" && UUID.test(id) && !names.has(id));
  for (let start = 0; start < unknown.length; start += NAMES_PER_REQUEST) {
    const batch = unknown.slice(start, start + NAMES_PER_REQUEST);
    const declared = batch.map((_, index) => `$i${index}: ID!`).join(", ");
    const fields = batch.map((_, index) => `p${index}: employee(id: $i${index}) { id code name }`).join(" ");
    const variables = Object.fromEntries(batch.map((id, index) => [`i${index}`, id]));
    try {
      const data = await graphql(`query Names(${declared}) { ${fields} }`, variables);
      batch.forEach((id, index) => {
        const person = data[`p${index}`];
        names.set(id, person ? `${person.name} (${person.code})` : null);
      });
    } catch {
      // Names are a convenience: without them the ids show.
    }
  }
  return new Map(ids.filter((id) => names.get(id)).map((id) => [id, names.get(id)]));
}

/** Every trial, newest first, from the trials read model. */
export function trials() {
  return cached("trials", () =>
    allNodes(async (after) =>
      (
        await graphql(
          `query Trials($after: String) {
            trials(first: 100, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { id name status ruleSetVersion period participants startedOn endedOn feedbackCount } }
            }
          }`,
          { after },
        )
      ).trials,
    ),
  );
}

export function forget(key) {
  cache.delete(key);
}

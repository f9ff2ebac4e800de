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

/** Names of people by id, for the ids a report names (raters, actors); unknown ids map to nothing. */
export async function namesById() {
  try {
    return new Map((await people()).map((person) => [person.id, `${person.name} (${person.code})`]));
  } catch {
    return new Map();
  }
}

/** The trials recorded so far (from the audit trail's Trial.Started entries), newest first. */
export function trials() {
  return cached("trials", async () => {
    const started = await allNodes(async (after) =>
      (
        await graphql(
          `query TrialsStarted($after: String) {
            auditTrail(filter: { eventType: "Trial.Started" }, first: 200, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { aggregateId recordedAt } }
            }
          }`,
          { after },
        )
      ).auditTrail,
    );
    const views = await Promise.all(
      started.map(async (entry) =>
        (
          await graphql(
            `query Trial($id: ID!) {
              trial(id: $id) { id name status ruleSetVersion period participants startedOn endedOn feedbackCount }
            }`,
            { id: entry.aggregateId },
          )
        ).trial,
      ),
    );
    return views.reverse();
  });
}

export function forget(key) {
  cache.delete(key);
}

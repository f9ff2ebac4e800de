// The public GraphQL API over HTTP, and the session's bearer token.
//
// The token lives in sessionStorage (gone when the tab closes) and travels only in the
// Authorization header: never in a URL, where it would end up in history and server logs.

const TOKEN_KEY = "perfledger.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  save(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/**
 * What the token says about itself, for display only (who, role, expiry); the API decides
 * what the token may do. Null when it is not a readable JWT.
 */
export function tokenClaims(token) {
  const parts = (token ?? "").split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const claims = JSON.parse(atob(padded));
    return typeof claims === "object" && claims !== null ? claims : null;
  } catch {
    return null;
  }
}

/** An error the API reported (or the failure to reach it), with the API's code when it gave one. */
export class ApiError extends Error {
  constructor(message, { code = null, status = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }

  get unauthenticated() {
    return this.status === 401 || this.code === "UNAUTHENTICATED";
  }
}

let onUnauthenticated = () => {};

/** Called when the API refuses the token (expired, revoked, malformed): the app signs out. */
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

/**
 * Run one GraphQL operation with the session's token (or `token`, at sign-in) and return its
 * data. Any error the API reports is thrown as an ApiError carrying the API's own message.
 */
export async function graphql(query, variables = {}, { token = session.token } = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (cause) {
    throw new ApiError(`The service could not be reached (${cause.message}).`, { code: "NETWORK" });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status} ${response.statusText} without a readable body.`, {
      status: response.status,
    });
  }
  const first = body?.errors?.[0];
  if (first) {
    const error = new ApiError(first.message ?? "The service reported an error.", {
      code: first.extensions?.code ?? null,
      status: response.status,
    });
    if (error.unauthenticated && token === session.token) onUnauthenticated(error);
    throw error;
  }
  if (!response.ok) {
    throw new ApiError(`The service answered ${response.status} ${response.statusText}.`, {
      status: response.status,
    });
  }
  return body.data;
}

/**
 * Every node of a paged connection: `fetchPage(after)` returns the connection
 * ({edges, pageInfo}); pages are followed until the last (at most `limit` nodes).
 */
export async function allNodes(fetchPage, limit = 5000) {
  const nodes = [];
  let after = null;
  for (;;) {
    const connection = await fetchPage(after);
    nodes.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage || nodes.length >= limit) return nodes;
    after = connection.pageInfo.endCursor;
  }
}

/**
 * A mutation's CommandResult: the accepted receipt, or an ApiError with the rejection's code
 * and message (the command recorded nothing).
 */
export function accepted(result) {
  if (result?.__typename === "CommandRejected") {
    throw new ApiError(result.message, { code: result.code });
  }
  return result;
}

/** What this server offers beyond the queries every version has: its subscriptions and queries. */
export async function discoverFeatures() {
  const data = await graphql(`{
    __schema {
      queryType { fields { name } }
      subscriptionType { fields { name args { name } } }
    }
  }`);
  const queries = new Set(data.__schema.queryType.fields.map((field) => field.name));
  const subscriptions = new Map(
    (data.__schema.subscriptionType?.fields ?? []).map((field) => [
      field.name,
      new Set(field.args.map((arg) => arg.name)),
    ]),
  );
  return {
    query: (name) => queries.has(name),
    subscription: (name) => subscriptions.has(name),
    subscriptionArgs: (name) => subscriptions.get(name) ?? new Set(),
    live: subscriptions.size > 0,
  };
}

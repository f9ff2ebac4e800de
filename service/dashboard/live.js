// Live updates: a small client of the graphql-transport-ws protocol on /graphql.
//
// The protocol is a handful of JSON messages: the client opens with connection_init (here
// carrying the bearer token) and waits for connection_ack; each subscription is a `subscribe`
// with an id, answered by `next` messages until `complete` (or `error` when the server refuses
// it); either side may `ping`, the other answers `pong`.
//
// Every subscription remembers the last log position it received. When the socket drops (the
// service restarted, the network blinked, or the server cut off a subscriber that fell behind),
// the client reconnects with a growing delay and subscribes again with
// `afterPosition: <last position seen>`, so the server replays what was missed. (A subscription
// whose document declares no $afterPosition, such as a trial's comparison, which answers with
// the current state first, is simply subscribed again.)

import { ApiError } from "./api.js";

const PROTOCOL = "graphql-transport-ws";
const ACK_TIMEOUT_MS = 10_000;
const MAX_DELAY_MS = 15_000;

// Close codes after which trying again cannot help: the token or the request is wrong.
const FINAL_CLOSE_CODES = new Map([
  [4400, "the server could not read a message"],
  [4401, "the token was not accepted"],
  [4403, "the token may not subscribe"],
  [4406, "the server does not speak graphql-transport-ws"],
]);

const CLOSE_REASONS = new Map([
  [1001, "the service is going away"],
  [1006, "the connection was lost"],
  [1011, "the service hit an error"],
  [1012, "the service is restarting"],
  [1013, "the service is overloaded"],
  [4408, "the service did not acknowledge the connection in time"],
  [4429, "too many connection attempts"],
  [4500, "the service hit an error"],
]);

function describeClose(event) {
  return event.reason || FINAL_CLOSE_CODES.get(event.code) || CLOSE_REASONS.get(event.code) || `closed (${event.code})`;
}

/** The socket URL of this page's own service. */
function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/graphql`;
}

export class LiveClient {
  /**
   * @param {object} options
   * @param {string} options.token the bearer token sent in connection_init
   * @param {(state: string, detail?: string) => void} options.onStatus told "connecting",
   *   "live", "reconnecting" (with the reason), "refused" (with the reason) or "idle"
   */
  constructor({ token, onStatus = () => {} }) {
    this.token = token;
    this.onStatus = onStatus;
    this.subscriptions = new Map();
    this.nextId = 0;
    this.socket = null;
    this.acknowledged = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.ackTimer = null;
    this.closed = false;
  }

  /**
   * Subscribe; returns a function that ends the subscription.
   * @param {object} options
   * @param {string} options.query the subscription document (one root field, whose value
   *   carries `position`)
   * @param {object} [options.variables]
   * @param {number|null} [options.position] the log position the caller's data already reflects:
   *   the server sends what comes after it
   * @param {(value: object) => void} options.onNext the root field's value of each message
   * @param {(error: ApiError) => void} [options.onError]
   */
  subscribe({ query, variables = {}, position = null, onNext, onError = () => {} }) {
    this.nextId += 1;
    const subscription = { id: String(this.nextId), query, variables, position, onNext, onError };
    this.subscriptions.set(subscription.id, subscription);
    if (this.socket === null && this.retryTimer === null) this.connect();
    else if (this.acknowledged) this.sendSubscribe(subscription);
    return () => this.unsubscribe(subscription.id);
  }

  unsubscribe(id) {
    if (!this.subscriptions.delete(id)) return;
    if (this.acknowledged) this.send({ id, type: "complete" });
  }

  /** End every subscription and the socket (signing out). */
  close() {
    this.closed = true;
    this.subscriptions.clear();
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    this.retryTimer = null;
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
  }

  connect() {
    this.retryTimer = null;
    if (this.closed || this.subscriptions.size === 0) return;
    this.onStatus("connecting");
    let socket;
    try {
      socket = new WebSocket(socketUrl(), PROTOCOL);
    } catch (error) {
      this.retry(`the socket could not be opened (${error.message})`);
      return;
    }
    this.socket = socket;
    this.acknowledged = false;
    socket.addEventListener("open", () => {
      socket.send(
        JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${this.token}` } }),
      );
      this.ackTimer = setTimeout(() => socket.close(4408, "no connection_ack"), ACK_TIMEOUT_MS);
    });
    socket.addEventListener("message", (event) => this.receive(socket, event.data));
    socket.addEventListener("close", (event) => this.closedWith(socket, event));
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  sendSubscribe(subscription) {
    const variables = { ...subscription.variables };
    const resumable = /\$afterPosition\b/.test(subscription.query);
    if (resumable && subscription.position !== null && subscription.position !== undefined) {
      variables.afterPosition = subscription.position;
    }
    this.send({ id: subscription.id, type: "subscribe", payload: { query: subscription.query, variables } });
  }

  receive(socket, text) {
    if (socket !== this.socket) return;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      socket.close(4400, "unreadable message from the server");
      return;
    }
    const subscription = message.id === undefined ? null : this.subscriptions.get(message.id);
    switch (message.type) {
      case "connection_ack":
        clearTimeout(this.ackTimer);
        this.acknowledged = true;
        this.attempt = 0;
        this.onStatus("live");
        for (const each of this.subscriptions.values()) this.sendSubscribe(each);
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (subscription) this.deliver(subscription, message.payload ?? {});
        break;
      case "error":
        if (subscription) {
          this.subscriptions.delete(subscription.id);
          const first = Array.isArray(message.payload) ? message.payload[0] : message.payload;
          subscription.onError(
            new ApiError(first?.message ?? "The service refused the subscription.", {
              code: first?.extensions?.code ?? null,
            }),
          );
        }
        break;
      case "complete":
        if (subscription) this.subscriptions.delete(subscription.id);
        break;
      default:
        break; // pong, or a message this client does not know: nothing to do
    }
  }

  deliver(subscription, payload) {
    const first = payload.errors?.[0];
    if (first) {
      subscription.onError(new ApiError(first.message, { code: first.extensions?.code ?? null }));
    }
    if (!payload.data) return;
    const value = Object.values(payload.data)[0];
    if (value === null || value === undefined) return;
    if (typeof value.position === "number") {
      subscription.position = Math.max(subscription.position ?? 0, value.position);
    }
    subscription.onNext(value);
  }

  closedWith(socket, event) {
    if (socket !== this.socket) return;
    clearTimeout(this.ackTimer);
    this.socket = null;
    this.acknowledged = false;
    if (this.closed || this.subscriptions.size === 0) {
      this.onStatus("idle");
      return;
    }
    const reason = describeClose(event);
    if (FINAL_CLOSE_CODES.has(event.code)) {
      this.onStatus("refused", reason);
      const error = new ApiError(`Live updates stopped: ${reason}.`, { code: String(event.code) });
      for (const subscription of this.subscriptions.values()) subscription.onError(error);
      this.subscriptions.clear();
      return;
    }
    this.retry(reason);
  }

  retry(reason) {
    const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.onStatus("reconnecting", reason, delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

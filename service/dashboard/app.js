// The dashboard's shell: sign-in with a bearer token, the views a role gets, the live-updates
// status, and sign-out. Each view is a module under views/ with
// `render(root, context)`; what it may show is what the API returns for the token.

import { ApiError, discoverFeatures, graphql, session, tokenClaims, whenUnauthenticated } from "./api.js";
import { forgetAll } from "./directory.js";
import { h, replace } from "./dom.js";
import { dateTime } from "./format.js";
import { LiveClient } from "./live.js";
import { button, errorBox, field, form } from "./widgets.js";
import * as asOf from "./views/as_of.js";
import * as audit from "./views/audit.js";
import * as departments from "./views/departments.js";
import * as fairness from "./views/fairness.js";
import * as me from "./views/me.js";
import * as team from "./views/team.js";
import * as trials from "./views/trials.js";

const VIEWS = {
  team: { label: "My team", module: team },
  me: { label: "My scorecard", module: me },
  departments: { label: "Departments", module: departments },
  fairness: { label: "Fairness", module: fairness },
  trials: { label: "Trials", module: trials },
  audit: { label: "Audit trail", module: audit },
  asof: { label: "As of", module: asOf },
};

// The views each role starts with, first one first. The API decides what each view may show;
// a view a role cannot use would only show the API's refusal, so it is not offered.
const ROLE_VIEWS = {
  EMPLOYEE: ["me"],
  MANAGER: ["team", "me"],
  HR: ["departments", "fairness", "trials", "audit", "asof"],
  AUDITOR: ["audit", "asof", "fairness", "trials", "departments"],
  ADMIN: ["departments", "fairness", "trials", "audit", "asof", "team"],
};

const VIEWER_QUERY = `{
  viewer {
    employeeId
    role
    employee { id code name jobTitle department { id name } }
  }
}`;

const state = {
  viewer: null,
  features: null,
  live: null,
  dispose: null,
  liveStatus: { state: "off", detail: "" },
};

const main = () => document.getElementById("main");

function viewsFor(role) {
  return ROLE_VIEWS[role] ?? ["me"];
}

function currentViewName() {
  const wanted = window.location.hash.replace(/^#\/?/, "");
  const allowed = viewsFor(state.viewer.role);
  return allowed.includes(wanted) ? wanted : allowed[0];
}

// -- sign-in ----------------------------------------------------------------------------------

function showSignIn(message = null) {
  replace(document.getElementById("views"));
  replace(document.getElementById("session"));
  const tokenInput = h("textarea", {
    name: "token",
    rows: 4,
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "eyJhbGciOi…",
  });
  const problem = h("div", { className: "sign-in-problem" });
  if (message) replace(problem, h("p", { className: "notice", role: "status" }, message));
  const submit = h("button", { type: "submit", className: "primary" }, "Sign in");
  const signInForm = form(
    { className: "sign-in", method: "post", "aria-describedby": "sign-in-help" },
    async () => {
      const token = tokenInput.value.trim().replace(/^Bearer\s+/i, "");
      if (!token) {
        replace(problem, errorBox(new ApiError("paste a bearer token first"), "sign in"));
        tokenInput.focus();
        return;
      }
      submit.disabled = true;
      replace(problem, h("p", { role: "status" }, "Signing in…"));
      try {
        const data = await graphql(VIEWER_QUERY, {}, { token });
        session.save(token);
        tokenInput.value = "";
        await enter(data.viewer);
      } catch (error) {
        replace(problem, errorBox(error, "sign in"));
        submit.disabled = false;
        tokenInput.focus();
      }
    },
    h("h1", {}, "Sign in"),
    h(
      "p",
      { id: "sign-in-help" },
      "Paste a bearer token. ",
      h("code", {}, "perfledger serve"),
      " prints demo tokens for each role; ",
      h("code", {}, "perfledger token --role manager --employee E000003"),
      " mints one. The token stays in this browser tab only and is sent to the API in the Authorization header.",
    ),
    field("Bearer token", tokenInput),
    submit,
    problem,
  );
  replace(main(), h("div", { className: "sign-in-page" }, signInForm));
  tokenInput.focus();
}

async function resume() {
  try {
    const data = await graphql(VIEWER_QUERY);
    await enter(data.viewer);
  } catch (error) {
    session.clear();
    showSignIn(error.unauthenticated ? `Your session ended: ${error.message}. Sign in again.` : `Could not resume your session: ${error.message}`);
  }
}

async function enter(viewer) {
  state.viewer = viewer;
  state.features = await discoverFeatures();
  if (state.features.live) {
    state.live = new LiveClient({ token: session.token, onStatus: (status, detail) => setLiveStatus(status, detail) });
    setLiveStatus("idle");
  } else {
    setLiveStatus("unavailable");
  }
  renderSession();
  renderNav();
  await mount();
}

function signOut(message = null) {
  if (state.dispose) state.dispose();
  state.dispose = null;
  state.live?.close();
  state.live = null;
  state.viewer = null;
  session.clear();
  forgetAll();
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  showSignIn(message);
}

whenUnauthenticated((error) => {
  if (state.viewer) signOut(`Your session ended: ${error.message}. Sign in again.`);
});

// -- header -----------------------------------------------------------------------------------

function renderSession() {
  const viewer = state.viewer;
  const claims = tokenClaims(session.token);
  const who = viewer.employee ? `${viewer.employee.name} (${viewer.employee.code})` : viewer.employeeId;
  const expires = claims?.exp ? `Token valid until ${dateTime(new Date(claims.exp * 1000).toISOString())}` : "";
  replace(
    document.getElementById("session"),
    h("span", { id: "live-status", className: "live-status", role: "status" }),
    h(
      "span",
      { className: "who", title: expires },
      h("span", { className: "who-name", "data-testid": "viewer-name" }, who),
      h("span", { className: "role-badge", "data-testid": "viewer-role" }, viewer.role.toLowerCase()),
    ),
    button("Sign out", () => signOut("You signed out."), { className: "secondary", id: "sign-out" }),
  );
  renderLiveStatus();
}

function setLiveStatus(status, detail = "") {
  state.liveStatus = { state: status, detail };
  renderLiveStatus();
}

const LIVE_TEXT = {
  idle: "Live updates ready",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting",
  refused: "Live updates refused",
  unavailable: "No live updates on this server",
  off: "",
};

function renderLiveStatus() {
  const element = document.getElementById("live-status");
  if (!element) return;
  const { state: status, detail } = state.liveStatus;
  element.dataset.state = status;
  element.title = detail || "";
  replace(element, h("span", { className: "dot", "aria-hidden": "true" }), LIVE_TEXT[status] ?? status, detail ? `: ${detail}` : "");
}

function renderNav() {
  const current = currentViewName();
  replace(
    document.getElementById("views"),
    h(
      "ul",
      {},
      viewsFor(state.viewer.role).map((name) =>
        h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === current ? "page" : false, "data-view": name }, VIEWS[name].label)),
      ),
    ),
  );
}

// -- views ------------------------------------------------------------------------------------

async function mount() {
  if (state.dispose) state.dispose();
  const name = currentViewName();
  renderNav();
  const root = h("div", { className: `view view-${name}`, "data-view": name });
  replace(main(), root);
  const cleanups = [];
  const context = {
    viewer: state.viewer,
    features: state.features,
    /** Whether the server offers the subscription `field` (and live updates run at all). */
    canSubscribe(field) {
      return Boolean(state.live) && state.features.subscription(field);
    },
    /**
     * Subscribe when the server offers `field`: returns the function that ends the
     * subscription (also ended when the view goes), or null when the server does not offer it.
     */
    subscribe(field, options) {
      if (!context.canSubscribe(field)) return null;
      const end = state.live.subscribe(options);
      cleanups.push(end);
      return end;
    },
    /**
     * A place for one subscription at a time: `follow(field, options)` ends the one before it
     * (the form was submitted again) and says whether the server offers `field`; `end()`
     * stops following. Whatever it follows ends with the view.
     */
    slot() {
      let end = null;
      cleanups.push(() => end?.());
      return {
        follow(field, options) {
          end?.();
          end = context.subscribe(field, options);
          return end !== null;
        },
        end() {
          end?.();
          end = null;
        },
      };
    },
    onDispose(cleanup) {
      cleanups.push(cleanup);
    },
  };
  state.dispose = () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  document.title = `${VIEWS[name].label} · Perfledger`;
  try {
    await VIEWS[name].module.render(root, context);
  } catch (error) {
    replace(root, errorBox(error, `show ${VIEWS[name].label}`));
  }
  main().focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => {
  if (state.viewer) mount();
});

if (session.token) resume();
else showSignIn();

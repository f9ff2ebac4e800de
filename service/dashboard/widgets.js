// The dashboard's building blocks: panels, tables, form fields, badges, error and status lines.

import { h, replace, uid } from "./dom.js";
import { tierClass } from "./charts.js";

/**
 * A card with a heading; `body` is where the content goes. `actions` are put beside the heading.
 * `status(text)` shows a quiet line (loading, updated), `fail(error, what)` the API's error.
 */
export function panel({ title, className = "", actions = [], description = null }) {
  const headingId = uid("panel");
  const body = h("div", { className: "panel-body" });
  const statusLine = h("p", { className: "panel-status", role: "status" });
  const element = h(
    "section",
    { className: `panel ${className}`.trim(), "aria-labelledby": headingId },
    h("header", { className: "panel-head" }, h("h2", { id: headingId }, title), h("div", { className: "panel-actions" }, actions)),
    description ? h("p", { className: "panel-description" }, description) : null,
    statusLine,
    body,
  );
  return {
    element,
    body,
    status(text) {
      replace(statusLine, text ?? "");
    },
    fail(error, what) {
      replace(body, errorBox(error, what));
    },
    show(...children) {
      replace(body, ...children);
    },
  };
}

/** The API's message, said plainly: "Could not load the team: <message> (CODE)". */
export function errorBox(error, what = "load this") {
  const code = error?.code && error.code !== "NETWORK" ? ` (${error.code})` : "";
  return h(
    "div",
    { className: "error", role: "alert" },
    h("strong", {}, `Could not ${what}: `),
    `${error?.message ?? String(error)}${code}`,
  );
}

export function note(text, className = "note") {
  return h("p", { className }, text);
}

/** A data table: columns [{label, numeric}], rows [[cell, ...]] (cells: text or nodes). */
export function table({ caption = null, columns, rows, empty = "Nothing to show.", rowAttributes = () => ({}), className = "" }) {
  if (rows.length === 0) return note(empty, "empty");
  return h(
    "div",
    { className: "table-wrap" },
    h(
      "table",
      { className },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", className: column.numeric ? "num" : "" }, column.label)))),
      h(
        "tbody",
        {},
        rows.map((row, index) =>
          h(
            "tr",
            rowAttributes(index),
            row.map((cell, column) => h("td", { className: columns[column]?.numeric ? "num" : "" }, cell)),
          ),
        ),
      ),
    ),
  );
}

export function tierBadge(tier) {
  if (!tier) return h("span", { className: "tier tier-none", title: "no tier yet" }, "—");
  return h("span", { className: `tier ${tierClass(tier)}`, title: `tier ${tier}` }, tier);
}

/** A labelled form control. */
export function field(label, control, hint = null) {
  const id = control.id || uid("field");
  control.id = id;
  return h(
    "div",
    { className: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { className: "hint" }, hint) : null,
  );
}

export function input(attributes) {
  return h("input", attributes);
}

/** A <select> of [{value, label}], with `value` selected. */
export function select(options, value = null, attributes = {}) {
  const element = h(
    "select",
    attributes,
    options.map((option) => h("option", { value: option.value, selected: option.value === value }, option.label)),
  );
  if (value !== null) element.value = value;
  return element;
}

export function button(label, onclick, attributes = {}) {
  return h("button", { type: "button", onclick, ...attributes }, label);
}

/** A form whose submit runs `onsubmit(event)` without reloading the page. */
export function form(attributes, onsubmit, ...children) {
  return h(
    "form",
    {
      ...attributes,
      onsubmit: (event) => {
        event.preventDefault();
        onsubmit(event);
      },
    },
    children,
  );
}

/**
 * A view's controls: its fields, the submit button (and any `extra` buttons), then `problem`,
 * where what is wrong with the input shows. Submitting runs `onsubmit`.
 */
export function controls({ fields, submit = "Show", onsubmit, extra = [], problem, label = "What to show" }) {
  return form(
    { className: "controls", "aria-label": label },
    onsubmit,
    fields,
    h("button", { type: "submit", className: "primary" }, submit),
    extra,
    problem,
  );
}

/** A checkbox with its label after it. */
export function checkboxField(label, control) {
  return h("div", { className: "field checkbox" }, h("label", {}, control, ` ${label}`));
}

/** A figure that stands out: a number with its label. */
export function stat(label, value, detail = null) {
  return h(
    "div",
    { className: "stat" },
    h("div", { className: "stat-value" }, value),
    h("div", { className: "stat-label" }, label),
    detail ? h("div", { className: "stat-detail" }, detail) : null,
  );
}

const politeRegion = () => document.getElementById("announcer");

/** Tell screen-reader users what just changed (live updates), without moving their focus. */
export function announce(text) {
  const region = politeRegion();
  if (region) replace(region, text);
}

/** Mark a row or card as just updated (a short highlight, also in text for screen readers). */
export function flash(element) {
  element.classList.remove("updated");
  // Force a reflow so that the animation starts again on repeated updates.
  void element.offsetWidth;
  element.classList.add("updated");
}

/**
 * Loads where only the latest counts: a form submitted twice, or submitted while the first
 * load is still under way, must not show the older answer last.
 * `const run = loads.start()` before the requests, `if (!loads.isLatest(run)) return` after.
 */
export function latestOnly() {
  let latest = 0;
  return {
    start: () => {
      latest += 1;
      return latest;
    },
    isLatest: (run) => run === latest,
  };
}

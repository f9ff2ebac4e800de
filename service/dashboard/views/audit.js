// The audit trail: every event as an entry, filtered by employee, event type and time, paged;
// the entries arriving now (live); and the hash chain's verification status.

import { graphql } from "../api.js";
import * as directory from "../directory.js";
import { h, replace } from "../dom.js";
import { dateTime, fromLocalInput } from "../format.js";
import { announce, button, controls, errorBox, field, input, latestOnly, note, panel, select, stat, table } from "../widgets.js";

const ENTRY_FIELDS = `
  position recordedAt aggregateId aggregateType aggregateVersion eventType
  actorId actorRole actorHidden reason employeeIds summary
`;

const TRAIL_QUERY = `
  query Trail($filter: AuditTrailFilter, $first: Int!, $after: String) {
    readModels { position }
    auditTrail(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${ENTRY_FIELDS} } }
    }
  }`;

const CHAIN_QUERY = `{
  auditChainStatus {
    fromPosition toPosition chainedPosition checked intact firstBrokenPosition differingFields difference
    lastCheckpoint { position entries hash recordedAt }
  }
}`;

const TAIL_SUBSCRIPTION = `
  subscription Tail($afterPosition: Int, $employeeId: ID, $eventType: String) {
    auditTail(afterPosition: $afterPosition, employeeId: $employeeId, eventType: $eventType) { ${ENTRY_FIELDS} }
  }`;

// Event types to suggest; any other type (with or without its aggregate type) works too.
const EVENT_TYPES = [
  "Goal.Set", "Goal.ProgressRecorded", "Goal.TargetRevised", "Goal.Closed", "Goal.Abandoned",
  "GoalSet.Confirmed", "Department.Opened", "Department.Renamed", "Department.Moved",
  "Employee.Hired", "Employee.Transferred", "Employee.ManagerChanged", "Employee.AttributesSet", "Employee.Left",
  "RuleBook.VersionDefined", "RuleBook.VersionAdopted",
  "ReviewCycle.Drafted", "ReviewCycle.Opened", "ReviewCycle.CalibrationStarted", "ReviewCycle.Closed",
  "Appraisal.RaterAssigned", "Appraisal.ReviewSubmitted", "Appraisal.RatingCalibrated", "Appraisal.ResultCalibrated",
  "Feedback.Given", "Feedback.Acknowledged", "Reward.Granted", "Reward.Revoked",
  "Trial.Started", "Trial.Revised", "Trial.FeedbackGiven", "Trial.Promoted", "Trial.RolledBack",
  "FairnessAudit.Recorded",
];

const TAIL_KEPT = 50;

function actorCell(entry, names) {
  if (entry.actorHidden) return h("span", { className: "muted" }, "anonymous rater");
  if (!entry.actorId) return h("span", { className: "muted" }, "unknown");
  const name = names.get(entry.actorId) ?? entry.actorId;
  return h("span", {}, name, entry.actorRole ? h("span", { className: "person-detail" }, ` ${entry.actorRole.toLowerCase()}`) : null);
}

function entryRow(entry, names, asOfLink) {
  return [
    String(entry.position),
    h("time", { datetime: entry.recordedAt }, dateTime(entry.recordedAt)),
    h("span", { className: "event-type", title: `${entry.aggregateType} ${entry.aggregateId} v${entry.aggregateVersion}` }, `${entry.aggregateType}.${entry.eventType}`),
    actorCell(entry, names),
    h("span", {}, entry.summary, entry.reason ? h("span", { className: "reason" }, ` — reason: ${entry.reason}`) : null),
    asOfLink(entry),
  ];
}

const COLUMNS = [{ label: "Position", numeric: true }, { label: "Recorded" }, { label: "Event" }, { label: "Actor" }, { label: "What changed" }, { label: "" }];

export async function render(root, context) {
  // The directory is read when someone starts typing a name, not before: an organisation of
  // thousands takes a while, and most filters name no one.
  const employeeList = h("datalist", { id: "employee-choices" });
  let people = null;
  async function directoryPeople() {
    if (people === null) {
      people = await directory.people();
      replace(employeeList, people.map((person) => h("option", { value: `${person.name} (${person.code})` })));
    }
    return people;
  }
  const typeList = h("datalist", { id: "event-type-choices" }, EVENT_TYPES.map((type) => h("option", { value: type })));
  const employee = input({
    type: "text",
    name: "employee",
    list: "employee-choices",
    placeholder: "name, code or id",
    autocomplete: "off",
    onfocus: () => directoryPeople().catch(() => {}),
  });
  const eventType = input({ type: "text", name: "eventType", list: "event-type-choices", placeholder: "e.g. Goal.ProgressRecorded", autocomplete: "off" });
  const from = input({ type: "datetime-local", name: "from", step: 1 });
  const to = input({ type: "datetime-local", name: "to", step: 1 });
  const pageSize = select([25, 50, 100, 200].map((size) => ({ value: String(size), label: String(size) })), "25", { name: "pageSize" });
  const problem = h("div");
  const chain = panel({ title: "Hash chain", actions: [button("Verify again", () => loadChain(), { className: "secondary" })] });
  const tail = panel({ title: "Arriving now", description: "Entries recorded since you opened the trail that match the employee and event type, newest first." });
  const trail = panel({ title: "Audit trail", className: "wide" });
  root.append(
    h("h1", {}, "Audit trail"),
    employeeList,
    typeList,
    controls({
      label: "Filter the audit trail",
      onsubmit: () => loadTrail([]),
      fields: [field("Employee", employee), field("Event type", eventType), field("From", from), field("To", to), field("Per page", pageSize)],
      submit: "Apply",
      extra: [
        button("Clear", () => {
          for (const control of [employee, eventType, from, to]) control.value = "";
          loadTrail([]);
        }, { className: "secondary" }),
      ],
      problem,
    }),
    h("div", { className: "grid" }, chain.element, tail.element),
    trail.element,
  );

  const asOfLink = (entry) =>
    h("a", { href: "#/asof", className: "as-of-link", onclick: () => sessionStorage.setItem("perfledger.asOfPosition", String(entry.position)) }, "as of here");

  /** The filter the form describes; throws an Error naming what is wrong with it. */
  async function filter() {
    const result = {};
    const who = employee.value.trim();
    if (who) {
      const person = (await directoryPeople()).find((each) => `${each.name} (${each.code})` === who || each.code === who || each.id === who);
      if (person) result.employeeId = person.id;
      else if (/^[0-9a-f-]{36}$/i.test(who)) result.employeeId = who;
      else throw new Error(`no one in the directory is called “${who}”; pick a name from the list, or give a code or id`);
    }
    if (eventType.value.trim()) result.eventType = eventType.value.trim();
    for (const [key, control] of [["from", from], ["to", to]]) {
      if (!control.value) continue;
      const moment = fromLocalInput(control.value);
      if (!moment) throw new Error(`“${control.value}” is not a date and time`);
      result[key] = moment;
    }
    return result;
  }

  let cursors = []; // the `after` cursor of each page before the current one
  const tailSlot = context.slot();
  const arrived = h("ol", { className: "feed tail", "aria-label": "Entries arriving now" });

  const loads = latestOnly();

  async function loadTrail(previous, after = null) {
    const run = loads.start();
    replace(problem);
    let chosen;
    try {
      chosen = await filter();
    } catch (error) {
      replace(problem, errorBox(error, "filter the trail"));
      return;
    }
    trail.status("Loading…");
    try {
      const data = await graphql(TRAIL_QUERY, { filter: chosen, first: Number(pageSize.value), after });
      const connection = data.auditTrail;
      const names = await directory.namesFor(connection.edges.map((edge) => edge.node.actorId));
      if (!loads.isLatest(run)) return;
      cursors = previous;
      const page = cursors.length + 1;
      const pages = Math.max(1, Math.ceil(connection.totalCount / Number(pageSize.value)));
      trail.status("");
      trail.show(
        h("p", { className: "muted", "data-testid": "trail-count" }, `${connection.totalCount.toLocaleString("en")} entries match; page ${page} of ${pages}.`),
        table({
          caption: "Entries in log order",
          columns: COLUMNS,
          rows: connection.edges.map((edge) => entryRow(edge.node, names, asOfLink)),
          empty: "No entry matches.",
          className: "trail",
        }),
        h(
          "div",
          { className: "pager" },
          button("← Previous page", () => loadTrail(cursors.slice(0, -1), cursors[cursors.length - 1] ?? null), { disabled: cursors.length === 0 }),
          button("Next page →", () => loadTrail([...cursors, after], connection.pageInfo.endCursor), { disabled: !connection.pageInfo.hasNextPage }),
        ),
      );
      if (after === null) startTail(chosen, data.readModels.position);
    } catch (error) {
      if (!loads.isLatest(run)) return;
      trail.status("");
      trail.fail(error, "load the audit trail");
    }
  }

  function startTail(chosen, position) {
    replace(arrived);
    const live = tailSlot.follow("auditTail", {
      query: TAIL_SUBSCRIPTION,
      variables: { employeeId: chosen.employeeId ?? null, eventType: chosen.eventType ?? null },
      position,
      onNext: (entry) => {
        arrived.prepend(
          h(
            "li",
            { "data-position": String(entry.position) },
            h("span", { className: "position" }, `#${entry.position}`),
            " ",
            h("span", { className: "event-type" }, `${entry.aggregateType}.${entry.eventType}`),
            " ",
            entry.summary,
          ),
        );
        while (arrived.children.length > TAIL_KEPT) arrived.lastElementChild.remove();
        announce(`New audit entry ${entry.position}: ${entry.aggregateType}.${entry.eventType}`);
      },
      onError: (error) => tail.fail(error, "follow the trail live"),
    });
    tail.show(live ? null : note("This server sends no live updates; apply the filter again to see new entries."), arrived);
  }

  async function loadChain() {
    chain.status("Checking the chain…");
    try {
      const status = (await graphql(CHAIN_QUERY)).auditChainStatus;
      chain.status("");
      chain.show(
        h(
          "p",
          { className: `chain-verdict ${status.intact ? "ok" : "error"}`, "data-testid": "chain-verdict", role: status.intact ? "status" : "alert" },
          status.intact
            ? `✓ Intact: positions ${status.fromPosition} to ${status.toPosition} match the hash chain.`
            : `✗ Broken at position ${status.firstBrokenPosition}: ${status.differingFields.join(", ") || "the entry differs"}${status.difference ? ` (${status.difference})` : ""}.`,
        ),
        h(
          "div",
          { className: "stats" },
          stat("entries checked", status.checked.toLocaleString("en")),
          stat("chained up to", String(status.chainedPosition)),
          stat("last checkpoint", status.lastCheckpoint ? String(status.lastCheckpoint.position) : "none"),
        ),
        status.lastCheckpoint
          ? h(
              "p",
              { className: "muted small" },
              `Checkpoint of ${status.lastCheckpoint.entries.toLocaleString("en")} entries recorded ${dateTime(status.lastCheckpoint.recordedAt)}, hash `,
              h("code", { title: status.lastCheckpoint.hash }, `${status.lastCheckpoint.hash.slice(0, 16)}…`),
            )
          : null,
      );
    } catch (error) {
      chain.status("");
      chain.fail(error, "verify the hash chain");
    }
  }

  await Promise.all([loadChain(), loadTrail([])]);
}

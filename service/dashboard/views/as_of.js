// The as-of view: pick a moment (or a log position, e.g. from an audit entry), see which log
// position it names, and a department's scorecards as they were then beside how they are now.

import { graphql } from "../api.js";
import * as directory from "../directory.js";
import { h, replace } from "../dom.js";
import { currentQuarter, dateTime, decimal, fromLocalInput, localInputValue, signed } from "../format.js";
import { checkboxField, controls, errorBox, field, input, latestOnly, note, panel, table, tierBadge } from "../widgets.js";
import { DISTRIBUTION_FIELDS, departmentSelect, distributionCharts, distributionStats, periodField, periodProblem, personCell } from "./common.js";

const POINT_QUERY = `
  query Point($asOf: DateTime, $asOfPosition: Int) {
    asOfPoint(asOf: $asOf, asOfPosition: $asOfPosition) { position recordedAt }
  }`;

const SCORES_QUERY = `
  query ThenAndNow($departmentId: ID!, $period: String!, $sub: Boolean!, $position: Int!) {
    then: departmentScorecard(departmentId: $departmentId, period: $period, includeSubDepartments: $sub, asOfPosition: $position) {
      department { name }
      members { ownerId score tier position ruleSetVersion employee { id code name } }
      distribution { ${DISTRIBUTION_FIELDS} }
    }
    now: departmentScorecard(departmentId: $departmentId, period: $period, includeSubDepartments: $sub) {
      members { ownerId score tier position }
      distribution { ${DISTRIBUTION_FIELDS} }
    }
  }`;

/** The as-of point a link from the audit trail asked for (read once). */
function requestedPosition() {
  const value = sessionStorage.getItem("perfledger.asOfPosition");
  sessionStorage.removeItem("perfledger.asOfPosition");
  return value;
}

export async function render(root, context) {
  const departments = await directory.departments();
  const home = context.viewer.employee?.department?.id;
  const linked = requestedPosition();
  const moment = input({ type: "datetime-local", name: "asOf", step: 1, value: linked ? "" : localInputValue() });
  const position = input({ type: "number", name: "asOfPosition", min: 1, step: 1, value: linked ?? "", placeholder: "e.g. 1200", inputmode: "numeric" });
  const department = departmentSelect(departments, departments.some((d) => d.id === home) ? home : null);
  const period = periodField(currentQuarter());
  const sub = input({ type: "checkbox", name: "includeSubDepartments", checked: true });
  const problem = h("div");
  const point = h("p", { className: "as-of-point", role: "status", "data-testid": "as-of-point" });
  const result = panel({ title: "Scorecards then and now", className: "wide" });
  root.append(
    h("h1", {}, "As of"),
    controls({
      onsubmit: () => load(),
      fields: [
        field("Moment (your time zone)", moment),
        field("or log position", position),
        field("Department", department),
        period.element,
        checkboxField("with sub-departments", sub),
      ],
      problem,
    }),
    point,
    result.element,
  );

  /** The as-of arguments the form describes, or an Error naming what is wrong. */
  function asOfArguments() {
    const hasMoment = Boolean(moment.value);
    const hasPosition = position.value !== "";
    if (hasMoment && hasPosition) throw new Error("give a moment or a log position, not both");
    if (hasPosition) {
      const value = Number(position.value);
      if (!Number.isInteger(value) || value < 1) throw new Error(`“${position.value}” is not a log position (a whole number from 1)`);
      return { asOf: null, asOfPosition: value };
    }
    if (!hasMoment) throw new Error("pick a moment or give a log position");
    const iso = fromLocalInput(moment.value);
    if (!iso) throw new Error(`“${moment.value}” is not a moment`);
    return { asOf: iso, asOfPosition: null };
  }

  const loads = latestOnly();

  async function load() {
    const run = loads.start();
    replace(problem);
    let args;
    try {
      args = asOfArguments();
      const wrong = periodProblem(period.control.value);
      if (wrong) throw wrong;
    } catch (error) {
      replace(problem, errorBox(error, "show the as-of view"));
      return;
    }
    result.status("Replaying the log…");
    try {
      const logPoint = (await graphql(POINT_QUERY, args)).asOfPoint;
      if (!loads.isLatest(run)) return;
      replace(point, `The log as it stood at position ${logPoint.position}, recorded ${dateTime(logPoint.recordedAt)}.`);
      point.dataset.position = String(logPoint.position);
      const data = await graphql(SCORES_QUERY, { departmentId: department.value, period: period.control.value, sub: sub.checked, position: logPoint.position });
      if (!loads.isLatest(run)) return;
      const now = new Map(data.now.members.map((member) => [member.ownerId, member]));
      const members = [...data.then.members].sort((a, b) => (a.employee?.name ?? "").localeCompare(b.employee?.name ?? ""));
      const what = `${data.then.department.name}, ${period.control.value}`;
      result.status("");
      result.show(
        h(
          "div",
          { className: "then-now" },
          h("section", {}, h("h3", {}, `Then (position ${logPoint.position})`), distributionStats(data.then.distribution), data.then.distribution.count ? distributionCharts(data.then.distribution, `${what} then`) : note("No scores then.", "empty")),
          h("section", {}, h("h3", {}, "Now"), distributionStats(data.now.distribution), data.now.distribution.count ? distributionCharts(data.now.distribution, `${what} now`) : note("No scores now.", "empty")),
        ),
        table({
          caption: `Scorecards of ${what} as of position ${logPoint.position}, beside today's`,
          columns: [{ label: "Person" }, { label: "Score then", numeric: true }, { label: "Tier then" }, { label: "Score now", numeric: true }, { label: "Tier now" }, { label: "Change", numeric: true }],
          rows: members.map((member) => {
            const today = now.get(member.ownerId);
            const change = today && member.score !== null && today.score !== null ? Number(today.score) - Number(member.score) : null;
            return [
              personCell(member.employee),
              decimal(member.score, 2),
              tierBadge(member.tier),
              decimal(today?.score, 2),
              tierBadge(today?.tier ?? null),
              signed(change, 2),
            ];
          }),
          rowAttributes: (index) => {
            const today = now.get(members[index].ownerId);
            const changed = today && today.score !== members[index].score;
            return { "data-employee": members[index].ownerId, className: changed ? "changed" : null };
          },
          empty: `No scorecards for ${what} at that point.`,
          className: "as-of",
        }),
      );
    } catch (error) {
      if (!loads.isLatest(run)) return;
      result.status("");
      result.fail(error, "show the scorecards as they were");
    }
  }

  await load();
}

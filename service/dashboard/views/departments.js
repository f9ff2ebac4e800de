// A department's distributions: KPI scores and tiers for a period (live), and the tiers of a
// review cycle's results against the rule set's distribution guideline.

import { graphql } from "../api.js";
import { horizontalBars, tierClass } from "../charts.js";
import * as directory from "../directory.js";
import { h, replace } from "../dom.js";
import { currentQuarter, decimal } from "../format.js";
import { checkboxField, controls, errorBox, field, flash, input, latestOnly, note, panel, table } from "../widgets.js";
import {
  DISTRIBUTION_FIELDS,
  SCORECARD_COLUMNS,
  SCORECARD_FIELDS,
  cycleSelect,
  defaultCycle,
  departmentSelect,
  distributionCharts,
  distributionStats,
  periodField,
  periodProblem,
  personCell,
  scorecardCells,
} from "./common.js";

const QUERY = `
  query Department($departmentId: ID!, $period: String!, $sub: Boolean!) {
    readModels { position }
    departmentScorecard(departmentId: $departmentId, period: $period, includeSubDepartments: $sub) {
      department { id name code }
      period
      members { ${SCORECARD_FIELDS} employee { id code name jobTitle } }
      distribution { ${DISTRIBUTION_FIELDS} }
      departmentGoals { score tier coverage }
    }
  }`;

const CYCLE_QUERY = `
  query DepartmentCycle($cycleId: ID!, $departmentId: ID!, $sub: Boolean!) {
    departmentCycleScorecard(cycleId: $cycleId, departmentId: $departmentId, includeSubDepartments: $sub, first: 1) {
      cycle { name period status }
      ruleSetVersion count mean median standardDeviation
      tiers { tier count percent guidelineMaxPercent overGuideline }
    }
  }`;

const SUBSCRIPTION = `
  subscription DepartmentScores($departmentId: ID, $period: String, $afterPosition: Int) {
    scorecardUpdated(departmentId: $departmentId, period: $period, afterPosition: $afterPosition) {
      position
      scorecard { ownerId score tier position }
    }
  }`;

const MEMBERS_SHOWN = 25;

export async function render(root, context) {
  const [departments, cycles] = await Promise.all([directory.departments(), directory.cycles()]);
  const home = context.viewer.employee?.department?.id;
  const department = departmentSelect(departments, departments.some((d) => d.id === home) ? home : null);
  const period = periodField(currentQuarter());
  const sub = input({ type: "checkbox", name: "includeSubDepartments", checked: true });
  const cycle = cycleSelect(cycles, defaultCycle(cycles));
  const problem = h("div");
  const scores = panel({ title: "KPI scores", className: "wide" });
  const reviews = panel({ title: "Review cycle results", className: "wide", description: "Tiers of the cycle's results against the rule set's advisory distribution." });
  root.append(
    h("h1", {}, "Departments"),
    controls({
      onsubmit: () => load(),
      fields: [field("Department", department), period.element, checkboxField("with sub-departments", sub), field("Review cycle", cycle)],
      problem,
    }),
    scores.element,
    reviews.element,
  );

  const live = context.slot();
  let reloadTimer = null;
  context.onDispose(() => clearTimeout(reloadTimer));

  const scoreLoads = latestOnly();
  const reviewLoads = latestOnly();

  async function loadScores(live) {
    const run = scoreLoads.start();
    const variables = { departmentId: department.value, period: period.control.value, sub: sub.checked };
    try {
      const data = await graphql(QUERY, variables);
      if (!scoreLoads.isLatest(run)) return null;
      const result = data.departmentScorecard;
      const what = `${result.department.name}${sub.checked ? " and below" : ""}, ${result.period}`;
      const members = [...result.members].sort((a, b) => Number(b.score ?? -1) - Number(a.score ?? -1));
      scores.status(live ? `Updated live at log position ${data.readModels.position}` : "");
      scores.show(
        distributionStats(result.distribution),
        result.distribution.count ? distributionCharts(result.distribution, what) : note(`No scores yet for ${what}.`, "empty"),
        table({
          caption: `Members by score (top ${Math.min(MEMBERS_SHOWN, members.length)} of ${members.length})`,
          columns: [{ label: "Person" }, ...SCORECARD_COLUMNS],
          rows: members.slice(0, MEMBERS_SHOWN).map((member) => [personCell(member.employee, member.employee?.jobTitle), ...scorecardCells(member)]),
          empty: "No scorecards you may see.",
        }),
      );
      if (live) flash(scores.element);
      return data.readModels.position;
    } catch (error) {
      if (!scoreLoads.isLatest(run)) return null;
      scores.status("");
      scores.fail(error, "load the department's scores");
      return null;
    }
  }

  async function loadReviews() {
    const run = reviewLoads.start();
    if (!cycle.value) {
      reviews.show(note("No review cycles yet.", "empty"));
      return;
    }
    try {
      const result = (await graphql(CYCLE_QUERY, { cycleId: cycle.value, departmentId: department.value, sub: sub.checked })).departmentCycleScorecard;
      if (!reviewLoads.isLatest(run)) return;
      reviews.show(
        h("p", {}, `${result.cycle.name} (${result.cycle.status.toLowerCase()}): ${result.count} results, mean ${decimal(result.mean, 1)}, median ${decimal(result.median, 1)}, rule set v${result.ruleSetVersion ?? "—"}.`),
        horizontalBars({
          title: `Share of people in each tier, ${result.cycle.name}`,
          description: "Each tier's share of the people with a tier; the guideline is the rule set's advisory ceiling.",
          rows: result.tiers.map((tier) => ({
            label: tier.overGuideline ? `${tier.tier} ▲ over guideline` : tier.tier,
            value: tier.percent,
            className: `${tierClass(tier.tier)} ${tier.overGuideline ? "over" : ""}`,
            display: `${tier.count} (${decimal(tier.percent, 0)} %)`,
            title: `${tier.tier}: ${tier.count} people, ${decimal(tier.percent, 1)} %${tier.guidelineMaxPercent ? `; guideline at most ${decimal(tier.guidelineMaxPercent, 0)} %` : ""}`,
          })),
          domain: [0, 100],
          format: (value) => `${Math.round(value)} %`,
          columns: ["tier", "people (share)"],
          note: result.tiers
            .filter((tier) => tier.guidelineMaxPercent !== null)
            .map((tier) => `Guideline: at most ${decimal(tier.guidelineMaxPercent, 0)} % in tier ${tier.tier}${tier.overGuideline ? " — exceeded" : ""}.`)
            .join(" "),
        }),
      );
    } catch (error) {
      if (!reviewLoads.isLatest(run)) return;
      reviews.fail(error, "load the cycle's results");
    }
  }

  async function load() {
    replace(problem);
    const wrong = periodProblem(period.control.value);
    if (wrong) {
      replace(problem, errorBox(wrong, "show the department"));
      return;
    }
    scores.status("Loading…");
    const [position] = await Promise.all([loadScores(false), loadReviews()]);
    live.end();
    if (position === null) return;
    // The distribution is computed by the API over everyone the viewer may see; a live update
    // of one scorecard asks for it again (a burst of updates costs one request).
    live.follow("scorecardUpdated", {
      query: SUBSCRIPTION,
      variables: { departmentId: department.value, period: period.control.value },
      position,
      onNext: () => {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => loadScores(true), 250);
      },
      onError: (error) => replace(problem, errorBox(error, "keep the department live")),
    });
  }

  await load();
}

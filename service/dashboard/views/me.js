// Your own scorecard for a period, goal by goal, live as your goals' progress is recorded.

import { graphql } from "../api.js";
import { horizontalBars } from "../charts.js";
import { h, replace } from "../dom.js";
import { currentQuarter, decimal } from "../format.js";
import { announce, controls, errorBox, flash, latestOnly, note, panel, stat, table, tierBadge } from "../widgets.js";
import { SCORECARD_FIELDS, periodField, periodProblem } from "./common.js";

const FIELDS = `
  ${SCORECARD_FIELDS}
  goals { goalId title perspective weight latestValue rawAchievement achievement capped effectiveWeight contribution }
`;

const QUERY = `
  query Mine($employeeId: ID!, $period: String!) {
    readModels { position }
    scorecard(employeeId: $employeeId, period: $period) { ${FIELDS} }
  }`;

const SUBSCRIPTION = `
  subscription Mine($employeeId: ID, $period: String, $afterPosition: Int) {
    scorecardUpdated(employeeId: $employeeId, period: $period, afterPosition: $afterPosition) {
      position
      scorecard { ${FIELDS} }
    }
  }`;

function show(card, scorecard, periodValue) {
  if (!scorecard) {
    card.show(note(`No scorecard for ${periodValue}: no goals were set for you in it.`, "empty"));
    return;
  }
  card.show(
    h(
      "div",
      { className: "stats", "data-testid": "my-score" },
      stat("score", decimal(scorecard.score, 2)),
      stat("tier", tierBadge(scorecard.tier)),
      stat("weight measured", `${decimal(scorecard.coverage, 0)} %`),
      stat("rule set", `v${scorecard.ruleSetVersion}`, `log position ${scorecard.position}`),
    ),
    horizontalBars({
      title: "Points each goal adds to the score",
      description: "Each goal's contribution to the score: its achievement times its effective weight.",
      rows: scorecard.goals.map((goal) => ({
        label: goal.title,
        value: goal.contribution,
        display: decimal(goal.contribution, 2),
      })),
      columns: ["goal", "points"],
    }),
    table({
      caption: "Goal by goal",
      columns: [
        { label: "Goal" },
        { label: "Weight", numeric: true },
        { label: "Latest value", numeric: true },
        { label: "Achievement", numeric: true },
        { label: "Points", numeric: true },
      ],
      rows: scorecard.goals.map((goal) => [
        goal.title,
        `${decimal(goal.effectiveWeight, 1)} %`,
        goal.latestValue ?? "—",
        goal.achievement === null ? "not measured" : `${decimal(goal.achievement, 1)} %${goal.capped ? " (capped)" : ""}`,
        decimal(goal.contribution, 2),
      ]),
    }),
  );
}

export async function render(root, context) {
  const employeeId = context.viewer.employeeId;
  const period = periodField(currentQuarter());
  const problem = h("div");
  const card = panel({ title: "Scorecard", className: "wide" });
  root.append(
    h("h1", {}, "My scorecard"),
    controls({ onsubmit: () => load(), fields: [period.element], problem }),
    card.element,
  );
  const live = context.slot();

  const loads = latestOnly();

  async function load() {
    const run = loads.start();
    replace(problem);
    const periodValue = period.control.value;
    const wrong = periodProblem(periodValue);
    if (wrong) {
      replace(problem, errorBox(wrong, "show the scorecard"));
      return;
    }
    card.status("Loading…");
    try {
      const data = await graphql(QUERY, { employeeId, period: periodValue });
      if (!loads.isLatest(run)) return;
      card.status("");
      show(card, data.scorecard, periodValue);
      live.follow("scorecardUpdated", {
        query: SUBSCRIPTION,
        variables: { employeeId, period: periodValue },
        position: data.readModels.position,
        onNext: (update) => {
          show(card, update.scorecard, periodValue);
          flash(card.element);
          announce(`Your score is now ${decimal(update.scorecard.score, 2)}`);
        },
        onError: (error) => replace(problem, errorBox(error, "keep the scorecard live")),
      });
    } catch (error) {
      if (!loads.isLatest(run)) return;
      card.status("");
      card.fail(error, "load your scorecard");
    }
  }

  await load();
}

"""Seeded review cycles, feedback and rewards, built on the seeded organisation.

For each quarter of the seeded year that has begun by ``through``, one company-wide review cycle
(quarterly reviews, as the source documents ask) with a five-competency framework, a 1-5 scale,
k = 3 and at least three peers: a quarter that ended by ``through`` has a closed cycle, the
quarter under way an open one with about half of its reviews in (and some drafts). Every
reviewee has self and manager reviews and three to five peers from their team; the staff of
Sales and Customer service (not their team leads) also have zero to four customers, so some
show the customer source and some have it withheld (one or two submitted, below k). The CEO is
reviewed by the board, outside the ledger, so has no appraisal. Then monthly 1:1 notes from
managers to most of their reports, praise and improvement notes, rewards the rules propose for
the top tier of each closed cycle (approved), a "star of the month" per function and month, and
one revoked reward.

**What the ratings are made of** (issue 5's fairness audits need data with something to find):

- a latent performance per person and quarter: their KPI skill (the bias the KPI readings are
  drawn around) and their actual KPI score of the quarter, plus noise, plus a fixed strength
  profile per competency;
- rater effects: every employee is somewhat lenient or severe; self ratings are inflated
  (about +0.6 points); peers and customers are a little generous and noisier;
- **planted, clearly severe and lenient managers**: of the team leads in hiring order (employee
  code), every 8th from the 2nd (index 1, 9, 17, ...) rates their reports about 1.1 points
  lower than the reports' performance warrants, every 8th from the 5th (index 4, 12, ...)
  about 0.9 points higher;
- **planted group disparities**: in one department, Sales, managers rate women about 1.3
  points lower and peers about 1.1 lower than their performance warrants (an audit by division
  and gender finds the cell); across the company, managers rate part-time reports about 0.4
  points lower, and peers about 0.15 lower, than full-time ones of the same performance (found
  in organisations large enough to have enough part-timers). KPI results show no such gaps
  (the KPIs are drawn independently of every attribute);
- "not observed": customers often do not observe collaboration and ownership; peers sometimes
  do not observe a competency.

In closed cycles, hr calibrates some of the severe managers' ratings one point up and a few
results near the top-tier threshold, each with its reason. Rewards are granted for tier A as
the rule set in force (version 1, the defaults) proposes, with the proposal's basis and the
same reason and id the approval command would record; a tier is computed with
``domain.evaluation.evaluate`` from the seeded facts, exactly as the read models will.
Eligibility (streak) rules are not approved. The KPI scores run high (the seed's
goals are capped at 120% achievement), so about a quarter of each closed cycle lands in tier A,
above the defaults' 20% distribution guideline: another thing for the audits to report.

Determinism: one ``random.Random`` of its own, seeded from the seed, consumed in a fixed order;
cycle ids are uuid5 of the seed and the period. Speed: aggregates are built with their domain
methods in memory and handed to the seed's batch writer; a cycle's state changes are written
after every appraisal's reviews, in the order the commands would record them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.evaluation import Evaluation, SubmittedReview, competency_weights, evaluate
from domain.feedback import Feedback, FeedbackKind, FeedbackVisibility
from domain.goals import Goal
from domain.periods import Period, PeriodKind
from domain.proposals import propose_rewards
from domain.provenance import Provenance
from domain.reviews import (
    Appraisal,
    Competency,
    CycleDeadlines,
    CycleDefinition,
    RaterSource,
    Rating,
    RatingScale,
    ReviewCycle,
)
from domain.rewards import Money, Reward, RewardBasis, RewardKind, RewardSpec, proposed_reward_id
from domain.rules import RuleSet

_NAMESPACE = UUID("0c7f3f0e-8d51-4a53-9d7e-2b6f1c0a9e44")
RULE_SET_VERSION = 1  # the seed's rule book defines the defaults as version 1
ANONYMITY_THRESHOLD = 3
MIN_PEERS = 3
CUSTOMER_FACING = frozenset({"SALES", "CS"})
SEVERE_LEAD, LENIENT_LEAD, LEAD_STRIDE = 1, 4, 8
SEVERE_SHIFT, LENIENT_SHIFT = -1.1, 0.9
PART_TIME_MANAGER_SHIFT, PART_TIME_PEER_SHIFT = -0.4, -0.15
# The group disparity planted in one department: women in Sales rated lower by their managers
# and peers than their performance warrants (their KPIs show no such gap).
PLANTED_FUNCTION, PLANTED_GENDER = "SALES", "female"
PLANTED_MANAGER_SHIFT, PLANTED_PEER_SHIFT = -1.3, -1.1

# Approximate stored size of each event, to fill the seed's ~2 MB transactions.
STARTED_BYTES, ASSIGNED_BYTES, INVITED_BYTES = 450, 380, 420
SUBMITTED_BYTES, DRAFT_BYTES, STATE_BYTES, CALIBRATED_BYTES = 950, 700, 260, 420
FEEDBACK_BYTES, ACKNOWLEDGED_BYTES, REWARD_BYTES = 650, 260, 800

SCALE = RatingScale(
    1,
    5,
    [
        "Far below expectations",
        "Below expectations",
        "Meets expectations",
        "Exceeds expectations",
        "Far exceeds expectations",
    ],
)
COMPETENCIES = [
    Competency(
        "customer_focus",
        "Customer focus",
        Decimal(25),
        [
            "Loses sight of the customer; requests go unanswered or are handled carelessly",
            "Serves customers when asked, but rarely anticipates what they need",
            "Understands and meets customers' needs reliably and follows up",
            "Anticipates customers' needs and improves their experience unprompted",
            "Shapes how the team serves customers; customers ask for them by name",
        ],
    ),
    Competency(
        "collaboration",
        "Collaboration",
        Decimal(20),
        [
            "Works in isolation and withholds information others need",
            "Cooperates when asked but seldom offers help",
            "Shares information and helps colleagues as a matter of course",
            "Builds bridges between teams and resolves friction constructively",
            "Creates the conditions for others to succeed across the organisation",
        ],
    ),
    Competency(
        "ownership",
        "Ownership",
        Decimal(20),
        [
            "Misses commitments and leaves problems for others",
            "Meets commitments with frequent reminders",
            "Delivers what was promised and flags risks early",
            "Takes on problems beyond their remit and sees them through",
            "Sets the standard for accountability; others follow their lead",
        ],
    ),
    Competency(
        "communication",
        "Communication",
        Decimal(15),
        [
            "Messages are unclear or missing; misunderstandings follow",
            "Communicates adequately but is often imprecise or late",
            "Communicates clearly and on time, in writing and in person",
            "Adapts the message to the audience and listens well",
            "Communicates complex matters simply and persuades across levels",
        ],
    ),
    Competency(
        "expertise",
        "Expertise",
        Decimal(20),
        [
            "Lacks knowledge the role needs; work needs redoing",
            "Knows the basics; needs guidance on anything unusual",
            "Has the knowledge the role needs and applies it well",
            "Deep expertise; colleagues come to them for advice",
            "Recognised expert who develops the field and the people in it",
        ],
    ),
]
KEYS = [c.key for c in COMPETENCIES]

# How often a rater of each source marks a competency "not observed", by competency.
NOT_OBSERVED = {
    RaterSource.SELF: dict.fromkeys(KEYS, 0.0),
    RaterSource.MANAGER: dict.fromkeys(KEYS, 0.01),
    RaterSource.PEER: {**dict.fromkeys(KEYS, 0.05), "customer_focus": 0.12},
    RaterSource.CUSTOMER: {
        "customer_focus": 0.02,
        "collaboration": 0.4,
        "ownership": 0.25,
        "communication": 0.05,
        "expertise": 0.1,
    },
}
COMMENT_SHARE = {
    RaterSource.SELF: 0.7,
    RaterSource.MANAGER: 0.9,
    RaterSource.PEER: 0.5,
    RaterSource.CUSTOMER: 0.6,
}
STRONG = {
    "customer_focus": "Customers trust them; follow-ups are thorough and quick.",
    "collaboration": "Always ready to help; pulls the team together when it counts.",
    "ownership": "Takes problems on and sees them through without being chased.",
    "communication": "Clear, timely updates; everybody knows where things stand.",
    "expertise": "The person to ask when a case is tricky; knows the details.",
}
WEAK = {
    "customer_focus": "Could follow up with customers sooner; some requests waited too long.",
    "collaboration": "Would gain from sharing more with the team instead of working alone.",
    "ownership": "Commitments slipped a few times this quarter without early warning.",
    "communication": "Updates are sometimes late or unclear; a short weekly note would help.",
    "expertise": "Still building the product knowledge the harder cases need.",
}
CUSTOMERS = (
    "Nordwind Logistik GmbH", "Iberia Foods S.L.", "Vistula Retail sp. z o.o.",
    "Tagus Energia S.A.", "Thames Office Supplies Ltd", "Brandenburg Kliniken AG",
    "Castilla Motor S.A.", "Baltic Freight sp. z o.o.", "Lisboa Hotels Lda",
    "Mercia Engineering Ltd", "Spree Software GmbH", "Andalucia Agro S.L.",
)  # fmt: skip
CONTACTS = ("purchasing", "operations", "finance", "service desk", "management")
ONE_ON_ONE_NOTES = (
    "Went through the month's numbers; agreed two actions to close the gap on the main KPI.",
    "Talked about workload and priorities; dropped one low-value task.",
    "Reviewed progress on the development plan; booked the next training.",
    "Discussed a difficult customer case and what to do differently next time.",
    "Checked in on goals for the quarter; on track, no blockers.",
    "Agreed to pair with a senior colleague on the next two complex cases.",
)
PRAISE_NOTES = (
    "Thank you for stepping in during the peak; the customer noticed.",
    "Great preparation for the quarterly review meeting; clear and to the point.",
    "Your fix saved the team hours every week. Much appreciated!",
    "Handled an escalation calmly and turned the customer around.",
    "Excellent onboarding of our new colleague; they were productive in days.",
)
IMPROVEMENT_NOTES = (
    "Please send status updates before deadlines slip, not after.",
    "Double-check figures before they go to customers; two reports needed corrections.",
    "Try to hand over open cases before leave so nothing waits.",
    "Keep the CRM up to date the same day; the forecast depends on it.",
)
STAR_REASONS = {
    "SALES": "Signed the month's largest new account and shared the playbook with the team",
    "CS": "Highest customer star rating in the function this month",
    "OPS": "Cut the picking error rate on their shift by half",
    "HR": "Filled three hard-to-fill roles ahead of plan",
    "FIN": "Closed the books a day early with zero corrections",
}
ANNUAL_SALARY = {"GROUP": 72_000, "SALES": 56_000, "CS": 42_000, "OPS": 48_000, "HR": 52_000}
DEFAULT_SALARY = 58_000


@dataclass(frozen=True)
class ReviewPlan:
    """What the seed records beside the organisation.

    ``cycles``: how many of the latest quarters begun by ``through`` get a cycle (None: all);
    ``uniform``: the benchmark's shape, every reviewee with exactly four peers and one customer
    and all seven reviews submitted; ``planted``: the clearly severe and lenient managers and the
    part-time rating gap (off: a clean organisation, for the fairness audit's false-positive
    check; the random draws are the same either way)."""

    cycles: int | None = None
    uniform: bool = False
    feedback: bool = True
    rewards: bool = True
    planted: bool = True


DEMO = ReviewPlan()
NOTHING = ReviewPlan(cycles=0, feedback=False, rewards=False)
CLEAN = ReviewPlan(planted=False)
ONE_FULL_CYCLE = ReviewPlan(cycles=1, uniform=True, feedback=False, rewards=False)


@dataclass
class Person:
    """What the review seed needs to know of a seeded employee."""

    id: UUID
    code: str
    name: str
    manager_id: UUID | None
    department_id: UUID
    function: str  # the function's code; GROUP for the CEO
    team_lead: bool
    contract: str
    skill: float  # the centre the person's KPI readings are drawn around (about 0.35-1.35)
    gender: str = ""
    kpi: list[Decimal | None] = field(default_factory=list)  # KPI score per quarter 1-4
    goals: list[Goal | None] = field(default_factory=list)  # a goal per quarter, for feedback


@dataclass
class ReviewCounts:
    cycles: int = 0
    appraisals: int = 0
    reviews: int = 0  # submitted
    calibrations: int = 0
    feedback: int = 0
    rewards: int = 0


class Batches(Protocol):
    """The seed's batch writer."""

    def add(self, aggregate: Aggregate, size: int) -> None:
        """Queue the aggregate's pending events (about ``size`` bytes) for a transaction."""

    def settle(self) -> None:
        """Write everything queued and wait for it: queued aggregates may then change again."""


@dataclass
class _Rater:
    key: str
    source: RaterSource
    person: Person | None  # None for customers
    bias: float


def cycle_id_for(seed: int, period: str) -> UUID:
    return uuid5(_NAMESPACE, f"seed-{seed}/cycle/{period}")


def cycle_quarters(year: int, through: date, plan: ReviewPlan) -> list[Period]:
    begun = [
        Period(year, PeriodKind.QUARTER, q)
        for q in range(1, 5)
        if Period(year, PeriodKind.QUARTER, q).start <= through
    ]
    if plan.cycles is None:
        return begun
    return begun[len(begun) - plan.cycles :] if plan.cycles else []


def estimate(people: int, year: int, through: date, plan: ReviewPlan) -> int:
    """Roughly how many events ``seed_reviews`` writes, for the progress bar."""
    per_cycle = 16 if plan.uniform else 14
    events = len(cycle_quarters(year, through, plan)) * (people * per_cycle + 4)
    if plan.feedback:
        months = sum(1 for m in range(1, 13) if Period(year, PeriodKind.MONTH, m).end <= through)
        events += people * (months * 12 // 10 + 2)
    return events


class ReviewSeeder:
    def __init__(
        self,
        batches: Batches,
        people: Sequence[Person],
        *,
        seed: int,
        year: int,
        through: date,
        root_department: UUID,
        provenance: Provenance,
        rules: RuleSet,
        plan: ReviewPlan,
    ) -> None:
        self.batches = batches
        self.people = list(people)
        self.seed = seed
        self.year = year
        self.through = through
        self.root = root_department
        self.provenance = provenance
        self.rules = rules
        self.plan = plan
        self.rng = random.Random(f"perfledger-reviews-{seed}")  # noqa: S311 - demo data
        self.counts = ReviewCounts()
        self.by_id = {p.id: p for p in self.people}
        self.reports: dict[UUID, list[Person]] = {}
        self.in_department: dict[UUID, list[Person]] = {}
        for person in self.people:
            if person.manager_id is not None:
                self.reports.setdefault(person.manager_id, []).append(person)
            self.in_department.setdefault(person.department_id, []).append(person)
        rng = self.rng
        # Fixed traits, drawn once in hiring order.
        self.leniency = {p.id: rng.gauss(0.0, 0.2) for p in self.people}
        self.self_inflation = {p.id: rng.gauss(0.6, 0.25) for p in self.people}
        self.strengths = {p.id: [rng.gauss(0.0, 0.3) for _ in KEYS] for p in self.people}
        self.salary = {
            p.id: Decimal(
                round(ANNUAL_SALARY.get(p.function, DEFAULT_SALARY) * rng.uniform(0.8, 1.3), -2)
            )
            for p in self.people
        }
        # The rules' weights in floats, for estimated_score.
        self.source_weights = {s: float(w) for s, w in rules.source_weights.items()}
        self.competency_weights = [
            (k, float(w)) for k, w in competency_weights(COMPETENCIES, rules).items()
        ]
        self.kpi_weight, self.review_weight = float(rules.kpi_weight), float(rules.review_weight)
        self.top_threshold = float(rules.tiers[0].min_score) if rules.tiers else 0.0
        self.estimates: dict[UUID, float] = {}  # by appraisal, until its ratings change
        leads = [p for p in self.people if p.team_lead]
        self.manager_shift: dict[UUID, float] = {}
        for index, lead in enumerate(leads if plan.planted else []):
            if index % LEAD_STRIDE == SEVERE_LEAD:
                self.manager_shift[lead.id] = SEVERE_SHIFT
            elif index % LEAD_STRIDE == LENIENT_LEAD:
                self.manager_shift[lead.id] = LENIENT_SHIFT

    @property
    def reviewees(self) -> list[Person]:
        return [p for p in self.people if p.manager_id is not None]

    def run(self) -> ReviewCounts:
        if self.reviewees:
            for quarter in cycle_quarters(self.year, self.through, self.plan):
                self.cycle(quarter)
        if self.plan.feedback:
            self.feedback()
        if self.plan.rewards:
            self.stars_of_the_month()
        return self.counts

    # -- a cycle ---------------------------------------------------------------------------------

    def definition(self, quarter: Period) -> CycleDefinition:
        return CycleDefinition(
            name=f"Q{quarter.index} {quarter.year} quarterly review",
            period=str(quarter),
            scope_departments=[self.root],
            scope_employees=[],
            competencies=COMPETENCIES,
            scale=SCALE,
            deadlines=CycleDeadlines(quarter.end, quarter.end + timedelta(days=14)),
            min_peer_raters=MIN_PEERS,
            anonymity_threshold=ANONYMITY_THRESHOLD,
        )

    def cycle(self, quarter: Period) -> None:
        closed = quarter.end <= self.through
        provenance = self.provenance
        definition = self.definition(quarter)
        cycle = ReviewCycle.draft(cycle_id_for(self.seed, str(quarter)), definition, provenance)
        if closed:
            opened_on = quarter.end - timedelta(days=27)
        else:
            opened_on = min(quarter.start + timedelta(days=14), self.through)
        reviewees = self.reviewees
        cycle.open([p.id for p in reviewees], opened_on, provenance)
        self.batches.add(cycle, 4000 + 45 * len(reviewees))
        self.counts.cycles += 1
        window = (
            (quarter.end - timedelta(days=20), quarter.end) if closed else (opened_on, self.through)
        )
        appraisals: list[tuple[Person, Appraisal, list[_Rater]]] = []
        for person in reviewees:
            appraisal, raters = self.appraisal(cycle, person, quarter, window, closed)
            appraisals.append((person, appraisal, raters))
        self.counts.appraisals += len(appraisals)
        if not closed:
            return
        self.batches.settle()
        cycle.start_calibration(provenance)
        self.batches.add(cycle, STATE_BYTES)
        for _, appraisal, _ in appraisals:
            appraisal.enter_calibration(provenance)
            self.batches.add(appraisal, STATE_BYTES)
        self.batches.settle()
        self.calibrate(definition, quarter, appraisals)
        self.batches.settle()
        cycle.close(provenance)
        self.batches.add(cycle, STATE_BYTES)
        for _, appraisal, _ in appraisals:
            appraisal.close(provenance)
            self.batches.add(appraisal, STATE_BYTES)
        if self.plan.rewards:
            # Reads the appraisals only, so they may be in the writer's hands meanwhile.
            self.approve_top_tier(cycle, definition, quarter, appraisals)

    def appraisal(
        self,
        cycle: ReviewCycle,
        person: Person,
        quarter: Period,
        window: tuple[date, date],
        closed: bool,
    ) -> tuple[Appraisal, list[_Rater]]:
        rng, provenance, uniform = self.rng, self.provenance, self.plan.uniform
        definition = cycle.definition
        appraisal = Appraisal.start(
            cycle_id=cycle.id,
            reviewee_id=person.id,
            manager_id=person.manager_id,
            department_id=person.department_id,
            provenance=provenance,
        )
        size = STARTED_BYTES
        raters = [
            _Rater(key, state.source, self.by_id.get(state.employee_id or person.id), 0.0)
            for key, state in appraisal.raters.items()
        ]
        for peer in self.peers(person, 4 if uniform else rng.choice((3, 4, 4, 5))):
            key = appraisal.assign_peer(peer.id, provenance)
            raters.append(_Rater(key, RaterSource.PEER, peer, 0.0))
            size += ASSIGNED_BYTES
        if uniform:
            customers = 1
        elif person.function in CUSTOMER_FACING and not person.team_lead:
            customers = rng.choices((0, 1, 2, 3, 4), (20, 15, 20, 30, 15))[0]
        else:
            customers = 0
        for company in rng.sample(CUSTOMERS, customers):
            reference = f"{company} ({rng.choice(CONTACTS)})"
            key = appraisal.assign_customer(reference, provenance)
            token = f"rvw.{appraisal.id.hex}.{rng.getrandbits(192):048x}"
            invited = datetime.combine(window[0], time(9), UTC)
            appraisal.invite_external(
                key,
                hashlib.sha256(token.encode()).hexdigest(),
                invited + timedelta(days=30),
                invited,
                provenance,
            )
            raters.append(_Rater(key, RaterSource.CUSTOMER, None, 0.0))
            size += ASSIGNED_BYTES + INVITED_BYTES
        level = self.level(person, quarter)
        for rater in raters:
            rater.bias = self.rater_bias(rater, person)
            if uniform:
                submits = True
            elif closed:
                submits = rng.random() < SUBMIT_SHARE_CLOSED[rater.source]
            else:
                submits = rng.random() < 0.45
            if not submits:
                if not closed and rng.random() < 0.2:
                    ratings = self.ratings(person, rater, level)[: rng.randint(1, 3)]
                    when = self.moment(window)
                    appraisal.save_draft(definition, rater.key, ratings, "", when, provenance)
                    size += DRAFT_BYTES
                continue
            ratings = self.ratings(person, rater, level)
            comments = self.comments(rater, ratings)
            when = self.moment(window)
            appraisal.submit(definition, rater.key, ratings, comments, when, provenance)
            self.counts.reviews += 1
            size += SUBMITTED_BYTES
        self.batches.add(appraisal, size)
        return appraisal, raters

    def peers(self, person: Person, wanted: int) -> list[Person]:
        """Colleagues with the same manager first, then others of the same department."""
        rng = self.rng
        assert person.manager_id is not None
        # Identity, not UUID equality: the people are the same objects throughout, and this
        # runs for every reviewee over their whole team.
        siblings = [p for p in self.reports.get(person.manager_id, ()) if p is not person]
        chosen = rng.sample(siblings, min(wanted, len(siblings)))
        if len(chosen) < wanted:
            manager = self.by_id.get(person.manager_id)
            taken = {id(p) for p in chosen} | {id(person), id(manager)}
            rest = [
                p for p in self.in_department.get(person.department_id, ()) if id(p) not in taken
            ]
            chosen += rng.sample(rest, min(wanted - len(chosen), len(rest)))
        return chosen

    def level(self, person: Person, quarter: Period) -> float:
        """The rating the person's performance in the quarter warrants, before rater effects."""
        skill_z = (person.skill - 0.92) / 0.17
        kpi = person.kpi[quarter.index - 1] if len(person.kpi) >= quarter.index else None
        kpi_z = skill_z if kpi is None else (float(kpi) - 90.0) / 15.0
        return 3.0 + 0.7 * (0.55 * skill_z + 0.45 * kpi_z + self.rng.gauss(0.0, 0.35))

    def rater_bias(self, rater: _Rater, reviewee: Person) -> float:
        rng = self.rng
        if rater.source is RaterSource.SELF:
            return self.self_inflation[reviewee.id]
        if rater.source is RaterSource.CUSTOMER:
            return rng.gauss(0.15, 0.35)
        assert rater.person is not None
        planted = self.plan.planted
        part_time = reviewee.contract == "part_time" and planted
        singled_out = (
            planted and reviewee.function == PLANTED_FUNCTION and reviewee.gender == PLANTED_GENDER
        )
        if rater.source is RaterSource.MANAGER:
            shift = self.manager_shift.get(rater.person.id, 0.0)
            return (
                self.leniency[rater.person.id]
                + shift
                + (PART_TIME_MANAGER_SHIFT if part_time else 0.0)
                + (PLANTED_MANAGER_SHIFT if singled_out else 0.0)
            )
        return (
            0.1
            + 0.5 * self.leniency[rater.person.id]
            + (PART_TIME_PEER_SHIFT if part_time else 0.0)
            + (PLANTED_PEER_SHIFT if singled_out else 0.0)
        )

    def ratings(self, person: Person, rater: _Rater, level: float) -> list[Rating]:
        rng = self.rng
        noise = 0.6 if rater.source in (RaterSource.PEER, RaterSource.CUSTOMER) else 0.45
        unobserved = NOT_OBSERVED[rater.source]
        out: list[Rating] = []
        for key, strength in zip(KEYS, self.strengths[person.id], strict=True):
            if rng.random() < unobserved[key]:
                out.append(Rating(key, None))
                continue
            value = round(level + strength + rater.bias + rng.gauss(0.0, noise))
            out.append(Rating(key, min(SCALE.maximum, max(SCALE.minimum, value))))
        return out

    def comments(self, rater: _Rater, ratings: Sequence[Rating]) -> str:
        rng = self.rng
        if rng.random() >= COMMENT_SHARE[rater.source]:
            return ""
        observed = [r for r in ratings if r.value is not None]
        if not observed:
            return ""
        best = max(observed, key=lambda r: (r.value or 0, rng.random()))
        worst = min(observed, key=lambda r: (r.value or 0, rng.random()))
        parts = [STRONG[best.competency]]
        if worst.value is not None and worst.value <= 3 and worst is not best:
            parts.append(WEAK[worst.competency])
        return " ".join(parts)

    def moment(self, window: tuple[date, date]) -> datetime:
        first, last = window
        day = first + timedelta(days=self.rng.randint(0, max(0, (last - first).days)))
        return datetime.combine(day, time(self.rng.randint(8, 18), self.rng.randint(0, 59)), UTC)

    # -- calibration and results -----------------------------------------------------------------

    def calibrate(
        self,
        definition: CycleDefinition,
        quarter: Period,
        appraisals: Sequence[tuple[Person, Appraisal, list[_Rater]]],
    ) -> None:
        """Raise some of the severe managers' lowest ratings by a point, and move a few results
        that sit just below the top tier, always with the panel's reason. Each appraisal gets
        one kind at most, so it is queued once."""
        rng = self.rng
        severe = [
            item
            for item in appraisals
            if item[0].manager_id is not None and self.manager_shift.get(item[0].manager_id, 0) < 0
        ]
        by_rating = rng.sample(severe, min(max(1, len(appraisals) // 50), len(severe)))
        picked = {item[1].id for item in by_rating}
        near_top = [
            item
            for item in appraisals
            if item[1].id not in picked
            and 84 <= self.estimated_score(quarter, item) < 92
            and (score := self.evaluation(definition, quarter, item).score) is not None
            and Decimal(86) <= score < Decimal(90)
        ]
        by_result = rng.sample(near_top, min(max(1, len(appraisals) // 200), len(near_top)))
        for person, appraisal, _ in by_rating:
            manager_key = f"{RaterSource.MANAGER.value}:{person.manager_id}"
            submitted = appraisal.raters[manager_key].submitted or []
            observed = [r for r in submitted if r.value is not None and r.value < SCALE.maximum]
            if not observed:
                continue
            lowest = min(observed, key=lambda r: r.value or 0)
            assert lowest.value is not None
            reason = (
                f"Calibration panel {quarter}: this manager's ratings run well below those of "
                f"the rest of the function for comparable results; {lowest.competency} raised "
                "by one point on the evidence of the KPI results and peer reviews"
            )
            appraisal.calibrate_rating(
                definition,
                manager_key,
                lowest.competency,
                lowest.value + 1,
                self.provenance.because(reason),
            )
            self.estimates.pop(appraisal.id, None)
            self.batches.add(appraisal, CALIBRATED_BYTES)
            self.counts.calibrations += 1
        for _, appraisal, _ in by_result:
            reason = (
                f"Calibration panel {quarter}: led the migration to the new ticketing system, "
                "which the quarter's KPIs do not capture; result raised into the top tier"
            )
            appraisal.calibrate_result(Decimal("90.50"), self.provenance.because(reason))
            self.batches.add(appraisal, CALIBRATED_BYTES)
            self.counts.calibrations += 1

    def estimated_score(
        self, quarter: Period, item: tuple[Person, Appraisal, list[_Rater]]
    ) -> float:
        """``evaluate``'s score in floats (-1 without one): several times quicker, to pick out
        whom the exact (Decimal) evaluation is worth running for."""
        person, appraisal, _ = item
        if appraisal.calibrated_score is not None:
            return float(appraisal.calibrated_score)
        known = self.estimates.get(appraisal.id)
        if known is not None:
            return known
        by_source: dict[RaterSource, list[dict[str, int | None]]] = {}
        for state in appraisal.raters.values():
            if state.submitted is not None:
                by_source.setdefault(state.source, []).append(state.effective())
        points = weights = 0.0
        for source, reviews in by_source.items():
            source_weight = self.source_weights.get(source, 0.0)
            if source_weight <= 0 or (source.anonymous and len(reviews) < ANONYMITY_THRESHOLD):
                continue
            score = observed = 0.0
            for key, weight in self.competency_weights:
                values = [v for r in reviews if (v := r.get(key)) is not None]
                if values and weight > 0:
                    mean = sum(values) / len(values)
                    score += weight * (mean - SCALE.minimum) / (SCALE.maximum - SCALE.minimum)
                    observed += weight
            if observed:
                points += source_weight * 100 * score / observed
                weights += source_weight
        parts = [(self.review_weight, points / weights if weights else None)]
        kpi = person.kpi[quarter.index - 1] if len(person.kpi) >= quarter.index else None
        parts.append((self.kpi_weight, None if kpi is None else float(kpi)))
        present = [(w, v) for w, v in parts if v is not None and w > 0]
        total = sum(w for w, _ in present)
        estimate = sum(w * v for w, v in present) / total if total else -1.0
        self.estimates[appraisal.id] = estimate
        return estimate

    def evaluation(
        self,
        definition: CycleDefinition,
        quarter: Period,
        item: tuple[Person, Appraisal, list[_Rater]],
    ) -> Evaluation:
        person, appraisal, _ = item
        reviews = [
            SubmittedReview(state.source, state.effective())
            for state in appraisal.raters.values()
            if state.submitted is not None
        ]
        kpi = person.kpi[quarter.index - 1] if len(person.kpi) >= quarter.index else None
        return evaluate(
            kpi_score=kpi,
            reviews=reviews,
            competencies=definition.competencies,
            scale=definition.scale,
            anonymity_threshold=definition.anonymity_threshold,
            rules=self.rules,
            calibrated_score=appraisal.calibrated_score,
        )

    def approve_top_tier(
        self,
        cycle: ReviewCycle,
        definition: CycleDefinition,
        quarter: Period,
        appraisals: Sequence[tuple[Person, Appraisal, list[_Rater]]],
    ) -> None:
        """Approve what the rules propose to tier A, as hr would with approveProposedReward."""
        top = self.rules.tiers[0].name if self.rules.tiers else None
        granted_on = min(quarter.end + timedelta(days=21), self.through)
        for item in appraisals:
            person = item[0]
            if top is None or self.estimated_score(quarter, item) < self.top_threshold - 2:
                continue
            result = self.evaluation(definition, quarter, item)
            if result.tier != top:
                continue
            for proposal in propose_rewards(result.tier, self.rules, {}):
                if not proposal.rule_key.startswith("tier:"):
                    continue
                basis = RewardBasis(
                    cycle.id, RULE_SET_VERSION, proposal.rule_key, result.tier, result.score
                )
                salary = None
                if proposal.reward.percent_of_salary is not None:
                    salary = Money(self.salary[person.id] / 4, "EUR")  # the quarter's salary
                reward = Reward.grant(
                    id=proposed_reward_id(cycle.id, person.id, proposal.rule_key),
                    employee_id=person.id,
                    spec=proposal.reward,
                    basis=basis,
                    reference_salary=salary,
                    period=str(quarter),
                    granted_on=granted_on,
                    provenance=self.provenance.because(
                        f"approved as proposed by {basis.describe()} in {quarter}"
                    ),
                )
                self.batches.add(reward, REWARD_BYTES)
                self.counts.rewards += 1

    # -- feedback and recognition ----------------------------------------------------------------

    def months(self) -> list[Period]:
        return [
            Period(self.year, PeriodKind.MONTH, m)
            for m in range(1, 13)
            if Period(self.year, PeriodKind.MONTH, m).end <= self.through
        ]

    def day_in(self, period: Period) -> date:
        last = min(period.end, self.through)
        return period.start + timedelta(days=self.rng.randint(0, (last - period.start).days))

    def feedback(self) -> None:
        """Monthly 1:1 notes from managers to the reports they cover (about 85% of pairs, and
        those skip a month now and then), praise and improvement notes each quarter."""
        rng = self.rng
        pairs = [
            (person.manager_id, person)
            for person in self.people
            if person.manager_id is not None and rng.random() < 0.85
        ]
        for month in self.months():
            for manager_id, person in pairs:
                if rng.random() < 0.1:
                    continue
                self.give(
                    manager_id,
                    person,
                    FeedbackKind.ONE_ON_ONE,
                    FeedbackVisibility.PRIVATE,
                    rng.choice(ONE_ON_ONE_NOTES),
                    None,
                    self.day_in(month),
                )
        quarters = [
            Period(self.year, PeriodKind.QUARTER, q)
            for q in range(1, 5)
            if Period(self.year, PeriodKind.QUARTER, q).start <= self.through
        ]
        for quarter in quarters:
            for person in self.people:
                if person.manager_id is None:
                    continue
                goal = (
                    person.goals[quarter.index - 1] if len(person.goals) >= quarter.index else None
                )
                siblings = self.reports.get(person.manager_id, [])
                draw = rng.random()
                if draw < 0.35 and len(siblings) > 1:
                    giver = rng.choice([p for p in siblings if p.id != person.id]).id
                elif draw < 0.6:
                    giver = person.manager_id
                else:
                    giver = None
                if giver is not None:
                    self.give(
                        giver,
                        person,
                        FeedbackKind.PRAISE,
                        FeedbackVisibility.SHARED
                        if rng.random() < 0.5
                        else FeedbackVisibility.PRIVATE,
                        rng.choice(PRAISE_NOTES),
                        goal if rng.random() < 0.3 else None,
                        self.day_in(quarter),
                    )
                if rng.random() < 0.2:
                    self.give(
                        person.manager_id,
                        person,
                        FeedbackKind.IMPROVEMENT,
                        FeedbackVisibility.PRIVATE,
                        rng.choice(IMPROVEMENT_NOTES),
                        goal if rng.random() < 0.5 else None,
                        self.day_in(quarter),
                    )

    def give(
        self,
        giver_id: UUID,
        receiver: Person,
        kind: FeedbackKind,
        visibility: FeedbackVisibility,
        body: str,
        goal: Goal | None,
        occurred_on: date,
    ) -> None:
        rng = self.rng
        note = Feedback.give(
            id=UUID(int=rng.getrandbits(128), version=4),
            giver_id=giver_id,
            receiver_id=receiver.id,
            kind=kind,
            visibility=visibility,
            body=body,
            goal=goal,
            occurred_on=occurred_on,
            today=self.through,
            provenance=self.provenance,
        )
        size = FEEDBACK_BYTES
        if rng.random() < 0.6:
            seen = min(occurred_on + timedelta(days=rng.randint(0, 3)), self.through)
            note.acknowledge(receiver.id, seen, self.provenance)
            size += ACKNOWLEDGED_BYTES
        self.batches.add(note, size)
        self.counts.feedback += 1

    def stars_of_the_month(self) -> None:
        """A "star of the month" per function and month, from its stronger performers; the
        second one ever granted is revoked (granted to the wrong person)."""
        rng = self.rng
        staff: dict[str, list[Person]] = {}
        for person in self.people:
            if person.manager_id is not None and person.function in STAR_REASONS:
                staff.setdefault(person.function, []).append(person)
        granted: list[Reward] = []
        for month in self.months():
            for function, members in staff.items():
                ranked = sorted(members, key=lambda p: (-p.skill, p.code))
                star = rng.choice(ranked[: max(1, len(ranked) // 7)])
                reward = Reward.grant(
                    id=UUID(int=rng.getrandbits(128), version=4),
                    employee_id=star.id,
                    spec=RewardSpec(
                        RewardKind.RECOGNITION,
                        title=f"Star of the month, {month.start.strftime('%B %Y')}",
                    ),
                    basis=None,
                    reference_salary=None,
                    period=str(month),
                    granted_on=month.end,
                    provenance=self.provenance.because(STAR_REASONS[function]),
                )
                granted.append(reward)
        if len(granted) > 1:
            wrong = granted[1]
            wrong.revoke(
                min(wrong.granted_on + timedelta(days=2), self.through),
                self.provenance.because(
                    "Granted to the wrong person: the nomination named a colleague with the "
                    "same surname"
                ),
            )
        for reward in granted:
            self.batches.add(reward, REWARD_BYTES)
        self.counts.rewards += len(granted)


SUBMIT_SHARE_CLOSED = {
    RaterSource.SELF: 0.95,
    RaterSource.MANAGER: 0.98,
    RaterSource.PEER: 0.9,
    RaterSource.CUSTOMER: 0.85,
}


def seed_reviews(
    batches: Batches,
    people: Sequence[Person],
    *,
    seed: int,
    year: int,
    through: date,
    root_department: UUID,
    provenance: Provenance,
    rules: RuleSet,
    plan: ReviewPlan = DEMO,
) -> ReviewCounts:
    """Record review cycles, feedback and rewards for the seeded ``people`` (in hiring order)."""
    return ReviewSeeder(
        batches,
        people,
        seed=seed,
        year=year,
        through=through,
        root_department=root_department,
        provenance=provenance,
        rules=rules,
        plan=plan,
    ).run()

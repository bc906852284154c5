"""The classroom exercises: the setup where each lesson shows, and what to notice.

The app's "What to notice" panel reads these, its "Set up" button applies an
exercise's settings, and ``docs/teaching.md`` tells the same story at length. Every
claim under ``notice`` is checked over the exercise's seeds by
``tests/test_app_exercises.py`` (as a tendency over 20 seeds where it says "most").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    settings: dict  # for sim.app.app_settings.check_settings
    stance: str | None  # play mode: the policy to hold (None: the model's own Pakistan)
    instruments: dict = field(default_factory=dict)
    months: int = 120  # how far to run before pressing "Same settings, 20 seeds"
    variants: tuple = ()  # (label, settings changes) to compare, e.g. mediator strengths
    steps: tuple[str, ...] = ()
    notice: tuple[str, ...] = ()
    discuss: str = ""


EXERCISES = (
    Exercise(
        key="hold_thaw",
        title="1. Hold a thaw for five years",
        settings={"scenario": "baseline", "seed": 0, "start": "today", "play_as_pakistan": True},
        stance="engage",
        months=60,
        steps=("Press Set up this exercise (or: Settings, start from today, tick Play as Pakistan, Apply and "
               "restart).",
               "In Your move choose Engage (talks and trade) and press ▶: your policy holds month after month.",
               "Stop at month 60 (5 years). Read You vs the model; then press Same settings, 20 seeds."),
        notice=("The model's own Pakistan (dashed lines) leaves engagement at least once in almost every seed: "
                "a violence spike pushes it to pressure.",
                "Holding on keeps relations and trade higher than on the model's own path in most seeds.",
                "The violence does not go away: deaths exceed Pakistan's tolerance in a third of the months or "
                "more. Engagement buys relations and trade, not quiet."),
        discuss="Who gains when a thaw fails? What would let a government hold on? Try adding talks with the TTP.",
    ),
    Exercise(
        key="mediation",
        title="2. What does China's mediation change?",
        # The stylized start: from today Pakistan is under pressure almost throughout, whatever the mediators
        # do; from a calm 2026 both stances are open and mediation's pull shows.
        settings={"scenario": "baseline", "seed": 0, "start": "stylized", "play_as_pakistan": False},
        stance=None,
        variants=(("no mediators", {"mediator_strength": 0.0}), ("usual", {"mediator_strength": 1.0}),
                  ("three times as strong", {"mediator_strength": 3.0})),
        steps=("Press Set up this exercise (the stylized start). Set the mediators' strength to 0, press Apply "
               "and restart, then Same settings, 20 seeds before the first Step (each seed runs the decade).",
               "Note the median of Months Pakistan engaged and Thaws reversed after a violence spike (Pattern tab).",
               "Repeat with strength 1 and 3."),
        notice=("The stronger the mediators, the more of the decade Pakistan spends engaged (the median rises "
                "from strength 0 to 1 to 3).",
                "Thaws are still reversed after violence spikes: most thaws that end, end that way, even at "
                "strength 3.",
                "Deaths hardly fall: mediation raises the value of talking, it cannot stop the spoilers."),
        discuss="Why would China care (CPEC)? What can a mediator offer, and what can't it?",
    ),
    Exercise(
        key="pressure",
        title="3. Why does pressure not stop the attacks?",
        # The stylized start: a calm 2026 in which pressure is a choice, not already the state of things.
        settings={"scenario": "baseline", "seed": 0, "start": "stylized", "play_as_pakistan": True},
        stance="pressure",
        months=24,
        variants=(("light pressure: transit restrictions only", {}),
                  ("full pressure: every instrument", {"border_closure": True, "forced_repatriation": True,
                                                      "un_accusation": True, "strikes": True})),
        steps=("Press Set up this exercise (the stylized start, playing Pakistan). Choose Pressure with only "
               "transit restrictions, play 24 months, then Same settings, 20 seeds.",
               "Restart and do it again with every pressure instrument ticked."),
        notice=("Light pressure does not stop the attacks: in most seeds at least two thirds as many as on the "
                "model's own path, while trade falls and the Taliban spend fewer months engaged.",
                "Full pressure makes it worse: more attacks and more deaths than on the model's own path in "
                "almost every seed; over 100,000 Afghans are forced back; relations end lower."),
        discuss="Pakistan tried hard pressure in 2023-24, then turned back to engagement in 2025. What did it "
                "learn, and why did that not hold either?",
    ),
)
EXERCISE_BY_KEY = {e.key: e for e in EXERCISES}

"""PII-free business prose full of capitalized words in the places names stand: the false PERSON findings the
name cues must not make.

Sentences open with a capitalized word and a verb ("Revenue is up..."), address a team or a role ("Finance, can
you...", "Thanks, Treasury!"), list departments, products and cities ("Payments, Lending and Treasury"), put a
possessive or a role after a company ("Northwind's report", "Contoso as guardian"), and start with a heading
followed by a contact label. Every capitalized word is a department, product, place, system or company word
written here (no person names, and no list from a fake-data generator). Seeded, so the set is the same each run.
"""

from __future__ import annotations

import random

DEPARTMENTS = ("Finance", "Treasury", "Compliance", "Payments", "Lending", "Operations", "Procurement", "Marketing",
               "Legal", "Engineering", "Security", "Facilities", "Audit", "Risk", "Sales")  # fmt: skip
PRODUCTS = ("Kubernetes", "Postgres", "Excel", "Salesforce", "Workday", "Jira", "Confluence", "Tableau", "Linux",
            "Windows", "Azure", "Oracle", "Slack", "Outlook", "Python")  # fmt: skip
PLACES = ("London", "Frankfurt", "Singapore", "Toronto", "Dublin", "Zurich", "Madrid", "Chicago", "Boston", "Paris",
          "Mumbai", "Sydney", "Denver", "Seattle", "Lisbon")  # fmt: skip
COMPANIES = ("Contoso", "Northwind", "Fabrikam", "Initech", "Globex", "Acme", "Umbrella", "Tailspin", "Litware",
             "Adventure Works")  # fmt: skip
TEMPLATES = (
    "{D} is reviewing the {P} licence renewal this quarter.",
    "{D} has moved the {P} migration to {M}.",
    "{D} spent a week in {C} preparing the audit file.",
    "{D}, can you confirm the {P} budget by Friday?",
    "{D}, please approve the purchase order for {P}.",
    "Thanks, {D}! The {P} upgrade went smoothly.",
    "Great work on the {C} launch, {D}!",
    "The steering group includes {D}, {E} and {F}.",
    "Offices in {C}, {G} and {H} will close early on {M} 3.",
    "We run {P}, {Q} and {R} in the {C} data centre.",
    "{O}'s quarterly report is attached for {D}.",
    "Please add {O} as beneficiary of the escrow account.",
    "The {C} team met with {D} about the {P} rollout.",
    "Follow up with {D} on the {P} invoice.",
    "Ask {D} whether {O} signed the {C} lease.",
    "{O} said the {P} outage was resolved within an hour.",
    "Dear {D} team, the {C} office moves to the fourth floor.",
    "{D} Update\n\nThe {P} cutover is scheduled.\nWebsite: https://intranet.example/{d}\n",
    "{O} Holdings\n{C} branch\nPhone lines are being upgraded; see the intranet.",
    "Regards,\n{D} Operations",
    "Contact {D} at the {C} office for badge access.",
    "{D} told {E} the {P} report was late.",
    "Sent by {D} on behalf of {O}.",
    "The {C} and {G} branches exceeded their targets.",
    "{P} crashed twice; {Q} restarted it.",
    "Why is {P} so slow in {C}?",
    "Have you tried {P} yet? {D} recommends it.",
    "{O} acquired {O2} in {M}, pending approval in {C}.",
    "Hi {D}, the {P} access request is approved.",
    "{D} wrote: the {C} deadline moves to {M}.",
)
MONTHS = ("March", "June", "September", "December")


def build_prose(n: int, seed: int = 13) -> list[str]:
    """``n`` PII-free texts, templates in turn, slots drawn at random."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d, e, f = rng.sample(DEPARTMENTS, 3)
        p, q, r = rng.sample(PRODUCTS, 3)
        c, g, h = rng.sample(PLACES, 3)
        o, o2 = rng.sample(COMPANIES, 2)
        text = TEMPLATES[i % len(TEMPLATES)].format(
            D=d, E=e, F=f, P=p, Q=q, R=r, C=c, G=g, H=h, O=o, O2=o2, M=rng.choice(MONTHS), d=d.lower()
        )
        out.append(text)
    return out

# ruff: noqa: E501, RUF001
"""Write the names14 probe set: hand-written names placed by hand into hand-written working texts.

Deterministic (no randomness, no generator, no name list from a package). Run from the repository root:
    .venv/bin/python bench/data/names14/write_probes.py
It rewrites ``names.jsonl`` and ``pii_free.jsonl`` beside this file.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (given, family, culture, family_first) written by hand for this set; family_first marks names written
# family name first in their own convention (Chinese, Korean, Vietnamese, Hungarian).
NAMES: list[tuple[str, str, str, bool]] = [
    ("Xiuying", "Wang", "chinese", True),
    ("Jiahao", "Li", "chinese", True),
    ("Meiling", "Chen", "chinese", True),
    ("Zihan", "Huang", "chinese", True),
    ("Lei", "Zhao", "chinese", True),
    ("Yifan", "Xu", "chinese", True),
    ("Priya", "Raghunathan", "indian", False),
    ("Arjun", "Venkataraman", "indian", False),
    ("Sunita", "Deshpande", "indian", False),
    ("Rohan", "Mehta", "indian", False),
    ("Kavya", "Iyer", "indian", False),
    ("Aditya", "Chaturvedi", "indian", False),
    ("Fatima", "Al-Zahrani", "arabic", False),
    ("Omar", "Haddad", "arabic", False),
    ("Youssef", "El Amrani", "arabic", False),
    ("Layla", "Mansour", "arabic", False),
    ("Nour", "Abdelrahman", "arabic", False),
    ("Hassan", "Al-Masri", "arabic", False),
    ("Chidi", "Okafor", "african", False),
    ("Ngozi", "Adeyemi", "african", False),
    ("Kwame", "Mensah", "african", False),
    ("Thandiwe", "Dlamini", "african", False),
    ("Abebe", "Tesfaye", "african", False),
    ("Wanjiru", "Kamau", "african", False),
    ("Amadou", "Diallo", "african", False),
    ("Katarzyna", "Wiśniewska", "slavic", False),
    ("Dmitri", "Volkov", "slavic", False),
    ("Oksana", "Shevchenko", "slavic", False),
    ("Jelena", "Petrović", "slavic", False),
    ("Tomasz", "Zieliński", "slavic", False),
    ("Bogdan", "Kowalczyk", "slavic", False),
    ("María José", "Gutiérrez", "hispanic", False),
    ("Alejandro", "Ruiz Salazar", "hispanic", False),
    ("Lucía", "Fernández", "hispanic", False),
    ("Joaquín", "Herrera", "hispanic", False),
    ("Ximena", "Castillo", "hispanic", False),
    ("Rocío", "Morales", "hispanic", False),
    ("Anne-Marie", "Lefebvre", "hyphenated", False),
    ("Jean-Luc", "Moreau", "hyphenated", False),
    ("Sarah", "Thompson-Reyes", "hyphenated", False),
    ("Hans-Peter", "Müller", "hyphenated", False),
    ("Mary-Kate", "O'Donnell", "hyphenated", False),
    ("Ludwig", "van der Berg", "particle", False),
    ("Sofia", "de la Cruz", "particle", False),
    ("Pieter", "de Vries", "particle", False),
    ("Carlo", "di Stefano", "particle", False),
    ("Leonardo", "da Silva", "particle", False),
    ("Friedrich", "von Hallberg", "particle", False),
    ("Haruto", "Tanaka", "east_asian", False),
    ("Min-jun", "Kim", "east_asian", True),
    ("Van Thanh", "Nguyen", "east_asian", True),
    ("Thi Mai", "Tran", "east_asian", True),
    ("Mehmet", "Yılmaz", "other", False),
    ("Reza", "Farahani", "other", False),
    ("Tamar", "Ben-David", "other", False),
    ("Aino", "Virtanen", "other", False),
    ("Siobhán", "Ní Dhuibhir", "other", False),
    ("Aroha", "Ngata", "other", False),
    ("Megan", "Walsh", "anglo", False),
    ("Trevor", "Bancroft", "anglo", False),
    ("Holly", "Prescott", "anglo", False),
    ("Dwayne", "Fletcher", "anglo", False),
    ("Grace", "Hill", "word_like", False),
    ("Hunter", "Stone", "word_like", False),
    ("Summer", "Banks", "word_like", False),
    ("Dallas", "Reed", "word_like", False),
    ("Will", "Baker", "word_like", False),
    ("Jade", "Walker", "word_like", False),
]


def full(n: tuple[str, str, str, bool]) -> str:
    given, family, _, family_first = n
    return f"{family} {given}" if family_first else f"{given} {family}"


def first(n: tuple[str, str, str, bool]) -> str:
    return n[0]


def last(n: tuple[str, str, str, bool]) -> str:
    return n[1]


# Each template: (class, text with {A} (and {B}, {C}) where a name goes, how the name is written).
# form: full, first, last, lower (full name lower-cased), upper (full name in capitals), surname_first
# ("Family, Given"), title_last ("Dr. Family" is written in the template; the slot holds the family name).
TEMPLATES: list[tuple[str, str, str]] = [
    ("mail_greeting", "Hi {A},\n\nThe Q3 forecast for Northwind is attached; can you check the EMEA tab before Friday?", "full"),
    ("mail_greeting", "Dear {A},\nThank you for your application to the Data Platform role. We will be in touch next week.", "full"),
    ("mail_greeting", "Hello {A} - quick one: is the Jira board for Project Falcon still owned by your team?", "first"),
    ("signature", "Please find the signed SOW attached.\n\nBest regards,\n{A}\nSenior Analyst, Treasury Operations", "full"),
    ("signature", "Let me know if the Tuesday slot works.\n\nThanks,\n{A}", "first"),
    ("signature", "Approved for release to Production.\n-- {A}, Release Manager", "full"),
    ("chat", "[10:42] {A}: pushed the hotfix to staging, can someone review PR 4821?", "full"),
    ("chat", "{A} joined #payments-oncall. {A}: anyone seeing 502s from the Stripe webhook?", "first"),
    ("chat", "ok so {A} said the Grafana dashboard is lying again, I'll check Prometheus", "full"),
    ("ticket", "INC-48213 reported by {A}: VPN drops every 20 minutes on the Lisbon office Wi-Fi.", "full"),
    ("ticket", "Assignee: {A}\nSummary: SAP export fails on month-end close\nPriority: P2", "full"),
    ("ticket", "Reassigning to {A} since she owns the Okta integration now.", "full"),
    ("hr_note", "{A} has requested parental leave from March 3 through June 1; manager approved.", "full"),
    ("hr_note", "Performance review: {A} exceeded targets in all four quarters and mentored two new hires.", "full"),
    ("hr_note", "Exit interview with {A} scheduled for 14:00 in the Harbour meeting room.", "full"),
    ("clinical", "Patient {A}, 58, presented with intermittent chest pain; ECG normal. Follow-up in two weeks.", "full"),
    ("clinical", "Referred by Dr. {A} for an MRI of the left knee after a fall at work.", "last"),
    ("clinical", "Discharge summary for {A}: stable, tolerating oral intake, metformin continued.", "full"),
    ("bank", "Customer {A} disputed a charge of 84.20 EUR at a Carrefour in Lyon; provisional credit issued.", "full"),
    ("bank", "Wire of 12,500 USD to {A} held for review pending source-of-funds documents.", "full"),
    ("bank", "KYC refresh: {A} confirmed the new address by video call; no adverse media found.", "full"),
    ("form", "Full name: {A}\nDepartment: Logistics\nStart date: 2026-01-12", "full"),
    ("form", "Emergency contact: {A} (spouse)\nRelationship verified: yes", "full"),
    ("list", "Attendees: {A}, {B} and {C}\nAgenda: budget, hiring plan, Q4 roadmap", "full"),
    ("list", "On call this week:\n- {A}\n- {B}\n- {C}", "full"),
    ("lower", "spoke to {A} about the rollout, they'll update the wiki tonight", "lower"),
    ("lower", "fyi {A} is out sick today so standup moves to 10", "lower"),
    ("upper", "BENEFICIARY: {A}\nAMOUNT: 2,500.00 USD\nREFERENCE: INVOICE 7731", "upper"),
    ("upper", "URGENT - PLEASE CALL {A} BEFORE THE AUDIT COMMITTEE MEETS", "upper"),
    ("prose", "Yesterday the board heard from {A} about the Jakarta expansion and the new warehouse.", "full"),
    ("prose", "The contract was negotiated by {A}, who flew to Nairobi twice last spring.", "full"),
    ("prose", "After the outage, {A} wrote the postmortem and proposed the retry budget.", "full"),
    ("surname_first", "{A} - Accounts Payable - ext. 4410", "surname_first"),
    ("surname_first", "Roster (last, first): {A}; {B}", "surname_first"),
    ("first_only", "Can {A} cover the on-call shift on Saturday? I'm at a wedding.", "first"),
    ("first_only", "Thanks {A}, that fixed the build.", "first"),
    ("title", "Dr. {A} will review the scan on Thursday morning.", "last"),
    ("title", "Ms. {A} asked for the statement to be sent by post.", "last"),
    ("list", "Interview panel for the SRE role:\n* {A}\n* {B}\n* {C}", "full"),
    ("list", "Owners\n1. {A} (backend)\n2. {B} (mobile)\n3. {C} (QA)", "full"),
    ("chat", "{A} left #release-train. {B} joined #release-train.", "full"),
    ("chat", "@{A} can you take a look at the flaky Cypress test when you're back?", "first"),
    ("ticket", "Handing over to {A} while I'm on leave; escalations go to {B}.", "full"),
    ("ticket", "Escalating to {A} because he approved the firewall change last night.", "full"),
    ("surname_first", "Approvers: {A}; {B}; {C}", "surname_first"),
    ("first_only", "{A} is taking the Monday standup, {B} has the retro.", "first"),
    ("after_number", "The invoice total was 500. {A} approved it on Monday.", "full"),
    ("after_number", "Meeting moved to room 12. {A} will host.", "full"),
]

# PII-free texts: capitalized products, companies, teams and places where names often stand.
PII_FREE: list[str] = [
    "Hi Platform Team,\n\nThe Q3 forecast for Northwind is attached; can you check the EMEA tab before Friday?",
    "Dear Customer Success,\nThank you for the renewal of Azure Data Factory. We will be in touch next week.",
    "Hello Finance - quick one: is the Jira board for Project Falcon still owned by Treasury?",
    "Please find the signed SOW attached.\n\nBest regards,\nGlobal Procurement\nNorthwind Traders",
    "Let me know if the Tuesday slot works.\n\nThanks,\nThe Atlas Team",
    "Approved for release to Production.\n-- Release Engineering, Contoso Cloud",
    "[10:42] deploy-bot: pushed the hotfix to staging, can someone review PR 4821?",
    "Kafka joined #payments-oncall. Kafka lag alerts firing on the Frankfurt cluster again.",
    "ok so Grafana is lying again, I'll check Prometheus and Loki",
    "INC-48213 reported by Service Desk: VPN drops every 20 minutes on the Lisbon office Wi-Fi.",
    "Assignee: Data Engineering\nSummary: SAP export fails on month-end close\nPriority: P2",
    "Reassigning to Identity Platform since they own the Okta integration now.",
    "Jenkins has requested a restart of the Windows build agents; Ops approved.",
    "Performance review: Salesforce adoption exceeded targets in all four quarters across Iberia.",
    "Exit interview template moved to Confluence under People Operations.",
    "Cardiology Unit B presented the Philips IntelliVue upgrade plan; Biomedical Engineering to follow up.",
    "Referred by Mercy General for an MRI at Riverside Imaging after the Siemens scanner went down.",
    "Discharge summary module for Epic Hyperspace: stable build, Cerner interface continued.",
    "Merchant Carrefour Lyon disputed a chargeback of 84.20 EUR; Visa Europe issued provisional credit.",
    "Wire of 12,500 USD to Deutsche Bank Frankfurt held for review by Compliance Operations.",
    "KYC refresh: Barclays Wealth confirmed the new policy by video call; no adverse media found.",
    "Department: Logistics\nSite: Rotterdam Europoort\nStart date: 2026-01-12",
    "Emergency contact: Site Security (Building C)\nRelationship verified: yes",
    "Attendees: Legal, Payroll and Brand Marketing\nAgenda: budget, hiring plan, Q4 roadmap",
    "On call this week:\n- Payments Core\n- Search Relevance\n- Mobile Platform",
    "BENEFICIARY: ACME INDUSTRIAL SUPPLY\nAMOUNT: 2,500.00 USD\nREFERENCE: INVOICE 7731",
    "URGENT - PLEASE CALL FACILITIES BEFORE THE AUDIT COMMITTEE MEETS",
    "Yesterday the board heard from Bain Capital about the Jakarta expansion and the new warehouse.",
    "The contract was negotiated by Accenture Federal, which flew a team to Nairobi twice last spring.",
    "After the outage, Site Reliability wrote the postmortem and proposed the retry budget.",
    "Accounts Payable - Shared Services Centre Krakow - ext. 4410",
    "Can Tier Two cover the on-call shift on Saturday? Tier One is short.",
    "Thanks Copilot, that fixed the build.",
    "Dr. Scholl's and Johnson & Johnson displays go in aisle 4 at the Walgreens in Tempe.",
    "St. Mary's Hospital will review the Medtronic contract on Thursday morning.",
]

PRODUCTS = ["Snowflake", "Databricks", "Kubernetes", "Terraform", "Tableau", "Power BI", "ServiceNow",
            "Workday", "SharePoint", "Slack", "Zendesk", "HubSpot", "Looker", "Airflow", "Ansible",
            "Splunk", "Datadog", "PagerDuty", "Figma", "Notion", "Oracle Fusion", "NetSuite",
            "Google Workspace", "Microsoft Teams", "Adobe Experience Manager", "Alexa for Business",
            "Watson Assistant", "Hermes", "Jarvis", "Apollo GraphQL"]
COMPANIES = ["Northwind Traders", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella Logistics",
             "Wayne Freight", "Stark Solar", "Tata Consultancy", "Infosys", "Mahindra Finance", "Alibaba Cloud",
             "Huawei Enterprise", "Emirates NBD", "Safaricom", "Dangote Cement", "Banco Santander",
             "Grupo Bimbo", "Petrobras", "Gazprom Neft", "Orlen", "Siemens Healthineers", "Philips",
             "Maersk", "Nokia", "Rakuten", "Samsung SDS", "Vietcombank", "Turkish Airlines", "Air New Zealand"]
TEAMS = ["Platform Reliability", "Revenue Operations", "Brand Studio", "Risk Analytics", "Clinical Informatics",
         "Treasury Operations", "Customer Care", "Field Marketing", "Tax Reporting", "Talent Acquisition",
         "Cloud Security", "Data Governance", "Vendor Management", "Payroll Services", "Legal Ops"]
PLACES = ["São Paulo", "Santa Clara", "Fort Worth", "St. Louis", "Port Elizabeth", "Addis Ababa", "Kraków",
          "Ho Chi Minh City", "Bengaluru", "Guadalajara", "Den Haag", "Abu Dhabi", "Shenzhen", "Lagos",
          "Kuala Lumpur", "Reykjavík", "Mexico City", "San Jose", "Mount Pleasant", "Victoria Falls"]

FREE_TEMPLATES: list[str] = [
    "Hi {T},\nthe {P} licence renewal with {C} is due on the 30th; please confirm seats by Friday.",
    "{C} moved the {P} rollout for the {L} office to next quarter.",
    "Attendees: {T}, {C} and the {L} site leads. Agenda: {P} migration.",
    "Thanks,\n{T}\n{C} | {L}",
    "Ask {T} about the {P} access request for the {L} contractors.",
    "Met with {C} in {L}; they want {P} integrated with our billing stack.",
    "{P} outage in {L}: {T} is coordinating with {C} support.",
    "Per {T}, the {C} invoice for {P} goes to cost centre 4410.",
    "Escalated to {C} Premier Support; {T} owns the follow-up in {L}.",
    "FYI {T} approved the {P} pilot for {L}.",
]


def cased(form: str, n: tuple[str, str, str, bool]) -> str:
    if form == "full":
        return full(n)
    if form == "first":
        return first(n)
    if form in {"last", "title_last"}:
        return last(n)
    if form == "lower":
        return full(n).lower()
    if form == "upper":
        return full(n).upper()
    if form == "surname_first":
        return f"{n[1]}, {n[0]}"
    raise ValueError(form)


def fill(text: str, names: dict[str, str]) -> tuple[str, list[tuple[int, int, str, str]]]:
    out: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    pos = 0
    i = 0
    while i < len(text):
        if text[i] == "{" and text[i + 2 : i + 3] == "}" and text[i + 1] in names:
            value = names[text[i + 1]]
            spans.append((pos, pos + len(value), value, text[i + 1]))
            out.append(value)
            pos += len(value)
            i += 3
        else:
            out.append(text[i])
            pos += 1
            i += 1
    return "".join(out), spans


def name_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    count = len(NAMES)
    for t_index, (klass, template, form) in enumerate(TEMPLATES):
        # nine names per template, stepping through the list so every culture meets every class
        for k in range(9):
            picks = [NAMES[(t_index * 7 + k * 11 + j * 23) % count] for j in range(3)]
            values = {"A": cased(form, picks[0]), "B": cased(form, picks[1]), "C": cased(form, picks[2])}
            text, spans = fill(template, values)
            text = unicodedata.normalize("NFC", text)
            culture = {"A": picks[0][2], "B": picks[1][2], "C": picks[2][2]}
            gold = [{"start": s, "end": e, "name": v, "culture": culture[slot]} for s, e, v, slot in spans]
            rows.append({"id": f"n{len(rows):04d}", "class": klass, "form": form, "text": text, "names": gold})
    return rows


def free_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [{"id": f"f{i:04d}", "class": "written", "text": t, "names": []}
                                     for i, t in enumerate(PII_FREE)]
    k = 0
    for t_index, template in enumerate(FREE_TEMPLATES):
        for j in range(18):
            values = {"T": TEAMS[(k * 7) % len(TEAMS)], "P": PRODUCTS[(k * 11 + t_index) % len(PRODUCTS)],
                      "C": COMPANIES[(k * 13) % len(COMPANIES)], "L": PLACES[(k * 3 + j) % len(PLACES)]}
            k += 1
            text, _ = fill(template, values)
            rows.append({"id": f"f{len(rows):04d}", "class": "filled", "text": text, "names": []})
    return rows


def main() -> None:
    for file, rows in (("names.jsonl", name_rows()), ("pii_free.jsonl", free_rows())):
        with (HERE / file).open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{file}: {len(rows)} texts")


if __name__ == "__main__":
    main()

"""The words that are never a person's name, for the name cues (``name_cues``): calendar words, form labels,
interjections, a company's departments, the words that end a group's or a label's name, and the role nouns that
follow a lower-case cue ("dear valued customer"). Words of the language, never a list of names."""

from __future__ import annotations

# The names of a company's departments, which stand where names do ("Thanks to Finance", "Hi Legal"): a
# department is never a person's name.
DEPARTMENTS = frozenset(
    [
        "finance", "legal", "marketing", "procurement", "purchasing", "compliance", "treasury", "operations", "ops",
        "engineering", "facilities", "security", "audit", "risk", "payroll", "billing", "accounting", "accounts",
        "payments", "lending", "logistics", "research", "hr", "it", "infosec", "tax", "sourcing", "underwriting",
        "collections", "onboarding", "recruiting", "recruitment", "fundraising", "communications", "comms", "pr",
        "product", "design", "infrastructure", "helpdesk", "servicedesk", "reception", "management", "leadership",
        "governance", "quality", "qa", "safety", "maintenance", "warehouse", "shipping", "receiving", "dispatch",
    ]
)  # fmt: skip

# Greetings that open a letter or a message before a name ("Dear Legal,", "Hello Finance"): never part of one.
GREETINGS = frozenset(["dear", "hi", "hello", "hey", "hiya", "greetings", "good", "morning", "afternoon", "evening"])

# Words that are never a name on their own: calendar words, form labels, address words, interjections that
# open a sentence ("Thanks, can you..."), the words of company names ("Smith and Company").
NOT_NAMES = frozenset(
    [
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
        "april", "may", "june", "july", "august", "september", "october", "november", "december", "today", "tomorrow",
        "yesterday", "god", "bot", "user", "customer", "name", "date", "phone", "mobile", "desk", "fax", "email",
        "e-mail", "website", "address", "subject", "from", "to", "re", "note", "total", "office", "team", "support",
        "sales", "admin", "street", "road", "avenue", "suite", "apt", "unit", "box", "north", "south", "east", "west",
        "new", "sir", "madam", "yes", "no", "ok", "okay", "sorry", "well", "thanks", "hello", "please", "sure",
        "great", "right", "first", "second", "third", "next", "then", "meanwhile", "finally", "oh", "ah", "btw", "fyi",
        "guys", "folks", "everyone", "all", "update", "company", "co", "inc", "llc", "ltd", "plc", "group", "bank",
        "sons", "partners", "associates", "corp", "corporation", "university", "hospital", "school", "city", "county",
        "state", "department", "ministry", "council", "club", "house", "hall", "center", "centre", "boss", "mom",
        "dad", "man", "woman", "baby", "honey", "dude", "bro", "buddy", "mate", "friends", "unfortunately",
        "fortunately", "honestly", "actually", "basically", "hopefully",
        "personally", "obviously", "frankly", "seriously", "clearly", "currently", "additionally", "similarly",
        "lastly", "recently", "generally", "usually", "ideally", "alternatively", "apparently", "luckily", "sadly",
        "alright", "anyway", "besides", "otherwise", "instead", "plus", "later", "tonight", "good", "morning",
        "afternoon", "evening", "night", "welcome", "congratulations", "attention", "warning", "important",
        "number", "reference", "amount", "status", "type", "id", "code", "account", "balance", "details", "attn",
        "cc", "bcc", "fwd", "fw", "owner", "beneficiary", "client", "patient", "applicant", "approver", "reviewer",
        "assignee", "approved", "prepared", "reviewed", "signed", "mr", "mrs", "ms", "mx", "dr", "prof", "rev",
        "participants", "participant", "attendees", "attendee", "guests", "members", "present", "apologies", "police",
        # the labels of meeting minutes, tickets and clinical notes ("Action: ...", "Resolution: ...")
        "action", "actions", "agenda", "minutes", "decision", "decisions", "outcome", "summary", "notes", "todo",
        "priority", "severity", "resolution", "issue", "problem", "impact", "workaround", "description", "comment",
        "comments", "question", "answer", "deadline", "due", "chair", "absent", "assessment", "plan", "diagnosis",
        "history", "allergies", "medications", "findings", "impression", "complaint", "symptoms", "vitals",
        # the labels of mail and calendar headers ("Sent:", "Organizer:", "Required:", "Reply-To:")
        "sent", "organizer", "organiser", "required", "optional", "invitation", "invite", "reply-to", "vendor",
        "contact", "host", "location", "when", "where", "author", "committer", "channel", "here", "everyone",
    ]
) | DEPARTMENTS  # fmt: skip


# The adverbs and interjections among them, which open a sentence before a name.
OPENERS = frozenset(
    ["yes", "no", "ok", "okay", "sorry", "well", "thanks", "hello", "please", "sure", "then", "meanwhile", "finally",
     "oh", "ah", "btw", "fyi", "unfortunately", "fortunately", "honestly", "actually", "basically", "hopefully",
     "personally", "obviously", "frankly", "seriously", "clearly", "currently", "additionally", "similarly",
     "lastly", "recently", "generally", "usually", "ideally", "alternatively", "apparently", "luckily", "sadly",
     "alright", "anyway", "besides", "otherwise", "instead", "plus", "later", "tonight", "today", "yesterday",
     "tomorrow"]
)  # fmt: skip


# The words of a group's name: a span that ends in one is a team or a company ("Finance Team", "Acme Corp").
GROUP_TAIL = frozenset(
    ["team", "support", "sales", "admin", "office", "company", "co", "inc", "llc", "ltd", "plc", "group", "bank",
     "partners", "associates", "corp", "corporation", "university", "hospital", "school", "department",
     "ministry", "council", "club", "center", "centre", "desk", "operations", "services", "holdings", "committee",
     "board", "division", "unit", "staff", "crew", "squad", "family", "dept", "payable", "receivable",
     "resources", "service", "relations", "affairs", "agency", "institute", "foundation", "trust", "fund", "events",
     # and of a form's label: "Order Number:", "Customer Name:", "Invoice Date:"
     "number", "id", "code", "reference", "ref", "status", "type", "date", "name", "details", "amount",
     "balance", "total",
     # and of a phone line's: "Toll Free", "Sales Hotline", "Customer Care"
     "free", "hotline", "helpline", "line", "lines", "enquiries", "inquiries", "care", "reception", "switchboard"]
)  # fmt: skip


ROLE_NOUNS = frozenset(
    ["manager", "managers", "colleague", "colleagues", "member", "members", "client", "clients", "customers",
     "users", "partner", "parent", "parents", "student", "students", "staff", "applicant", "applicants",
     "candidate", "candidates", "reader", "readers", "shareholder", "shareholders", "investor", "investors",
     "patient", "patients", "guest", "guests", "friend", "sirs", "lord", "sir", "madam", "team", "teams", "officer",
     "director", "committee", "board", "owner", "owners", "holder", "subscriber", "subscribers", "employee",
     "employees", "supporter", "supporters", "donor", "donors", "neighbor", "neighbour", "neighbors", "neighbours",
     "community", "reviewer", "reviewers", "editor", "editors", "recruiter", "doctor", "appointment", "office",
     "word", "excel", "visitor", "visitors", "traveler", "traveller", "passenger", "passengers", "account",
     "mom", "dad", "mother", "father", "sister", "brother", "son", "daughter", "wife", "husband", "boss"]
)  # fmt: skip

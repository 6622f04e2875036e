"""PERSON from what is said of a person in the notes people write: a trait of character, being on leave or out
sick, a career step, a clinical or a court record's verbs, an HR record's subject, a meeting's roll and actions,
coordination with "I", and a role noun in apposition.

Fifth pass on names (issue 18). Each cue is a predicate or a frame that a team, a company, a product or a place
hardly takes ("Why is Danielle so impulsive?", "Omar is off sick today", "Grace spent two years at Contoso",
"Pt is a 54-year-old male", "Action: Priya to circulate the draft", "Mia and I will present"). No list of
names: the cue and the shape of a capitalized word (``name_shapes.NAME``). Strong cues count as they are; weak
ones, whose frame also takes a company or a team, count only where the tagger reads a proper noun (``ner``).
Every pattern is bounded and linear.
"""

from __future__ import annotations

import re

from gateway.pii.name_shapes import NAME, TITLE_WORDS

_END = r"(?![\w'\u2019-])"
_ADVERBS = (
    r"(?:[ ](?:so|very|really|too|always|such an?|quite|super|extremely|incredibly|a bit|a little|kinda|"
    r"sometimes|often|still|being|not|never|just|rather|pretty|overly|genuinely|truly))"
)
# Traits of character and states only a person is in: said of a team or a product, they are figures of speech.
_TRAITS = (
    r"impulsive|shy|kind|rude|selfish|lazy|stubborn|jealous|envious|arrogant|polite|impolite|sweet|grumpy|moody|"
    r"charming|handsome|talented|gifted|nervous|lonely|bored|naive|naïve|witty|sarcastic|bossy|humble|cheerful|"
    r"outgoing|talkative|thoughtful|caring|sympathetic|compassionate|impatient|insecure|ambitious|clumsy|brave|"
    r"smart|clever|honest|dishonest|grouchy|cranky|bubbly|sassy|flirty|introverted|"
    r"extroverted|extraverted|stressed|depressed|anxious|upset|heartbroken|homesick|pregnant|allergic|diabetic|"
    r"asthmatic|hypertensive|febrile|afebrile|tired|exhausted|hungry|thirsty|sleepy|drunk|asleep|awake|sick|"
    r"ill|injured|unwell|grieving|widowed|single|divorced|unemployed|patient|mad at|angry|annoyed|furious"
)  # not "kind of", "single-threaded"; no word a product or a place is praised with ("lovely", "amazing")
_TRAIT_END = r"(?![\w-])(?! of\b)"
_IS = (
    r"(?:['\u2019]s| (?:is|was|seems|seemed|looks|looked|sounds|sounded|felt|feels|can be|has been|had been|gets|"
    r"got|became))"
)
_TRAIT_AFTER = re.compile(NAME + _IS + _ADVERBS + r"{0,3} (?:" + _TRAITS + r")" + _TRAIT_END)
_TRAIT_ASKED = re.compile(
    r"(?i:\b(?:is|was|isn't|wasn't|why's|how's))[ ]" + NAME + _ADVERBS + r"{0,3} (?:" + _TRAITS + r")" + _TRAIT_END
)
# Away from work: "Omar is off sick today", "Lena will be on maternity leave", "Tom is out of office".
_AWAY = re.compile(
    NAME + r"(?:['\u2019](?:s|ll be)| (?:is|was|will be|has been|had been))(?: (?:currently|still|now))?"
    r" (?:out sick|off sick|off work|off today|off tomorrow|off this week|off next week|"
    r"on (?:annual |sick |maternity |paternity |parental |medical |bereavement |study |garden |unpaid )?leave|"
    r"on (?:holiday|vacation|PTO|furlough|sabbatical|honeymoon)|out of (?:the )?office|OOO|"
    r"back from (?:leave|holiday|vacation|sick leave|maternity leave|paternity leave|sabbatical))\b"
)
# A career step: "Grace spent two years at Contoso", "Mo worked as a nurse", "Ines was promoted to team lead".
_CAREER = re.compile(
    NAME + r" (?:(?:has|had|also|then|later|first|once) )?(?:"
    r"spent (?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|[0-9]{1,2}|several|many|some|the next|the "
    r"last|most of (?:his|her)) (?:[a-z]+ )?(?:years?|months?|decades?|summers?|semesters?|terms?|seasons?) "
    r"(?:at|as|working|studying|teaching|living|abroad)|"
    r"(?:worked|trained|volunteered|retrained) as (?:a|an|the|our|his|her)|"
    r"(?:was|has been|got|had been) (?:fired|laid off|let go|headhunted|demoted|rehired|promoted to (?:(?:senior|"
    r"junior|chief|deputy|vice|executive|managing|general|regional|assistant|associate|team|principal|staff) )*"
    r"(?:" + TITLE_WORDS + r"|supervisor|sergeant|captain|editor|foreman|partner))|"
    r"resigned|quit (?:his|her)|handed in (?:his|her) notice|went on (?:leave|maternity|paternity)|"
    r"has been with the (?:company|firm|bank|business|organi[sz]ation|practice|team) (?:for|since)|"
    r"reports to (?:the |his |her |my |our )?(?:(?:senior|chief|deputy|vice|executive|managing|general|regional|"
    r"team) )*(?:" + TITLE_WORDS + r"))\b"
)
# Clinical and court records: "Pt Ruiz complains of headaches", "Ana Ruiz is a 54-year-old female", "Mills
# testified that ...", "Brian Keller was sentenced to two years".
_RECORD = re.compile(
    NAME + r" (?:(?:complains|complained|presents|presented|presenting) (?:of|with) (?:(?:a|an|some|mild|severe|"
    r"acute|chronic|recurrent|intermittent|worsening|new|persistent|ongoing|left|right|lower|upper) )*(?:[a-z]+ )?"
    r"(?:pain|aches?|headaches?|fever|cough|nausea|vomiting|dizziness|fatigue|rash|swelling|bleeding|shortness|"
    r"chest|abdominal|back|difficulty|symptoms|palpitations|numbness|insomnia|anxiety|depression|weakness|"
    r"tiredness|soreness|itching|lumps?|injur(?:y|ies)|wheez(?:e|ing)|diarrh(?:o)?ea|constipation)|"
    r"(?:denies|denied) (?:any )?(?:fever|pain|chest|chills|nausea|headache|shortness|cough|vomiting|smoking|"
    r"alcohol|drug|suicidal|history|symptoms)|"
    r"(?:reports|reported) (?:improved|worsening|feeling|mild|severe|increased|decreased|better|worse|some|"
    r"ongoing|intermittent)|"
    r"(?:is|was) an? [0-9]{1,3}[- ](?:year|yr|month)s?[- ]old(?! (?:company|firm|business|brand|building|house|"
    r"tradition|institution|bank|store|shop|restaurant|church|school|hospital|university|charity|organi[sz]ation))|"
    r"(?:was|has been|is being|will be) (?:discharged|hospitali[sz]ed|diagnosed|intubated|sedated|admitted to "
    r"(?:hospital|the ward|ICU|A&E))|underwent (?:surgery|an operation|a procedure|a biopsy|chemotherapy|"
    r"radiotherapy|dialysis|a transplant)|"
    r"testified|pleaded (?:guilty|not guilty|no contest)|pled (?:guilty|not guilty)|"
    r"(?:was|has been|had been) (?:arrested|sentenced|jailed|imprisoned|detained|acquitted|released on bail|"
    r"remanded|paroled))\b"
)
# What is written about one person in HR records: "Performance review for Ana Ruiz", "Exit interview: Tom Lee".
_HR_RECORD = re.compile(
    r"(?i:\b(?:performance review|appraisal|exit interview|leave request|sick note|timesheet|payslip|"
    r"offer letter|reference letter|background check|disciplinary hearing|probation review|"
    r"one-to-one|1:1|1-on-1|one-on-one)(?: (?:for|of|with)[ \t]+|[ \t]*[:\-\u2013][ \t]*))" + NAME + _END
)
# A meeting's roll and its actions: "Present: Ana Ruiz, Tom Lee", "Action: Priya to circulate the draft",
# "Minutes taken by Tom Lee", "Tom Lee chaired the meeting".
_ROLL = re.compile(
    r"(?i:\b(?:present|attendees|attending|in attendance|apologies|absent|invitees|chair|chairperson|"
    r"minute taker|note taker|scribe|facilitator)[ \t]*:)[ \t]*" + NAME + _END
)
# An action item opens with its verb ("Action: Circulate the draft"): the name is the one followed by "to".
_ACTION = re.compile(r"(?i:\b(?:actions?|action items?|ap|todo|to-do)[ \t]*:)[ \t]*" + NAME + r" (?:to|will)\b")
_MINUTED = re.compile(
    r"(?i:\b(?:minutes taken|notes taken|chaired|narrated|illustrated|painted|composed|photographed|authored|"
    r"co-authored) by)[ \t]+" + NAME + _END
)
_CHAIRED = re.compile(NAME + r" (?:chaired|chairs|took (?:the )?minutes|took notes|facilitated the)\b")
# Weak: a team takes these frames too ("Legal to review the contract", "hosted by Contoso").
_ACTION_LINE = re.compile(
    r"(?m)^[^\w\n]{0,3}" + NAME + r" to (?:follow up|circulate|send|review|check|confirm|draft|update|share|"
    r"prepare|schedule|contact|call|email|e-mail|chase|look into|investigate|book|organi[sz]e|arrange|ask|find|"
    r"speak|talk|sort|set up|reach out|liaise|provide|present|write|finali[sz]e|follow-up)\b"
)
_HOSTED = re.compile(
    r"(?i:\b(?:hosted|presented|led|organi[sz]ed|facilitated|moderated|introduced|translated|replaced|mentored|"
    r"supervised|trained|coached|interviewed|seen|examined|treated|assessed) by|reassigned (?:from|to)|"
    r"handed (?:over|off) to|shadowing|covering for|cover for)"
    r"[ \t]+" + NAME + _END
)
# "Mia and I will present", "me and Ravi went", "Ravi and his wife": coordinated with the speaker or a kin.
_WITH_ME = re.compile(
    NAME + r" (?:and|&) (?:I|me|myself|(?:his|her) (?:wife|husband|partner|kids|children|son|daughter|mother|"
    r"father|mom|dad|mum|sister|brother|family|friends?|girlfriend|boyfriend|fianc[eé]e?))\b"
)
_ME_WITH = re.compile(r"(?i:\b(?:me|you|him|her|us) (?:and|&))[ ]" + NAME + _END + r"(?! (?:team|teams)\b)")
# A role noun, then the name in apposition: "the defendant, Ana Ruiz, ...", "my manager, Tom Lee, ...".
_APPOSED = re.compile(
    r"(?i:\b(?:the|my|our|your|his|her|their) (?:new |former |late |current |previous |direct |line )?"
    r"(?:deceased|victim|suspect|patient|witness|manager|boss|colleague|coworker|"
    r"co-worker|wife|husband|partner|mother|father|son|daughter|sister|brother|friend|neighbou?r|roommate|"
    r"lawyer|attorney|solicitor|doctor|gp|nurse|dentist|therapist|teacher|tutor|coach|"
    r"ceo|cfo|coo|cto|chair|chairman|chairwoman|founder|hire|intern|assistant|employee|applicant|candidate|"
    r"waiter|waitress|bartender|driver|stylist|receptionist|caregiver|carer|nanny|babysitter|midwife|"
    r"pharmacist|surgeon|physician|instructor|trainer|hostess|cashier|buddy|mentor|guardian))"
    r"(?:,[ ]| (?=[A-Z]))" + NAME + r"(?=,|\.|;|!|\?| \(| (?:is|was|has|had|will|who|and|at|from|called|said)\b|$)"
)
# "Ask for Maria, she is great", "Tom at the front desk was rude" (a review's subject).
_ASK_FOR = re.compile(r"(?i:\bask(?:ed)? for)[ ]" + NAME + _END)
_FRONT_DESK = re.compile(
    NAME + r" (?:at|on|from) (?:the )?(?:front desk|reception desk|counter|checkout|till|bar|door|register)\b"
)
# A question about what someone did or does: "did Ravi ever reply?", "is Mia home?", "does Ana know?".
_ASKED_ABOUT = re.compile(
    r"(?i:\b(?:did|does|has|have|had|is|was|will|would|can|could|should|where's|where is|how's|how is))[ ]"
    + NAME
    + r" (?:(?:ever|still|already|even|really|not|actually) )?(?:reply|replied|answer|answered|call|"
    r"called|text|texted|arrive|arrived|show up|showed up|get home|got home|wake up|woke up|sleep|"
    r"slept|eat|ate|remember|forget|forgot|mention|mentioned|agree|agreed|know|knows|like|likes|love|loves|"
    r"feel|feeling|married|pregnant|home)\b"
)

# Feeling, wondering, remembering: "Ravi feels left out", "Mia wondered why". Not "thinks", "forgot",
# "mentioned": companies and software take them as often ("Globex thinks", "Zoom forgot my settings").
_MIND = re.compile(
    NAME + r" (?:(?:also|still|really|just|never|always) )?(?:feels|felt|wonders|wondered|remembers|remembered|"
    r"hopes|hoped|wishes|wished|worries|worried|reckons|reckoned|apologi[sz]ed)\b"
)

# One of a company's people: "Ravi from HR", "Ana Ruiz from accounts called" (a company is not "from HR"); not
# before "to", where a verb opens the line ("Reassigned from Legal to Finance").
_FROM_DEPARTMENT = re.compile(
    NAME + r" from (?i:(?:the )?(?:hr|it|finance|accounts|accounting|legal|payroll|marketing|sales|"
    r"procurement|compliance|treasury|operations|ops|engineering|facilities|security|audit|risk|billing|support|"
    r"customer service|reception|admin|human resources|the [a-z]+ team|head office|the front desk)"
    r"(?: team| department| dept| support| desk| office| ops)?+)(?![\w-])(?! (?:to|into)\b)"
)
# What a person has: "Nadia has two kids and a dog", "Tom had a baby girl" (a company has subsidiaries).
_HAS_KIN = re.compile(
    NAME + r" (?:has|had|have|'s got) (?:a|an|one|two|three|four|five|six|[1-9]|twin|no|grown) (?:(?:young|little|"
    r"grown|adult|teenage|baby|new|older|younger|big) )?(?:kids?|children|sons?|daughters?|grandchildren|"
    r"grandkids|siblings|brothers?|sisters?|husband|wife|boyfriend|girlfriend|fianc[eé]e?|baby|twins|dogs?|cats?|"
    r"puppy|kitten|stepson|stepdaughter|nephews?|nieces?)\b"
)
# A voicemail left for someone: "Left a voicemail for Ravi" (weak: "a message for Finance").
_VOICEMAIL = re.compile(r"(?i:\b(?:voicemail|voice mail|vm|message|msg) (?:for|with))[ ]" + NAME + _END)

# A request to change the name on an account: "please change it to Amber Jacobs", "correct my name to Ana Ruiz".
_RENAMED = re.compile(
    r"(?i:\b(?:change|changed|correct|corrected|update|updated|amend|amended|spell|spelled|spelt|rename|renamed)"
    r" (?:my name|the name|his name|her name|their name|the account name|the name on (?:the|my) "
    r"(?:account|card|booking|ticket|reservation|policy)) to)[ ]" + NAME + _END
)
# "The name in the account is not correct, please change it to Amber Jacobs": "it" is the name said before (in
# ``renamed_it``: the verb is looked for first, then "name" in the 80 characters before it, so a text full of
# "name" costs one scan).
_IT_TO = re.compile(r"(?i:\b(?:change|correct|update|amend|spell|rename)d? it to)[ ]" + NAME + _END)
_NAME_SAID = re.compile(r"(?i:\bname\b)[^.!?\n]{0,80}\Z")
# What is kept under a person's name: "Maybe it's under Andrea Valdez", "the booking is under Ravi".
_UNDER = re.compile(
    r"(?i:\b(?:it's|it is|it was|booked|booking is|reservation is|account is|table is|order is|registered|"
    r"reserved|(?:is|are|was|were) (?:still )?(?:all )?) under)[ ]" + NAME + _END
)
# The author or performer after a quoted work: '"Tube Snake Boogie" by Amber Sutton' (weak: '"Excel" by Microsoft').
_QUOTED_WORK = re.compile(r"[\"\u201d\u2019'] by " + NAME + _END)
# A reader's or a writer's role before the name: "as regular commenter Holly Maldonado points out".
_WRITERS = (
    "commenter", "commentator", "reader", "listener", "viewer", "poster", "contributor", "columnist", "blogger",
    "reporter", "correspondent", "journalist", "critic", "reviewer", "subscriber", "follower", "caller", "fan", "user",
)  # fmt: skip
_WRITER = re.compile(r"(?i:\b(?:" + "|".join(_WRITERS) + r") )" + NAME + _END)


def _one_scan(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """The patterns that open with ``NAME``, as one: a text is scanned for a capitalized word once, not once each."""
    suffixes = []
    for pattern in patterns:
        if not pattern.pattern.startswith(NAME) or pattern.groups != 1:
            raise ValueError(f"not a pattern that opens with NAME: {pattern.pattern[:40]}")
        suffixes.append(f"(?:{pattern.pattern[len(NAME) :]})")
    return re.compile(NAME + "(?:" + "|".join(suffixes) + ")")


# Each cue with the words one of which its match must hold (lower case; none: always run). A text without them
# is not scanned for it: a case-insensitive alternation costs a try at every position of the text.
_ALWAYS: tuple[str, ...] = ()
_STRONG = (
    (_ALWAYS, _one_scan((_TRAIT_AFTER, _AWAY, _CAREER, _RECORD, _CHAIRED, _HAS_KIN, _FROM_DEPARTMENT))),
    (_ALWAYS, _TRAIT_ASKED),
    (("review", "appraisal", "interview", "leave request", "sick note", "timesheet", "payslip", "letter",
      "background check", "hearing", "one-to-one", "1:1", "1-on-1", "one-on-one"), _HR_RECORD),
    ((":",), _ROLL), ((":",), _ACTION), ((" by",), _MINUTED),
    (("chang", "correct", "updat", "amend", "spel", "renam"), _RENAMED),
)  # fmt: skip
_WEAK = (
    (_ALWAYS, _one_scan((_MIND, _WITH_ME, _FRONT_DESK))),
    (("voicemail", "voice mail", "vm", "message", "msg"), _VOICEMAIL), (("under",), _UNDER),
    ((" by ",), _QUOTED_WORK), (_WRITERS, _WRITER), (_ALWAYS, _ACTION_LINE),
    ((" by", "reassigned", "handed", "shadowing", "cover"), _HOSTED), ((" and", " &"), _ME_WITH),
    (_ALWAYS, _APPOSED), (("ask",), _ASK_FOR), (_ALWAYS, _ASKED_ABOUT),
)  # fmt: skip


def strong(text: str) -> list[re.Pattern[str]]:
    """The strong cues worth running on ``text``."""
    return _gated(_STRONG, text.lower())


def weak(text: str) -> list[re.Pattern[str]]:
    """The weak cues worth running on ``text``."""
    return _gated(_WEAK, text.lower())


def _gated(cues: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...], low: str) -> list[re.Pattern[str]]:
    return [pattern for words, pattern in cues if not words or any(w in low for w in words)]


def renamed_it(text: str) -> list[tuple[int, int]]:
    """Spans of the new name in "... name ..., please change it to X" (a strong cue)."""
    if " it to" not in text.lower():
        return []
    return [m.span(1) for m in _IT_TO.finditer(text) if _NAME_SAID.search(text, max(0, m.start() - 90), m.start())]

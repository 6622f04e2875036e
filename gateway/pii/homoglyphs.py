"""Characters of other scripts drawn like a Latin letter, a digit or a hyphen, and what the detection view reads them
as (``gateway.pii.normalize``). ``gateway.pii.numwords`` spells other scripts' number words through it, as the view
reads them (``один`` is ``oдиh`` there)."""

from __future__ import annotations

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
HOMOGLYPHS: dict[str, str] = {
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m", "\u043d": "h",
    "\u043e": "o", "\u0440": "p", "\u0441": "c",
    "\u0442": "t", "\u0443": "y", "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0457": "i", "\u0458": "j",
    "\u0501": "d", "\u051b": "q", "\u051d": "w",
    "\u0261": "g", "\u04cf": "l", "\u04bb": "h", "\u0578": "n", "\u057d": "u",
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T",
    "\u0425": "X", "\u0423": "Y", "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u0500": "D", "\u051a": "Q",
    "\u051c": "W", "\u04ae": "Y",
    "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o",
    "\u03c1": "p", "\u03c4": "t", "\u03c5": "u",
    "\u03c7": "x", "\u03c9": "w",
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I", "\u039a": "K",
    "\u039c": "M", "\u039d": "N", "\u039f": "O",
    "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    "\u0131": "i", "\u0237": "j", "\u2113": "l",
    # Letters drawn as a digit (Unicode's confusables of the digits): ``5\u04176-90-4721`` reads as 536-90-4721.
    "\u01a7": "2", "\u0417": "3", "\u0437": "3", "\u01b7": "3", "\u0292": "3", "\u13ce": "4", "\u0427": "4",
    "\u01bc": "5", "\u01bd": "5", "\u0431": "6", "\u13ee": "6", "\u0222": "8", "\u0223": "8",
    # The Han zero is drawn as the digit: alone among other digits (``536-9\u3007-4721``), it reads as one.
    "\u3007": "0",
    # Dash look-alikes become the hyphen the identifier patterns expect.
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2043": "-", "\ufe58": "-",
    "\u00b7": ".", "\u2219": ".", "\u22c5": ".",
}  # fmt: skip

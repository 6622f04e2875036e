"""The check digits of the identifiers the detector and the API-key rules look for: Luhn (payment cards), ISO 7064
mod 97-10 against the IBAN registry, the NHS number's mod 11. Plain functions, no Presidio: the CLI's key rules
(``gateway.auth.apikeys``) use them without loading the detector."""

from __future__ import annotations

# IBAN length per country (SWIFT IBAN registry, plus the partial-IBAN countries banks accept).
_IBAN_REGISTRY = (
    "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BI:27 BR:29 BY:28 CH:21 CR:22 CY:28 CZ:24 DE:22 "
    "DJ:27 DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FK:18 FO:18 FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HN:28 "
    "HR:21 HU:28 IE:22 IL:23 IQ:23 IS:26 IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 LY:25 "
    "MC:27 MD:24 ME:22 MK:19 MN:20 MR:27 MT:31 MU:30 NI:28 NL:18 NO:15 OM:23 PK:24 PL:28 PS:29 PT:25 QA:29 "
    "RO:24 RS:22 RU:33 SA:24 SC:31 SD:18 SE:24 SI:19 SK:24 SM:27 SO:23 ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 "
    "VA:22 VG:24 XK:20 YE:30 AO:25 BF:28 BJ:28 CF:27 CG:27 CI:28 CM:27 CV:25 DZ:26 GA:27 GQ:27 GW:25 IR:26 "
    "KM:27 MA:28 MG:27 ML:28 MZ:25 NE:28 SN:28 TD:27 TG:28"
)
IBAN_LENGTHS: dict[str, int] = {item[:2]: int(item[3:]) for item in _IBAN_REGISTRY.split()}
_LOOKALIKES = (str.maketrans({"O": "0"}), str.maketrans({"O": "0", "I": "1"}))


def luhn_ok(digits: str) -> bool:
    """Luhn checksum over the digits of ``digits`` (other characters ignored)."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 2:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def mod97_ok(value: str) -> bool:
    """ISO 7064 mod 97-10 (IBAN style): move the first four characters to the end, letters to numbers."""
    compact = "".join(c for c in value.upper() if c.isalnum())
    if len(compact) < 5:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def iban_ok(candidate: str) -> bool:
    """A registered country, its IBAN length and mod 97, as written or with look-alike letters read as digits."""
    compact = "".join(c for c in candidate if c.isalnum()).upper()
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact):
        return False
    if mod97_ok(compact):
        return True
    for table in _LOOKALIKES:
        fixed = country + compact[2:].translate(table)
        if fixed != compact and mod97_ok(fixed):
            return True
    # The detection view reads an I or O between digits as 1 or 0, which turns an Italian or San Marinese
    # check letter (IT60 X054...) into a digit: read the first BBAN character back as a letter.
    back = {"1": "I", "0": "O"}.get(compact[4])
    return back is not None and mod97_ok(compact[:4] + back + compact[5:])


def nhs_ok(candidate: str) -> bool:
    """NHS number check digit: weights 10..2 over the first nine digits, 11 - (sum mod 11), 11 -> 0, 10 invalid."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == digits[9]

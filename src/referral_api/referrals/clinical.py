"""Clinical validation: billable ICD-10-CM codes, specific questions, completeness."""

from __future__ import annotations

import re
from functools import lru_cache
from types import ModuleType
from typing import Any


@lru_cache(maxsize=1)
def _icd() -> ModuleType:
    import simple_icd_10_cm  # loads the 2026 code set (~1 s): once, at start-up

    return simple_icd_10_cm


def warm_up() -> None:
    _icd()


def billable_icd10cm(code: str) -> str | None:
    """The dotted form of a billable (leaf) ICD-10-CM code, or None."""
    icd = _icd()
    candidate = code.strip().upper()
    if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?", candidate):
        return None
    if not icd.is_valid_item(candidate) or not icd.is_leaf(candidate):
        return None
    return str(icd.add_dot(candidate))


# Words that ask for nothing in particular: a question made only of these (and filler)
# does not tell the receiving clinician what to answer.
_GENERIC = {
    "eval", "evals", "evaluate", "evaluation", "evaluations", "eval'n", "assess", "assessment",
    "treat", "treatment", "tx", "rx", "manage", "management", "consult", "consultation",
    "see", "seen", "review", "opinion", "recommend", "recommendation", "recommendations",
    "advise", "advice", "care", "further", "workup", "work", "up", "follow", "followup",
    "f/u", "fu", "appropriate", "appropriately", "indicated", "needed", "necessary",
    "deemed", "as", "if", "e&t", "et", "e/t", "&", "and", "or", "plus", "w/", "with",
    "therapy", "pt", "ot", "referral", "refer", "referred", "send", "sending", "services",
    "service", "options", "recs", "accordingly", "same", "etc", "ok", "do", "done",
}
_FILLER = {
    "please", "pls", "plz", "kindly", "the", "a", "an", "this", "that", "these", "patient",
    "patients", "pt's", "pts", "client", "for", "to", "of", "my", "our", "your", "you",
    "thank", "thanks", "thx", "ty", "in", "on", "at", "by", "is", "are", "be", "her", "him",
    "his", "them", "their", "she", "he", "they", "it", "me", "we", "us", "would", "could",
    "can", "will", "like", "appreciate", "appreciated", "much", "very", "welcome", "any",
    "all", "mr", "mrs", "ms", "dr", "regards", "greatly", "just", "kind", "sir", "madam",
}


def specific_question_problem(question: str) -> str | None:
    """Why `question` is not a specific clinical question, or None when it is."""
    words = re.findall(r"[a-z0-9&/'.]+", question.lower())
    words = [w.strip(".'") for w in words]
    substantive = [w for w in words if w and w not in _GENERIC and w not in _FILLER]
    if not substantive or len(question.strip()) < 12:
        return (
            "clinical_question must say what the receiving clinician should answer "
            "(e.g. 'Is she a candidate for lumbar stabilization given the L4-5 disc "
            "herniation?'); a bare request such as 'please evaluate' or 'eval and treat' "
            "is not a clinical question"
        )
    return None


COMPLETENESS_ELEMENTS = (
    "patient_identity",
    "chief_complaint_with_mechanism_or_onset",
    "diagnosis_or_impression",
    "care_to_date_with_response",
    "clinical_question",
    "precautions",
    "communication_preference",
)


def completeness(patient: dict[str, Any], note: dict[str, Any]) -> tuple[int, list[str]]:
    """Score (round(100 × present / 7)) and the missing elements of a referral note."""
    comm = note.get("communication") or {}
    present = {
        "patient_identity": bool(
            patient.get("first_name") and patient.get("last_name")
            and patient.get("birth_date") and (patient.get("phone") or patient.get("email"))
        ),
        "chief_complaint_with_mechanism_or_onset": bool(
            note.get("chief_complaint")
            and (note.get("mechanism_of_injury") or note.get("onset_date"))
        ),
        "diagnosis_or_impression": bool(
            note.get("diagnosis_codes") or note.get("clinical_impression")
        ),
        "care_to_date_with_response": bool(
            note.get("care_to_date") and note.get("response_to_care")
        ),
        "clinical_question": bool(note.get("clinical_question")),
        "precautions": bool(note.get("precautions")),
        "communication_preference": bool(
            comm.get("method") and comm.get("report_expected") is not None
        ),
    }
    missing = [e for e in COMPLETENESS_ELEMENTS if not present[e]]
    score = round(100 * (len(COMPLETENESS_ELEMENTS) - len(missing)) / len(COMPLETENESS_ELEMENTS))
    return score, missing

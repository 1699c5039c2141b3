"""Offline rules of `content-ops`: the local stand-in for the models (see aios.providers.offline).

Not a model and not a translator: a word-for-word dictionary for a few words per language, so
that a case runs offline end to end and the pipeline's ensemble, judge, glossary check and
repair all have something real to work on. Two candidate styles differ the way two prompts or
two models would: `literal` renders the glossary it is given (matching each term exactly as
written), `fluent` prefers its own words for some terms and ignores the glossary. The judge
scores each candidate by the glossary terms it renders and the share of words it translated.
"""

from __future__ import annotations

import re
from typing import Any

WORDS: dict[str, dict[str, str]] = {
    "de": {
        "hello": "hallo",
        "and": "und",
        "welcome": "willkommen",
        "to": "zu",
        "this": "diese",
        "week's": "Wochen-",
        "notes": "Notizen",
        "thanks": "danke",
        "for": "für",
        "reading": "das Lesen",
        "see": "bis",
        "you": "Sie",
        "next": "nächste",
        "week": "Woche",
        "every": "jede",
        "in": "in",
        "the": "die",
        "is": "ist",
        "bound": "gebunden",
        "of": "der",
        "action": "Aktion",
        "keeps": "führt",
        "each": "jede",
        "post": "Beitrag",
        "names": "nennt",
        "exactly": "genau",
        "what": "was",
        "will": "wird",
        "be": "werden",
        "published": "veröffentlicht",
        "a": "ein",
        "new": "neu",
        "with": "mit",
        "we": "wir",
        "our": "unser",
        "it": "es",
        "are": "sind",
        "on": "auf",
        "case": "Fall",
        "people": "Menschen",
        "team": "Team",
        "translation": "Übersetzung",
        "kit": "Bausatz",
    },
    "fr": {
        "hello": "bonjour",
        "and": "et",
        "welcome": "bienvenue",
        "to": "à",
        "this": "cette",
        "week's": "de la semaine",
        "notes": "notes",
        "thanks": "merci",
        "for": "pour",
        "reading": "la lecture",
        "see": "à",
        "you": "vous",
        "next": "prochaine",
        "week": "semaine",
        "every": "chaque",
        "in": "dans",
        "the": "le",
        "is": "est",
        "bound": "lié",
        "of": "de",
        "action": "action",
        "keeps": "garde",
        "each": "chaque",
        "post": "article",
        "names": "nomme",
        "exactly": "exactement",
        "what": "ce qui",
        "will": "sera",
        "be": "être",
        "published": "publié",
        "a": "un",
        "new": "nouveau",
        "with": "avec",
        "we": "nous",
        "our": "notre",
        "it": "il",
        "are": "sont",
        "on": "sur",
        "case": "cas",
        "people": "personnes",
        "team": "équipe",
        "translation": "traduction",
        "kit": "trousse",
    },
    "es": {
        "hello": "hola",
        "and": "y",
        "welcome": "bienvenidos",
        "to": "a",
        "this": "esta",
        "week's": "de la semana",
        "notes": "notas",
        "thanks": "gracias",
        "for": "por",
        "reading": "leer",
        "see": "hasta",
        "you": "usted",
        "next": "próxima",
        "week": "semana",
        "every": "cada",
        "in": "en",
        "the": "el",
        "is": "es",
        "bound": "vinculada",
        "of": "de",
        "action": "acción",
        "keeps": "guarda",
        "each": "cada",
        "post": "artículo",
        "names": "nombra",
        "exactly": "exactamente",
        "what": "lo que",
        "will": "será",
        "be": "ser",
        "published": "publicado",
        "a": "un",
        "new": "nuevo",
        "with": "con",
        "we": "nosotros",
        "our": "nuestro",
        "it": "lo",
        "are": "son",
        "on": "en",
        "case": "caso",
        "people": "personas",
        "team": "equipo",
        "translation": "traducción",
        "kit": "equipo",
    },
}
# What the `fluent` style says instead of the glossary's rendering.
FLUENT: dict[str, dict[str, str]] = {
    "de": {"ledger": "Kontobuch", "approval": "Genehmigung", "digest": "Hashwert"},
    "fr": {"ledger": "journal", "approval": "approbation", "digest": "condensé"},
    "es": {"ledger": "registro", "approval": "visto bueno", "digest": "resumen"},
}
TOKEN = re.compile(r"\w[\w'\u2019-]*|[^\w\s]+|\s+")


def classify(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "intent": "newsletter_edition",
        "urgency": "normal",
        "language": "en",
        "risk": "medium",
        "confidence": 0.95,
    }


def _words(text: str, lang: str, fluent: bool) -> str:
    table, alt = WORDS.get(lang, {}), FLUENT.get(lang, {}) if fluent else {}
    out = []
    for token in TOKEN.findall(text):
        low = token.lower()
        out.append(alt.get(low) or table.get(low) or token)
    return "".join(out)


def translate(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """One candidate: glossary terms rendered as given (literal style), the rest word by word."""
    text, lang = str(data["text"]), str(data["target_lang"])
    fluent = data.get("style") == "fluent"
    if fluent:
        return {"text": _words(text, lang, fluent=True)}
    pieces = [text]
    for entry in sorted(context.get("glossary") or [], key=lambda e: -len(e["term"])):
        term, rendering = entry["term"], entry["rendering"]
        pieces = [
            part
            for piece in pieces
            for part in (
                [piece]
                if piece.startswith("\x00")
                else _split_keep(piece, term, "\x00" + rendering)
            )
        ]
    return {
        "text": "".join(
            p[1:] if p.startswith("\x00") else _words(p, lang, fluent=False) for p in pieces
        )
    }


def _split_keep(text: str, term: str, marker: str) -> list[str]:
    parts = text.split(term)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i:
            out.append(marker)
        if part:
            out.append(part)
    return out


def judge(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Score each candidate: the glossary renderings it holds, and how much of it is translated."""
    source = str(data["source"])
    glossary = context.get("glossary") or []
    scores = []
    for candidate in data["candidates"]:
        held = sum(1 for e in glossary if e["rendering"] in candidate)
        terms = held / len(glossary) if glossary else 1.0
        words = [w for w in re.findall(r"\w+", source)]
        kept = sum(1 for w in words if re.search(rf"\b{re.escape(w)}\b", candidate))
        translated = 1 - kept / len(words) if words else 1.0
        scores.append(round(0.55 + 0.3 * terms + 0.15 * translated, 4))
    best = max(range(len(scores)), key=lambda i: scores[i])
    return {"scores": scores, "best": best, "reason": "glossary renderings, then coverage"}

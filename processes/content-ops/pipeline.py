"""The decision pipeline of `content-ops` (see aios.pipelines): one translation pipeline for
every post and language, then the plan: stage the versions, publish them after approval.

For each target language, each segment (the title, the meta description, each paragraph of a
body or of the edition's intro) is translated once:

1. reuse: a segment whose SHA-256 the post's current version in the content ledger already
   translated is taken from there (no model call; counted as `translate.reused`);
2. an ensemble: two candidates, `content-ops.translate.v1` (literal, large tier) and
   `content-ops.translate.v2` (fluent, small tier), both given the glossary terms the segment
   holds; every call goes through the kit's output cache and budget;
3. a judge (`content-ops.judge.v1`) scores the candidates; the best one is kept with its score
   and the candidates' agreement (word overlap), both recorded on the translation;
4. the glossary is checked by code: each term the source holds (any case) must appear as its
   rendering. A violation is repaired once (the literal prompt told what is missing, no
   cache); if it still fails, the case goes to a person (`NeedsPerson`: CHECK_FAILED).

The glossary is the tenant's canonical memory records in namespace `content-ops.glossary`
(one record per term: `{"term", "renderings": {lang: text}}`), read whole for every case.
SEO fields are derived by code. A post's version is its ledger version when the content digest
is unchanged, else the next one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any

from aios.pipelines import NeedsPerson, Steps

from capabilities.content import (
    EditionContent,
    PostContent,
    Seo,
    Translation,
    digest_of,
    edition_key,
    post_key,
)

GLOSSARY = "content-ops.glossary"
SOURCE_LANG = "en"
CANDIDATES = (
    ("literal", "content-ops.translate.v1", "large"),
    ("fluent", "content-ops.translate.v2", "small"),
)
PLACEHOLDER = "0" * 64


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def glossary_terms(steps: Steps) -> list[dict[str, Any]]:
    terms = []
    for record in steps.memory(GLOSSARY):
        try:
            entry = json.loads(record["text"])
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("term") and entry.get("renderings"):
            terms.append(entry)
    return terms


def hits_in(text: str, glossary: list[dict[str, Any]], lang: str) -> list[dict[str, str]]:
    """The glossary terms the source text holds (any case), with their rendering in `lang`."""
    return [
        {"term": e["term"], "rendering": e["renderings"][lang]}
        for e in glossary
        if lang in e["renderings"]
        and re.search(rf"(?<!\w){re.escape(e['term'])}(?!\w)", text, re.IGNORECASE)
    ]


def violations(translation: str, hits: list[dict[str, str]]) -> list[str]:
    """Glossary terms whose rendering the translation lacks (checked by code, exact)."""
    return [f"{h['term']} -> {h['rendering']}" for h in hits if h["rendering"] not in translation]


def _agreement(a: str, b: str) -> float:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return round(len(wa & wb) / len(wa | wb), 4) if wa | wb else 1.0


class Translator:
    """Translates segments into one language; remembers what the ledger already holds."""

    def __init__(
        self, steps: Steps, lang: str, glossary: list[dict[str, Any]], known: dict[str, Any]
    ) -> None:
        self.steps, self.lang, self.glossary = steps, lang, glossary
        self.known = known  # segment sha -> {"text", "score", "agreement"}
        self.used: dict[str, Any] = {}

    def segment(self, text: str) -> str:
        key = _sha(text)
        if key in self.known:
            self.steps.reused("translate")
            self.used[key] = self.known[key]
            return str(self.known[key]["text"])
        hits = hits_in(text, self.glossary, self.lang)
        data = {"text": text, "source_lang": SOURCE_LANG, "target_lang": self.lang}
        context = {"glossary": hits}
        candidates = [
            str(
                self.steps.ask(
                    "translate", {**data, "style": style}, context=context, prompt=p, tier=tier
                ).get("text", "")
            )
            for style, p, tier in CANDIDATES
        ]
        judged = self.steps.ask(
            "judge",
            {"source": text, "target_lang": self.lang, "candidates": candidates},
            context=context,
            tier="small",
        )
        scores = [float(s) for s in judged.get("scores") or []][: len(candidates)]
        if len(scores) != len(candidates):
            raise NeedsPerson(f"the judge scored {len(scores)} of {len(candidates)} candidates")
        best = max(range(len(scores)), key=lambda i: scores[i])
        chosen = candidates[best]
        missing = violations(chosen, hits)
        if missing:
            repaired = self.steps.ask(
                "translate",
                {**data, "style": "literal"},
                context={**context, "repair": missing},
                prompt=CANDIDATES[0][1],
                tier=CANDIDATES[0][2],
                cache=False,
            )
            chosen = str(repaired.get("text", ""))
            still = violations(chosen, hits)
            if still:
                raise NeedsPerson(
                    f"glossary violation in {self.lang} after one repair: {', '.join(still)} "
                    f"(segment {text[:80]!r})"
                )
        entry = {
            "text": chosen,
            "score": max(0.0, min(1.0, scores[best])),
            "agreement": _agreement(*candidates[:2]),
            "selected": CANDIDATES[best][0],
            "hits": hits,
        }
        self.used[key] = entry
        return chosen

    def paragraphs(self, text: str) -> str:
        return "\n\n".join(self.segment(p) for p in text.split("\n\n"))


def _seo(post: dict[str, Any]) -> Seo:
    slug = re.sub(r"[^a-z0-9]+", "-", post["title"].lower()).strip("-")[:80].strip("-")
    first = post["body"].split("\n\n")[0].strip()
    meta = post.get("meta_description") or (first if len(first) <= 160 else first[:157] + "...")
    return Seo(
        title=post["title"][:70],
        slug=slug or post["post_id"],
        meta_description=meta,
        keywords=post.get("keywords") or [],
    )


def _translation(t: Translator, seo: Seo, body: str, glossary: list[dict[str, Any]]) -> Translation:
    t.used = {}
    title, meta, text = t.segment(seo.title), t.segment(seo.meta_description), t.paragraphs(body)
    used = t.used
    hits = {(h["term"], h["rendering"]): h for e in used.values() for h in e.get("hits", [])}
    return Translation(
        title=title,
        body=text,
        meta_description=meta,
        score=round(min(e["score"] for e in used.values()), 4),
        agreement=round(min(e["agreement"] for e in used.values()), 4),
        candidates=len(CANDIDATES),
        selected=Counter(e["selected"] for e in used.values()).most_common(1)[0][0],
        glossary_hits=[
            {"term": term, "rendering": r, "ok": r in f"{title} {meta} {text}"}
            for term, r in sorted(hits)
        ],
        segments={
            k: [
                v["score"],
                v["agreement"],
                v["selected"],
                [[h["term"], h["rendering"]] for h in v.get("hits", [])],
            ]
            for k, v in sorted(used.items())
        },
    )


def _known(previous: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    """What the ledger's current version translated: source segment sha -> its translation
    (the aligned title, meta description and paragraphs) with its recorded scores."""
    translation = ((previous or {}).get("translations") or {}).get(lang) or {}
    seo, source = (previous or {}).get("seo") or {}, (previous or {}).get("source") or {}
    pairs = [
        (seo.get("title", ""), translation.get("title", "")),
        (seo.get("meta_description", ""), translation.get("meta_description", "")),
        *zip(
            str(source.get("body", "")).split("\n\n"),
            str(translation.get("body", "")).split("\n\n"),
            strict=False,
        ),
    ]
    recorded = translation.get("segments") or {}
    out = {}
    for text, translated in pairs:
        entry = recorded.get(_sha(text))
        if text and entry:
            score, agreement, selected, hits = entry
            out[_sha(text)] = {
                "text": translated, "score": score, "agreement": agreement,
                "selected": selected,
                "hits": [{"term": t, "rendering": r} for t, r in hits],
            }  # fmt: skip
    return out


def _versioned(previous: dict[str, Any] | None, sha: str) -> int:
    current = int((previous or {}).get("version") or 0)
    same = (previous or {}).get("content_sha256") == sha
    return current if same and current else current + 1


def _post(
    steps: Steps, post: dict[str, Any], languages: list[str], glossary: list[dict[str, Any]]
) -> PostContent:
    previous = steps.entity(post_key(post["post_id"]))
    seo = _seo(post)
    translations = {
        lang: _translation(Translator(steps, lang, glossary, _known(previous, lang)), seo,
                           post["body"], glossary)
        for lang in languages
    }  # fmt: skip
    draft = PostContent(
        post_id=post["post_id"],
        version=1,
        content_sha256=PLACEHOLDER,
        source={"title": post["title"], "body": post["body"]},
        seo=seo,
        translations=translations,
    )
    sha = digest_of(draft.content())
    return draft.model_copy(update={"content_sha256": sha, "version": _versioned(previous, sha)})


def _edition(
    steps: Steps, data: dict[str, Any], posts: list[PostContent], glossary: list[dict[str, Any]]
) -> EditionContent:
    previous = steps.entity(edition_key(data["edition_id"]))
    intro = {SOURCE_LANG: data["intro"]}
    for lang in data["languages"]:
        known = {}
        old = (previous or {}).get("intro") or {}
        if old.get(SOURCE_LANG) == data["intro"] and lang in old:
            known = {_sha(p): {"text": t, "score": 1.0, "agreement": 1.0, "selected": "ledger"}
                     for p, t in zip(data["intro"].split("\n\n"), old[lang].split("\n\n"),
                                     strict=False)}  # fmt: skip
        intro[lang] = Translator(steps, lang, glossary, known).paragraphs(data["intro"])
    draft = EditionContent(
        edition_id=data["edition_id"],
        version=1,
        content_sha256=PLACEHOLDER,
        title=data["title"],
        intro=intro,
        posts=[p.post_id for p in posts],
    )
    sha = digest_of(draft.content())
    return draft.model_copy(update={"content_sha256": sha, "version": _versioned(previous, sha)})


def plan(case: dict[str, Any], steps: Steps) -> dict[str, Any]:
    """Translate, check, version; propose staging (automatic) and publishing (approved)."""
    data = case["input"]
    glossary = glossary_terms(steps)
    posts = [_post(steps, p, data["languages"], glossary) for p in data["posts"]]
    edition = _edition(steps, data, posts, glossary)
    changed = [p.post_id for p in posts]
    return {
        "summary": (
            f"edition {edition.edition_id} v{edition.version}: {len(posts)} post(s) in "
            f"{', '.join(data['languages'])}; stage, then publish to "
            f"{', '.join(data['platforms'])} after approval"
        ),
        "actions": [
            {
                "capability": "content.stage",
                "params": {
                    "edition": edition.model_dump(mode="json"),
                    "posts": [p.model_dump(mode="json") for p in posts],
                },
                "reason": "The content ledger holds every version before anything is published.",
            },
            {
                "capability": "content.publish",
                "params": {
                    "edition_id": edition.edition_id,
                    "edition_version": edition.version,
                    "edition_sha256": edition.content_sha256,
                    "posts": [
                        {
                            "post_id": p.post_id,
                            "version": p.version,
                            "content_sha256": p.content_sha256,
                        }
                        for p in posts
                    ],
                    "platforms": data["platforms"],
                },
                "reason": f"Publish {', '.join(changed)} exactly as staged and previewed.",
            },
        ],
    }

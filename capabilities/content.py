"""The content ledger and publishing: `content.stage` and `content.publish`.

The ledger is the one truth of a newsletter edition and its posts. Each is a canonical entity
(`edition#<id>`, `post#<id>`, tenant-scoped) holding its current content version — source
text, SEO fields (title, slug, meta description, keywords), one translation per language with
its selection score and glossary hits — the digest of that content, the history of versions
(digest, case, time); each publication is a record of its own,
`publication#<item>#<platform>` (version, remote id, time, history). The
outside tools (blog CMS, newsletter service, social channel) get copies; nothing is read back
from them as truth except whether they already hold a publication.

- `content.stage` (low risk) writes the staged versions into the ledger, inside the
  transaction that records the action applied. A post whose content digest did not change
  keeps its version; a changed one must be exactly one version newer than the ledger's.
- `content.publish` (high risk: the policy sends it to a person) publishes the versions the
  approver saw — its params name every post's version and content digest, so the approval,
  bound to the action's digest, is bound to exactly what will be published. It refuses when
  the staged content is not that. Each publication happens at most once per (item, platform,
  version): a platform the ledger records at that version is skipped; otherwise the platform
  is asked first whether it holds the item (by `external_id`), so a publish that timed out
  after the platform stored it is found, not repeated; an older version is updated in place
  (`PUT`), never posted again. The publication records land in the ledger with the action.

The platforms' APIs (any with this shape will do), each with `Authorization: Bearer <token>`:

    GET  {url}/{collection}?external_id=X   -> {"items": [{"id", "external_id", "version", ...}]}
    POST {url}/{collection}                 -> the new item with its "id"
    PUT  {url}/{collection}/{id}            -> the updated item

collections: `posts` (blog), `campaigns` (newsletter, one per edition), `statuses` (social).
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from aios.capabilities import ActionContext, Capability, Risk
from aios.errors import RetryableActionError, TerminalActionError
from aios.ledger import get_entity, stage_entity_write
from aios.tenants import scoped_entity_key
from pydantic import BaseModel, ConfigDict, Field, field_validator

Platform = Literal["blog", "newsletter", "social"]
COLLECTIONS: dict[str, str] = {"blog": "posts", "newsletter": "campaigns", "social": "statuses"}
RETRYABLE = frozenset({408, 425, 429})
MAX_RESPONSE_BYTES = 256 * 1024
LANG = r"^[a-z]{2}(-[A-Z]{2})?$"
ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
SHA = r"^[0-9a-f]{64}$"


def digest_of(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a content version (what versions and approvals bind)."""
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def post_key(post_id: str) -> str:
    return f"post#{post_id}"


def edition_key(edition_id: str) -> str:
    return f"edition#{edition_id}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Seo(Strict):
    title: str = Field(min_length=1, max_length=70)
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)
    meta_description: str = Field(min_length=1, max_length=160)
    keywords: list[str] = Field(max_length=12)


class GlossaryHit(Strict):
    term: str
    rendering: str
    ok: bool


class Translation(Strict):
    title: str
    body: str
    meta_description: str
    score: float = Field(ge=0, le=1)
    """The selection step's score of the chosen candidate (judge, with the agreement)."""
    agreement: float = Field(ge=0, le=1)
    candidates: int = Field(ge=1)
    selected: str
    """Which candidate won: its prompt and model tier."""
    glossary_hits: list[GlossaryHit] = Field(default_factory=list)
    segments: dict[str, list[Any]] = Field(default_factory=dict)
    """Source segment SHA-256 (16 hex) -> [score, agreement, chosen candidate, glossary hits]
    of its translation, which is the aligned paragraph (title, meta description, body): a
    segment that recurs is reused from here without asking a model."""


class PostContent(Strict):
    post_id: str = Field(pattern=ID)
    version: int = Field(ge=1)
    content_sha256: str = Field(pattern=SHA)
    source: dict[str, str]
    seo: Seo
    translations: dict[str, Translation]

    def content(self) -> dict[str, Any]:
        """What the version's digest covers: everything but the version bookkeeping."""
        return self.model_dump(mode="json", exclude={"post_id", "version", "content_sha256"})


class EditionContent(Strict):
    edition_id: str = Field(pattern=ID)
    version: int = Field(ge=1)
    content_sha256: str = Field(pattern=SHA)
    title: str = Field(min_length=1, max_length=200)
    intro: dict[str, str]
    """Language ("en" the source) -> the edition's intro and sign-off, translated."""
    posts: list[str] = Field(min_length=1, max_length=20)

    def content(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"edition_id", "version", "content_sha256"})


def _distinct(posts: list[Any]) -> list[Any]:
    ids = [p.post_id for p in posts]
    if len(set(ids)) != len(ids):
        raise ValueError("each post may appear once")
    return posts


class StageParams(Strict):
    edition: EditionContent
    posts: list[PostContent] = Field(min_length=1, max_length=20)

    _distinct_posts = field_validator("posts")(_distinct)


class PublishedRef(Strict):
    post_id: str = Field(pattern=ID)
    version: int = Field(ge=1)
    content_sha256: str = Field(pattern=SHA)


class PublishParams(Strict):
    edition_id: str = Field(pattern=ID)
    edition_version: int = Field(ge=1)
    edition_sha256: str = Field(pattern=SHA)
    posts: list[PublishedRef] = Field(min_length=1, max_length=20)
    platforms: list[Platform] = Field(min_length=1, max_length=3)

    _distinct_posts = field_validator("posts")(_distinct)


class ContentConfig(Strict):
    """`capability_config["content.publish"]`: the platforms' API bases (https)."""

    blog_url: str = "https://blog.example.com/api"
    newsletter_url: str = "https://newsletter.example.com/api"
    social_url: str = "https://social.example.com/api"
    timeout_seconds: float = Field(default=5.0, gt=0, le=20)

    @field_validator("blog_url", "newsletter_url", "social_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if not (parts.scheme == "https" and parts.hostname) and not loopback:
            raise ValueError("must be an https URL (http only on loopback, for local runs)")
        return value.rstrip("/")


def _now() -> str:
    return datetime.now(UTC).isoformat()


# -- content.stage ---------------------------------------------------------------------------


def _staged(
    ctx: ActionContext, key: str, item: PostContent | EditionContent
) -> tuple[list[Any], dict[str, Any]]:
    """The write of one staged version (none when the ledger holds it already)."""
    if digest_of(item.content()) != item.content_sha256:
        raise TerminalActionError(f"{key}: the content does not match its digest")
    scoped = scoped_entity_key(ctx.tenant, key)
    entity = get_entity(scoped)
    state = dict(entity.state) if entity else {}
    current = int(state.get("version") or 0)
    summary: dict[str, Any] = {"key": key, "version": item.version}
    if isinstance(item, PostContent):
        summary["translations"] = {
            lang: f"score {t.score}, agreement {t.agreement}, glossary "
            f"{sum(h.ok for h in t.glossary_hits)}/{len(t.glossary_hits)}"
            for lang, t in sorted(item.translations.items())
        }
    if current == item.version and state.get("content_sha256") == item.content_sha256:
        return [], {**summary, "effect": "unchanged"}
    if item.version != current + 1:
        raise TerminalActionError(
            f"{key} is at version {current}; the plan staged version {item.version}"
        )
    history = [
        *state.get("versions", []),
        {"version": item.version, "content_sha256": item.content_sha256,
         "case_id": ctx.case_id, "at": _now()},
    ]  # fmt: skip
    new_state = {**item.model_dump(mode="json"), "versions": history[-50:]}
    op = stage_entity_write(
        scoped, new_state, version=entity.version if entity else 0, action_id=ctx.action_id
    )
    return [op], {**summary, "effect": "staged"}


def stage_content(params: StageParams, ctx: ActionContext) -> tuple[list[Any], dict[str, Any]]:
    """Stage the edition's and each post's version in the content ledger (one transaction)."""
    ops: list[Any] = []
    results = []
    for post in params.posts:
        staged, result = _staged(ctx, post_key(post.post_id), post)
        ops += staged
        results.append(result)
    staged, result = _staged(ctx, edition_key(params.edition.edition_id), params.edition)
    return [*ops, *staged], {"staged": [*results, result]}


def _not_direct(params: BaseModel, ctx: ActionContext) -> dict[str, Any]:
    raise TerminalActionError("content capabilities apply inside the ledger transaction")


# -- content.publish -------------------------------------------------------------------------


def _call(
    ctx: ActionContext, platform: str, method: str, path: str, body: dict[str, Any] | None
) -> dict[str, Any]:
    config = ctx.config(ContentConfig)
    base = {"blog": config.blog_url, "newsletter": config.newsletter_url}.get(
        platform, config.social_url
    )
    headers = {
        "Authorization": f"Bearer {ctx.secret(f'{platform}_token')}",
        "Accept": "application/json",
    }
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)  # noqa: S310 (base URL from deploy-time config, https)
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_seconds) as resp:  # noqa: S310
            raw = resp.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        message = f"{platform} answered HTTP {exc.code} to {method} {path.split('?')[0]}"
        if exc.code in RETRYABLE or exc.code >= 500:
            raise RetryableActionError(message, status=exc.code) from exc
        raise TerminalActionError(message, status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableActionError(f"{platform} unreachable: {exc}") from exc
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise TerminalActionError(f"{platform} answered something that is not JSON") from exc
    return payload if isinstance(payload, dict) else {}


def publish_once(
    ctx: ActionContext, platform: str, external_id: str, version: int, payload: dict[str, Any]
) -> dict[str, Any]:
    """Publish `external_id` at `version` on `platform` at most once: found, updated or created."""
    collection = COLLECTIONS[platform]
    query = urlencode({"external_id": external_id})
    found = _call(ctx, platform, "GET", f"/{collection}?{query}", None).get("items") or []
    body = {**payload, "external_id": external_id, "version": version}
    for item in found:
        if int(item.get("version") or 0) == version:
            return {"remote_id": str(item["id"]), "effect": "found"}
    if found:
        remote = str(found[-1]["id"])
        _call(ctx, platform, "PUT", f"/{collection}/{quote(remote, safe='')}", body)
        return {"remote_id": remote, "effect": "updated"}
    created = _call(ctx, platform, "POST", f"/{collection}", body)
    return {"remote_id": str(created.get("id", "")), "effect": "created"}


def _payloads(
    params: PublishParams, posts: dict[str, dict[str, Any]], edition: dict[str, Any]
) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    """(entity key, platform, external id, version, payload) of every publication asked for."""
    out: list[tuple[str, str, str, int, dict[str, Any]]] = []
    for ref in params.posts:
        post = posts[ref.post_id]
        seo = post["seo"]
        langs = {
            lang: {
                "title": t["title"],
                "body": t["body"],
                "meta_description": t["meta_description"],
            }
            for lang, t in sorted(post["translations"].items())
        }
        if "blog" in params.platforms:
            blog = {**seo, "body": post["source"]["body"], "translations": langs}
            out.append((post_key(ref.post_id), "blog", ref.post_id, ref.version, blog))
        if "social" in params.platforms:
            text = f"{seo['title']} https://blog.example.com/{seo['slug']}"
            social = {"text": text, "languages": sorted(langs)}
            out.append((post_key(ref.post_id), "social", ref.post_id, ref.version, social))
    if "newsletter" in params.platforms:
        sections = [
            {"post_id": r.post_id, "title": posts[r.post_id]["seo"]["title"]} for r in params.posts
        ]
        letter = {"subject": edition["title"], "intro": edition["intro"], "sections": sections}
        out.append(
            (
                edition_key(params.edition_id),
                "newsletter",
                params.edition_id,
                params.edition_version,
                letter,
            )
        )
    return out


def _approved_content(
    params: PublishParams, ctx: ActionContext
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The ledger's entities, each checked to hold exactly the version the approver saw."""
    entities: dict[str, Any] = {}
    wanted = [(edition_key(params.edition_id), params.edition_version, params.edition_sha256)]
    wanted += [(post_key(r.post_id), r.version, r.content_sha256) for r in params.posts]
    for key, version, sha in wanted:
        entity = get_entity(scoped_entity_key(ctx.tenant, key))
        state = entity.state if entity else {}
        if state.get("version") != version or state.get("content_sha256") != sha:
            raise TerminalActionError(
                f"{key}: the ledger does not hold version {version} with the approved digest"
            )
        entities[key] = entity
    return entities, {r.post_id: entities[post_key(r.post_id)].state for r in params.posts}


def publication_key(item_key: str, platform: str) -> str:
    """The ledger entity of one item's publication record on one platform."""
    return f"publication#{item_key}#{platform}"


def publication(tenant: str, item_key: str, platform: str) -> dict[str, Any]:
    """The publication record of an item on a platform ({} when never published)."""
    entity = get_entity(scoped_entity_key(tenant, publication_key(item_key, platform)))
    return dict(entity.state) if entity else {}


def publish_content(params: PublishParams, ctx: ActionContext) -> tuple[list[Any], dict[str, Any]]:
    """Publish the approved versions once per (item, platform, version); record each."""
    entities, posts = _approved_content(params, ctx)
    edition = entities[edition_key(params.edition_id)].state
    ops: list[Any] = []
    published = []
    for key, platform, external_id, version, payload in _payloads(params, posts, edition):
        scoped = scoped_entity_key(ctx.tenant, publication_key(key, platform))
        entity = get_entity(scoped)
        record = dict(entity.state) if entity else {}
        if int(record.get("version") or 0) >= version:
            published.append({"item": key, "platform": platform, "version": version,
                              "remote_id": record.get("remote_id"), "effect": "recorded"})  # fmt: skip
            continue
        outcome = publish_once(ctx, platform, external_id, version, payload)
        state = {
            "item": key, "platform": platform, "version": version,
            "remote_id": outcome["remote_id"], "at": _now(), "case_id": ctx.case_id,
            "history": [*record.get("history", []), {"version": version, "at": _now(),
                                                      "effect": outcome["effect"]}][-50:],
        }  # fmt: skip
        ops.append(
            stage_entity_write(
                scoped, state, version=entity.version if entity else 0, action_id=ctx.action_id
            )
        )
        published.append({"item": key, "platform": platform, "version": version, **outcome})
    return ops, {"published": published}


def preview_publication(params: PublishParams, tenant: str) -> list[dict[str, Any]]:
    """The approval page's preview: the staged source and every translation side by side, with
    the SEO fields, the selection scores and the glossary hits, each version checked against
    the digest the approval binds, and what each platform holds now."""

    def state(key: str) -> dict[str, Any]:
        entity = get_entity(scoped_entity_key(tenant, key))
        return dict(entity.state) if entity else {}

    def check(s: dict[str, Any], version: int, sha: str) -> str:
        same = s.get("version") == version and s.get("content_sha256") == sha
        return "matches the approved digest" if same else "DOES NOT MATCH the approved digest"

    edition = state(edition_key(params.edition_id))
    langs = sorted({lang for r in params.posts for lang in state(post_key(r.post_id)).get(
        "translations", {})})  # fmt: skip
    intro = edition.get("intro") or {}
    tables = [
        {
            "title": f"Edition {params.edition_id} v{params.edition_version}: "
            f"{check(edition, params.edition_version, params.edition_sha256)}",
            "columns": ["field", "en", *langs],
            "rows": [
                ["title", edition.get("title", ""), *["" for _ in langs]],
                ["intro", intro.get("en", ""), *[intro.get(lang, "") for lang in langs]],
            ],
        }
    ]
    publications = []
    for ref in params.posts:
        post = state(post_key(ref.post_id))
        seo, tr = post.get("seo") or {}, post.get("translations") or {}
        t = [tr.get(lang, {}) for lang in langs]
        tables.append(
            {
                "title": f"Post {ref.post_id} v{ref.version}: "
                f"{check(post, ref.version, ref.content_sha256)}",
                "columns": ["field", "en (source)", *langs],
                "rows": [
                    ["title", seo.get("title", ""), *[x.get("title", "") for x in t]],
                    ["slug", seo.get("slug", ""), *["" for _ in t]],
                    ["meta description", seo.get("meta_description", ""),
                     *[x.get("meta_description", "") for x in t]],
                    ["keywords", ", ".join(seo.get("keywords", [])), *["" for _ in t]],
                    ["body", (post.get("source") or {}).get("body", ""),
                     *[x.get("body", "") for x in t]],
                    ["selection", "", *[f"score {x.get('score')}, agreement "
                                        f"{x.get('agreement')}, {x.get('candidates')} candidates, "
                                        f"chose {x.get('selected')}" for x in t]],
                    ["glossary hits", "", *["; ".join(
                        f"{h['term']} -> {h['rendering']} {'ok' if h['ok'] else 'MISSING'}"
                        for h in x.get("glossary_hits", [])) for x in t]],
                ],
            }
        )  # fmt: skip
        for platform in params.platforms:
            if platform == "newsletter":
                continue
            record = publication(tenant, post_key(ref.post_id), platform)
            publications.append([ref.post_id, platform, str(record.get("version", "none")),
                                 str(ref.version)])  # fmt: skip
    if "newsletter" in params.platforms:
        record = publication(tenant, edition_key(params.edition_id), "newsletter")
        publications.append([params.edition_id, "newsletter", str(record.get("version", "none")),
                             str(params.edition_version)])  # fmt: skip
    tables.append(
        {
            "title": "Publications",
            "columns": ["item", "platform", "published version now", "will publish version"],
            "rows": publications,
        }
    )
    return tables


CAPABILITIES = [
    Capability(
        name="content.stage",
        params_model=StageParams,
        risk=Risk.LOW,
        execute=_not_direct,
        stage=stage_content,
        description="Stage an edition's and its posts' new versions in the content ledger.",
    ),
    Capability(
        name="content.publish",
        params_model=PublishParams,
        risk=Risk.HIGH,
        execute=_not_direct,
        stage=publish_content,
        secrets=("blog_token", "newsletter_token", "social_token"),
        config_model=ContentConfig,
        preview=preview_publication,
        description="Publish approved versions to the blog, the newsletter and the social "
        "channel, once per item, platform and version.",
    ),
]

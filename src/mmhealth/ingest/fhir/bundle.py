"""FHIR Bundles (transaction, batch, collection, searchset, ...) to the resources they carry.

Synthea-style transaction Bundles point at each other with `urn:uuid:` fullUrls; in the lake those references
become `Type/id`, as they would after a FHIR server processed the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from mmhealth.ingest.fhir.depth import MAX_DEPTH, too_deep_reason

URN_PREFIXES = ("urn:uuid:", "urn:oid:")


@dataclass(frozen=True)
class BundleEntry:
    position: str  # "entry 3" (0-based index in Bundle.entry)
    resource: dict | None
    problem: str | None  # why the entry cannot be loaded, or None


def reference_map(bundle: dict) -> dict[str, str]:
    """fullUrl (`urn:uuid:...`) -> `Type/id` for every entry whose resource has a type and an id."""
    refs: dict[str, str] = {}
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        full_url = entry.get("fullUrl")
        resource = entry.get("resource")
        if not isinstance(full_url, str) or not isinstance(resource, dict):
            continue
        rtype = resource.get("resourceType")
        rid = resource.get("id") or _id_from_urn(full_url)
        if isinstance(rtype, str) and isinstance(rid, str):
            refs[full_url] = f"{rtype}/{rid}"
    return refs


def _id_from_urn(full_url: str) -> str | None:
    # A transaction entry may omit the id and name itself only by fullUrl; the server would assign one, and
    # the uuid is the natural choice (HealthLake keeps it too).
    if full_url.startswith("urn:uuid:"):
        return full_url[len("urn:uuid:"):]
    return None


def resolve_references(node: Any, refs: dict[str, str]) -> int:
    """Replace `reference` values found in `refs`, at any depth, in place; returns how deep `node` nests (the
    resource object is level 1). Iterative: a resource may nest deeper than Python's recursion limit."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in children:
            if isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
            elif key == "reference" and isinstance(value, str) and value in refs and isinstance(item, dict):
                item[key] = refs[value]
    return deepest


def entries(bundle: dict, problems: dict[int, str] | None = None) -> Iterator[BundleEntry]:
    """The bundle's entries with references resolved; entries that cannot be loaded carry a `problem`.
    `problems` names entries already known to be unloadable (by index), e.g. ones too deep to parse."""
    problems = problems or {}
    refs = reference_map(bundle)
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        yield BundleEntry("entry", None, "malformed-bundle: Bundle.entry is not a list")
        return
    for i, entry in enumerate(raw_entries):
        position = f"entry {i}"
        if i in problems:
            yield BundleEntry(position, None, problems[i])
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            yield BundleEntry(position, None, "bundle-entry-without-resource")
            continue
        resource = entry["resource"]
        if not resource.get("id") and isinstance(entry.get("fullUrl"), str):
            urn_id = _id_from_urn(entry["fullUrl"])
            if urn_id:
                resource["id"] = urn_id
        depth = resolve_references(resource, refs)
        if depth > MAX_DEPTH:
            yield BundleEntry(position, None, too_deep_reason(depth))
            continue
        yield BundleEntry(position, resource, None)

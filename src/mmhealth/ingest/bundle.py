"""FHIR Bundles (transaction, batch, collection, searchset, ...) to the resources they carry.

Synthea-style transaction Bundles point at each other with `urn:uuid:` fullUrls; in the lake those references
become `Type/id`, as they would after a FHIR server processed the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

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


def resolve_references(node: Any, refs: dict[str, str]) -> Any:
    """Replace `reference` values found in `refs`, at any depth, in place; returns `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                if value in refs:
                    node[key] = refs[value]
            elif isinstance(value, (dict, list)):
                resolve_references(value, refs)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                resolve_references(item, refs)
    return node


def entries(bundle: dict) -> Iterator[BundleEntry]:
    """The bundle's entries with references resolved; entries that cannot be loaded carry a `problem`."""
    refs = reference_map(bundle)
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        yield BundleEntry("entry", None, "malformed-bundle: Bundle.entry is not a list")
        return
    for i, entry in enumerate(raw_entries):
        position = f"entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            yield BundleEntry(position, None, "bundle-entry-without-resource")
            continue
        resource = entry["resource"]
        if not resource.get("id") and isinstance(entry.get("fullUrl"), str):
            urn_id = _id_from_urn(entry["fullUrl"])
            if urn_id:
                resource["id"] = urn_id
        yield BundleEntry(position, resolve_references(resource, refs), None)

"""``zarrlake repo list|create|delete|info``: repos as a whole."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._common import CommandError, Context, Groups, add_yes


def register(g: Groups) -> None:
    sub = g.group("repo", "list, create, delete and inspect repos")
    p = g.command(sub, "list", list_repos, "list the repos of an org (without ORG: of every org, local roots)", True)
    p.add_argument("org", nargs="?", metavar="ORG")
    p = g.command(sub, "create", create_repo, "create a repo")
    p.add_argument("name", metavar="NAME", help="org/name")
    p = g.command(sub, "delete", delete_repo, "delete a repo and all its data (asks first)")
    p.add_argument("name", metavar="NAME", help="org/name")
    add_yes(p)
    p = g.command(sub, "info", repo_info, "location, format, size on disk, and counts of a repo", True)
    p.add_argument("name", metavar="NAME", help="org/name")


def _orgs(root: str) -> list[str]:
    """Org directories under a local root (object storage has no cheap listing of them)."""
    from .._names import validate_repo_name
    from ..errors import InvalidNameError

    if "://" in root:
        raise CommandError(f"give an ORG: listing every org needs a local root, not {root}")
    path = Path(root)
    if not path.is_dir():
        return []
    orgs = []
    for d in sorted(path.iterdir()):
        try:
            validate_repo_name(f"{d.name}/xx")
        except InvalidNameError:
            continue
        if d.is_dir():
            orgs.append(d.name)
    return orgs


def list_repos(ctx: Context) -> None:
    client = ctx.client()
    org = ctx.args.org
    names = client.list_repos(org) if org else [n for o in _orgs(client.root) for n in client.list_repos(o)]
    if ctx.json:
        ctx.print_json(names)
    elif not names:
        ctx.say(f"no repos in org '{org}'" if org else f"no repos in {client.root}")
    else:
        for n in names:
            ctx.line(n, style="cyan")


def create_repo(ctx: Context) -> None:
    repo = ctx.client().create_repo(ctx.args.name)
    ctx.say(f"created repo {ctx.args.name} at {repo._core.native.location}")


def delete_repo(ctx: Context) -> None:
    name = ctx.args.name
    location = ctx.repo(name)._core.native.location  # RepoNotFoundError before asking
    ctx.confirm(f"Delete repo {name} at {location} and all its data?", f"delete repo {name}")
    ctx.client().delete_repo(name, imsure=True, imreallysure=True)
    ctx.say(f"deleted repo {name}")


def _local_path(location: str | None) -> Path | None:
    if not location:
        return None
    if location.startswith("file://"):
        return Path(location.removeprefix("file://"))
    return None if "://" in location else Path(location)


def _disk_usage(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``."""
    size = files = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                size += os.lstat(os.path.join(dirpath, n)).st_size
                files += 1
            except OSError:  # removed meanwhile (a commit cleaning up)
                pass
    return size, files


def info(repo: Any) -> dict[str, Any]:
    """What ``repo info`` shows, as JSON values."""
    native = repo._core.native
    config = native.config()
    branches = [(n, c) for n, c in native.branches()]
    tags = [(n, c) for n, c in native.tags()]
    starts = [c for _, c in branches + tags if c is not None]
    commits = len(native.commit_graph(starts)) if starts else 0
    out: dict[str, Any] = {
        "name": repo.repo_name,
        "location": native.location,
        "chunk_location": config.get("chunk_location") or native.location,
        "format_version": config.get("format_version"),
        "hash_method": config.get("hash_method"),
        "inline_threshold": config.get("inline_threshold"),
        "virtual_prefixes": list(config.get("virtual_prefixes") or []),
        "size_bytes": None,
        "files": None,
        "branches": len(branches),
        "tags": len(tags),
        "commits": commits,
        "active_sessions": len(repo.list_active_sessions()),
    }
    local = [p for p in {_local_path(native.location), _local_path(config.get("chunk_location"))} if p is not None]
    if local and _local_path(native.location) is not None:
        usage = [_disk_usage(p) for p in local]
        out["size_bytes"] = sum(u[0] for u in usage)
        out["files"] = sum(u[1] for u in usage)
    return out


def repo_info(ctx: Context) -> None:
    d = info(ctx.repo(ctx.args.name))
    if ctx.json:
        ctx.print_json(d)
        return
    from .._display import human_bytes, plural

    size = "unknown (object storage)"
    if d["size_bytes"] is not None:
        size = f"{human_bytes(d['size_bytes'])} in {plural(d['files'], 'file')}"
    fields = [
        ("repo", d["name"]),
        ("location", d["location"]),
        *([("chunks", d["chunk_location"])] if d["chunk_location"] != d["location"] else []),
        ("format", f"version {d['format_version']}, {d['hash_method']} hashes, inline below {d['inline_threshold']} B"),
        ("size", size),
        ("branches", str(d["branches"])),
        ("tags", str(d["tags"])),
        ("commits", str(d["commits"])),
        ("sessions", f"{d['active_sessions']} active"),
    ]
    if d["virtual_prefixes"]:
        fields.append(("virtual", ", ".join(d["virtual_prefixes"])))
    ctx.fields(fields)

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks Switchyard's layering: every #include between parts follows an arrow of
docs/architecture.md. Prints each forbidden include as file:line and exits 1 when there is one.

Usage: scripts/check_layering.py [ROOT]   (ROOT: the checkout, default: this script's parent)

A file belongs to the part named by its folder (include/switchyard/<part>/..., with the part's own
detail/ folder) or by its name (src/<part>.cpp or src/<part>_<thing>.cpp). The shared include/switchyard/detail/ folder and
version.hpp belong to core. The umbrella switchyard.hpp may include every part.
"""
import pathlib
import re
import sys

# part -> the parts it may include (itself always allowed). Keep in step with docs/architecture.md.
ALLOWED = {
    "core": set(),
    "stats": {"core"},
    "models": {"core"},
    "monitoring": {"core"},
    "registry": {"models", "core"},
    "serving": {"registry", "monitoring", "core"},
    "shadow": {"serving", "monitoring", "stats", "core"},
    "drift": {"registry", "monitoring", "stats", "core"},
    "rollout": {"serving", "registry", "monitoring", "stats", "core"},
    "host": {"rollout", "shadow", "drift", "serving", "registry", "monitoring", "models", "stats",
             "core"},
}
PARTS = set(ALLOWED)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](switchyard/[^>"]+)[>"]')


def part_of_header(rel):
    """The part of a path under include/, e.g. switchyard/serving/deployment.hpp -> serving."""
    pieces = rel.split("/")
    if len(pieces) < 2 or pieces[0] != "switchyard":
        return None
    if len(pieces) == 2:  # switchyard/version.hpp, switchyard/switchyard.hpp
        return "umbrella" if pieces[1] == "switchyard.hpp" else "core"
    if pieces[1] == "detail":
        return "core"
    return pieces[1] if pieces[1] in PARTS else "unknown:" + pieces[1]


def sources(root):
    for path in sorted((root / "include").rglob("*.hpp")):
        yield path, part_of_header(path.relative_to(root / "include").as_posix())
    for path in sorted((root / "src").glob("*.cpp")):
        part = path.stem.split("_", 1)[0]  # src/rollout_plan.cpp belongs to rollout
        yield path, part if part in PARTS else "unknown:" + path.stem


def violations(root):
    found = []
    for path, part in sources(root):
        rel = path.relative_to(root).as_posix()
        if part is not None and part.startswith("unknown:"):
            found.append(f"{rel}:1: '{part[8:]}' is not a part of docs/architecture.md")
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = part_of_header(m.group(1))
            if part == "umbrella" or target == part:
                continue
            if target == "umbrella":
                found.append(f"{rel}:{number}: {part} includes the umbrella header")
            elif target is None or target.startswith("unknown:"):
                found.append(f"{rel}:{number}: {m.group(1)} is in no part")
            elif target not in ALLOWED[part]:
                found.append(f"{rel}:{number}: {part} may not include {target} "
                             f"(<{m.group(1)}>); {part} may include: "
                             f"{', '.join(sorted(ALLOWED[part])) or 'nothing above it'}")
    return found


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
    found = violations(root.resolve())
    for v in found:
        print(v)
    if found:
        print(f"check_layering: {len(found)} forbidden include(s); see docs/architecture.md")
        return 1
    print("check_layering: every include follows an arrow of docs/architecture.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

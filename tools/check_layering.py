#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer it may not depend on.

The allowed dependencies mirror src/CMakeLists.txt: a layer sees itself and the layers below.
"""
import pathlib
import re
import sys

# layer folder (relative to src/) -> include prefixes it may use
ALLOWED = {
    "core": ["core/"],
    "net/ws": ["core/", "net/ws/"],
    "net": ["core/", "net/"],
    "eio/proto": ["core/", "net/ws/", "eio/proto/"],
    "eio": ["core/", "net/", "eio/"],
    "sio/proto": ["core/", "sio/proto/"],
    "sio": ["core/", "net/", "eio/", "sio/"],
    "adapter/memory": ["core/", "sio/", "adapter/memory/"],
    "app": ["core/", "sio/", "redis/", "app/"],
    "server": ["core/", "net/", "eio/", "sio/", "adapter/", "redis/", "app/", "server/"],
    "redis": ["core/", "redis/"],
    "adapter/redis": ["core/", "redis/", "sio/", "adapter/"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def layer_of(relative: str) -> str:
    # The longest matching layer folder wins (net/ws before net).
    matches = [layer for layer in ALLOWED if relative.startswith(layer + "/")]
    return max(matches, key=len) if matches else ""


def main() -> int:
    src = pathlib.Path(__file__).resolve().parent.parent / "src"
    problems = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        relative = path.relative_to(src).as_posix()
        layer = layer_of(relative)
        if not layer:
            continue
        for included in INCLUDE.findall(path.read_text(encoding="utf-8")):
            if not any(included.startswith(prefix) for prefix in ALLOWED[layer]):
                problems.append(f"src/{relative}: layer '{layer}' may not include \"{included}\"")
    for problem in problems:
        print(problem)
    if not problems:
        print("layering ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

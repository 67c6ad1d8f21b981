"""Copy the built files of the front-end packages (package.json, installed by ``npm ci``) to
``coordinator/static/vendor/``, which git ignores: no CDN, and nothing vendored by hand.

    python -m coordinator.tools.vendor_assets [NODE_MODULES] [STATIC_VENDOR]

DKFDS' stylesheet refers to its fonts and images by relative paths, so its ``dist`` layout is kept.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# package -> (files or folders under the package, folder under static/vendor)
PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "dkfds": (("dist/css", "dist/js", "dist/fonts", "dist/img", "dist/LICENSE.md"), "dkfds"),
    "htmx.org": (("dist/htmx.min.js", "LICENSE"), "htmx"),
    "swagger-ui-dist": (
        (
            "swagger-ui.css",
            "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js",
            "favicon-32x32.png",
            "LICENSE",
        ),
        "swagger-ui",
    ),
}


def copy_assets(node_modules: Path, vendor: Path) -> list[Path]:
    copied: list[Path] = []
    for package, (parts, folder) in PARTS.items():
        source_root = node_modules / package
        if not source_root.is_dir():
            raise SystemExit(f"{source_root} is missing: run `npm ci` first (make assets does)")
        target_root = vendor / folder
        if target_root.exists():
            shutil.rmtree(target_root)
        for part in parts:
            source = source_root / part
            target = target_root / Path(part).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.map"))
            else:
                shutil.copy2(source, target)
            copied.append(target)
    return copied


def main(argv: list[str]) -> int:
    node_modules = Path(argv[0]) if argv else ROOT / "node_modules"
    vendor = Path(argv[1]) if len(argv) > 1 else ROOT / "coordinator" / "static" / "vendor"
    copied = copy_assets(node_modules, vendor)
    print(f"copied {len(copied)} front-end files and folders to {vendor}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Write docs/rules/: one Markdown page per rule, rendered from the rule classes
(vaelint/report/rule_pages.py). Run after changing a rule's documentation:

    python scripts/rule_pages.py

tests/test_rule_pages.py fails while the pages in the repository differ.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    from vaelint.rules import all_rules

    from vaelint.report.rule_pages import PAGES_FOLDER, all_pages

    pages = all_pages(all_rules())
    folder = os.path.join(ROOT, PAGES_FOLDER)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):  # a page of a rule that is gone goes too
        if name.endswith(".md") and f"{PAGES_FOLDER}/{name}" not in pages:
            os.remove(os.path.join(folder, name))
    for path, text in pages.items():
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as fh:
            fh.write(text)
    print(f"wrote {len(pages)} pages under {PAGES_FOLDER}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

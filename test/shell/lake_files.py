"""Helpers shared by the dw_staging COPY-option tests: a lake seeded with sentinel files that
dw_staging did not write, and the files found under a folder."""

import os


def make_lake(lake, sentinels):
    for rel in sentinels:
        path = lake / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sentinel")


def files_under(lake):
    return sorted(os.path.relpath(os.path.join(d, f), lake) for d, _, fs in os.walk(lake) for f in fs)

"""pandera, imported for this package without the integrations it never uses here.

pandera loads its dask types whenever dask is installed (dask comes with the `dask` extra, for
Prefect's Dask task runner): about 0.5 s added to every process that validates, `ukiha
ingest` and `ukiha validate` included. Validation here is pandas only, so pandera is imported
once with dask hidden from it; dask itself stays importable for whoever wants it afterwards
(and a process that has already imported dask, a Dask worker, is left alone).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def hidden(*modules: str) -> Iterator[None]:
    """Within the block, `import m` fails fast for each module not yet imported."""
    blocked = [m for m in modules if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for m in blocked:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]


with hidden("dask"):
    import pandera.pandas
    import pandera.typing.dask  # noqa: F401  # settled now: pandera's dask types stay off

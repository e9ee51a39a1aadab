"""Every sample scenario, registered in a fixed order (which numbers the patients rair-01, …).

Importing this package imports the modules of :data:`ORDER`, in that order, and each module's
``@scenario`` appends to :data:`sample_builder.registry.SCENARIOS`. A new module goes at the end
of :data:`ORDER`; moving one renumbers the patients and changes every committed sample. (An
explicit list, not import statements, so no import sorter can reorder it.)
"""

from __future__ import annotations

import importlib

ORDER = ("status", "drivers", "later_lines", "safety", "reading", "braf_after_mki")

for _module in ORDER:
    importlib.import_module(f"{__name__}.{_module}")

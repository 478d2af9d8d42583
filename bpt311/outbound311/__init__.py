"""Reports sent on to the city's work-order system over Open311, and its answers brought
back (``flask open311``; the sweep sends)."""

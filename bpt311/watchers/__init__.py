"""Who watches a place, and telling them: the half of watch areas that every change to a
report calls (``events.announce``), below the report pages. ``matching`` finds the areas
and followers that cover a point, ``tokens`` names the links in what they are sent. The
watch areas' own pages, feeds and settings are bpt311/watch/, above the reports."""

"""How the city is doing: figures for the public /stats page and the staff dashboard."""

"""Bringing a city's older reports in: `flask import open311|seeclickfix|csv`."""

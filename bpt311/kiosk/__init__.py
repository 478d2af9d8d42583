"""Kiosk mode: the city-hall touch screen that keeps nothing personal."""

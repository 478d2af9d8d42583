"""The staff dashboard and staff exports, on the staff blueprint (dashboard work)."""

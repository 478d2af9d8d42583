"""Administration under /staff/admin, on the staff blueprint (admin work)."""

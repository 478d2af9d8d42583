"""The place a photo says it was taken (EXIF GPS), read before its metadata is dropped, and
only if every number in it is a real coordinate."""

from __future__ import annotations

import math

from PIL import Image

GPS_IFD = 0x8825


def read_gps(image: Image.Image) -> tuple[float, float] | None:
    """(latitude, longitude) from the image's EXIF GPS tags, or None if missing or absurd."""
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
        latitude = _coordinate(gps.get(2), gps.get(1), "N", "S", 90)
        longitude = _coordinate(gps.get(4), gps.get(3), "E", "W", 180)
    except Exception:
        return None
    if latitude is None or longitude is None:
        return None
    # Cameras without a fix often write zeros; nobody reports a pothole off West Africa.
    if latitude == 0 and longitude == 0:
        return None
    return round(latitude, 6), round(longitude, 6)


def _coordinate(value, ref, positive: str, negative: str, limit: float) -> float | None:
    """Signed decimal degrees from an EXIF degrees/minutes/seconds value and its N/S/E/W ref."""
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if not isinstance(ref, str):
        return None  # without a ref the sign, and so the place, is unknown
    ref = ref.strip("\x00 ").upper()
    if ref not in (positive, negative):
        return None
    if not isinstance(value, (tuple, list)):
        value = (value,)
    if not 1 <= len(value) <= 3:
        return None
    parts = [_number(part) for part in value]
    if any(part is None or part < 0 for part in parts):
        return None
    degrees, minutes, seconds = (parts + [0.0, 0.0])[:3]
    if minutes > 60 or seconds > 60:
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if result > limit:
        return None
    return -result if ref == negative else result


def _number(value) -> float | None:
    """A finite float from an EXIF rational (IFDRational or (num, den)) or plain number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            return None
        numerator, denominator = value
        if not denominator:
            return None
        value = numerator / denominator
    elif hasattr(value, "denominator") and not value.denominator:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None

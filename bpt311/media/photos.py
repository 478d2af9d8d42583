"""Photos checked by their content (the allowed decoders only, pixel bombs refused before
decoding) and re-encoded from their pixels into clean, metadata-free sRGB JPEGs, with a
thumbnail and the smaller copies for srcset."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO

from flask_babel import gettext as _
from PIL import Image, ImageOps, features

from bpt311.media import (
    MB,
    UploadRefused,
    display_name,
    read_at_most,
    size_words,
)
from bpt311.media.gps import read_gps

try:
    from PIL import ImageCms

    SRGB_PROFILE = ImageCms.createProfile("sRGB")
except ImportError:  # Pillow built without Little CMS: colours are kept as decoded
    ImageCms = None
    SRGB_PROFILE = None

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # without pillow-heif, HEIC photos are simply refused
    pillow_heif = None


THUMB_SIDE = 480
PHOTO_QUALITY = 82
THUMB_QUALITY = 75
# Only these decoders ever see an upload: Pillow's other plugins (EPS, PSD, TGA,
# ...) are never tried, which both enforces the allowed types and keeps
# rarely-exercised parsers away from untrusted bytes. Phones' JPEGs with an
# embedded second picture decode as MPO, which is JPEG.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
ACCEPTED_FORMATS = frozenset(PHOTO_FORMATS) | {"MPO"}
# Smaller copies for srcset (longest side, like the thumbnail), in the formats this
# Pillow can write: AVIF and WebP are about half a JPEG's size at the same look.
VARIANT_SIDES = (240, 480, 960)
VARIANT_FORMATS = tuple(
    (fmt, content_type, options)
    for fmt, content_type, options, available in (
        ("AVIF", "image/avif", {"quality": 50, "speed": 8}, features.check("avif")),
        ("WEBP", "image/webp", {"quality": 72, "method": 4}, features.check("webp")),
        ("JPEG", "image/jpeg", {"quality": THUMB_QUALITY, "progressive": True}, True),
    )
    if available
)


@dataclass(frozen=True)
class PhotoVariant:
    """A smaller copy of a photo in one format, for a ``<picture>``'s srcset."""

    content_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class ProcessedPhoto:
    data: bytes
    width: int
    height: int
    thumb: bytes
    thumb_width: int
    thumb_height: int
    gps: tuple[float, float] | None
    content_type: str = "image/jpeg"
    variants: tuple[PhotoVariant, ...] = ()


def process_photo(
    stream,
    filename: str,
    *,
    max_bytes: int = 20 * MB,
    max_side: int = 2048,
    max_pixels: int = 40_000_000,
    with_variants: bool = True,
) -> ProcessedPhoto:
    """Check an uploaded photo by its content and re-encode it from its pixels alone.

    Raises UploadRefused, never anything else, for whatever we will not keep.
    ``with_variants=False`` leaves the smaller copies to a job (bpt311/storage/photo_copies.py).
    """
    name = display_name(filename, _("The photo"))
    data = read_at_most(stream, max_bytes + 1)
    if not data:
        raise UploadRefused(_("%(file)s is empty. Choose the photo again.", file=name))
    if len(data) > max_bytes:
        raise UploadRefused(
            _(
                "%(file)s is larger than %(size)s. Send a smaller photo.",
                file=name,
                size=size_words(max_bytes),
            )
        )

    not_a_photo = UploadRefused(
        _("%(file)s is not a photo we can read. Send a JPEG, PNG, WebP or HEIC picture.", file=name)
    )
    too_many_pixels = UploadRefused(
        _("%(file)s has too many pixels to be a real photo.", file=name)
    )
    damaged = UploadRefused(
        _("%(file)s is damaged or incomplete. Try taking or saving it again.", file=name)
    )

    # catch_warnings swaps the process-wide filters for the duration; only
    # DecompressionBombWarning is affected, which nothing else relies on.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=PHOTO_FORMATS)
        except Image.UnidentifiedImageError:
            raise not_a_photo from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels from None
        except Exception:
            raise damaged from None

        with image:
            if image.format not in ACCEPTED_FORMATS:
                raise not_a_photo
            width, height = image.size
            # Checked on the header's dimensions, before a single pixel is decoded.
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise too_many_pixels
            try:
                return _reencode(image, max_side, with_variants)
            except (
                Image.DecompressionBombError,
                Image.DecompressionBombWarning,
                MemoryError,
            ):
                raise too_many_pixels from None
            except Exception:
                raise damaged from None


def _reencode(image: Image.Image, max_side: int, with_variants: bool = True) -> ProcessedPhoto:
    # A JPEG can be decoded straight at a reduced scale, which saves most of the
    # memory and time for a large photo; other formats ignore this.
    image.draft(None, (max_side, max_side))
    image.load()  # truncated or corrupt pixel data fails here
    gps = read_gps(image)
    icc_profile = image.info.get("icc_profile")

    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        pass  # an unreadable Orientation tag: keep the picture as it was taken

    picture = _flatten_to_rgb(_to_srgb(image, icc_profile))
    picture.thumbnail((max_side, max_side))
    thumb = picture.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return ProcessedPhoto(
        data=jpeg_bytes(picture, PHOTO_QUALITY),
        width=picture.width,
        height=picture.height,
        thumb=jpeg_bytes(thumb, THUMB_QUALITY),
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        gps=gps,
        variants=make_variants(picture) if with_variants else (),
    )


def make_variants(picture: Image.Image) -> tuple[PhotoVariant, ...]:
    """The photo at each of VARIANT_SIDES no larger than itself, in every modern format,
    plus JPEG at the sides the thumbnail (always a 480 px JPEG) does not cover."""
    longest = max(picture.size)
    sides = [side for side in VARIANT_SIDES if side < longest] or [longest]
    if longest < VARIANT_SIDES[-1] and longest not in sides:
        sides.append(longest)  # the photo's own size is the sharpest copy there is
    variants = []
    for side in sides:
        copy = picture.copy()
        copy.thumbnail((side, side))
        copy.info.clear()
        for fmt, content_type, options in VARIANT_FORMATS:
            if fmt == "JPEG" and side == min(THUMB_SIDE, longest):  # the thumbnail
                continue
            out = BytesIO()
            copy.save(out, format=fmt, **options)
            variants.append(PhotoVariant(content_type, copy.width, copy.height, out.getvalue()))
    return tuple(variants)


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert colours to sRGB while the profile is known, since the profile is then dropped."""
    if not icc_profile or ImageCms is None or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, SRGB_PROFILE, outputMode=output_mode)
    except Exception:
        return image  # a broken or unusual profile: keep the pixels as decoded


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """The image as plain RGB, with any transparency laid over white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit greyscale: converting directly would clip nearly everything to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if "transparency" in image.info or image.mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    # Pillow copies a comment (and may copy more) from image.info into the file;
    # an empty info leaves nothing but the pixels to write.
    image.info.clear()
    out = BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()

"""Checking resident uploads and turning accepted photos into clean, metadata-free JPEGs."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import av
from flask_babel import gettext as _
from PIL import Image, ImageOps, features

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

__all__ = [
    "CheckedVideo",
    "CleanVideo",
    "PhotoVariant",
    "ProcessedPhoto",
    "UploadRefused",
    "check_video",
    "clean_video",
    "process_photo",
    "read_gps",
    "read_video",
]

MB = 1024 * 1024
THUMB_SIDE = 480
PHOTO_QUALITY = 82
THUMB_QUALITY = 75
# Only these decoders ever see an upload: Pillow's other plugins (EPS, PSD, TGA,
# ...) are never tried, which both enforces the allowed types and keeps
# rarely-exercised parsers away from untrusted bytes. Phones' JPEGs with an
# embedded second picture decode as MPO, which is JPEG.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
ACCEPTED_FORMATS = frozenset(PHOTO_FORMATS) | {"MPO"}
GPS_IFD = 0x8825
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
NAME_LIMIT = 80
CHUNK = MB


class UploadRefused(Exception):
    """An upload we will not keep; str(exc) is a message for the resident that names the file
    and says why."""


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


@dataclass(frozen=True)
class CheckedVideo:
    content_type: str
    extension: str
    size: int


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: enough to refuse it at upload without decoding it."""

    duration: float
    width: int
    height: int


@dataclass(frozen=True)
class CleanVideo:
    """A video copied into a fresh container with no metadata, and its poster frame."""

    path: Path
    content_type: str
    extension: str
    width: int
    height: int
    duration: float
    poster: bytes
    poster_width: int
    poster_height: int


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
    ``with_variants=False`` leaves the smaller copies to a job (bpt311/jobs/photos.py).
    """
    name = _display_name(filename, _("The photo"))
    data = _read_at_most(stream, max_bytes + 1)
    if not data:
        raise UploadRefused(_("%(file)s is empty. Choose the photo again.", file=name))
    if len(data) > max_bytes:
        raise UploadRefused(
            _(
                "%(file)s is larger than %(size)s. Send a smaller photo.",
                file=name,
                size=_size_words(max_bytes),
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
        data=_jpeg_bytes(picture, PHOTO_QUALITY),
        width=picture.width,
        height=picture.height,
        thumb=_jpeg_bytes(thumb, THUMB_QUALITY),
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


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    # Pillow copies a comment (and may copy more) from image.info into the file;
    # an empty info leaves nothing but the pixels to write.
    image.info.clear()
    out = BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


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


# ISO base media brands. Pictures (HEIC, AVIF ...) and sound (M4A ...) share the
# container with videos: a file is a video only if it names a video brand, and
# never if it names an image brand or is, by its major brand, audio.
VIDEO_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6",
        b"mp41", b"mp42", b"mp71", b"avc1", b"M4V ", b"M4VH", b"M4VP",
        b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gg6", b"3g2a", b"dash", b"msnv", b"mmp4",
        b"XAVC", b"f4v ",
    }
)  # fmt: skip
IMAGE_BRANDS = frozenset(
    {
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
        b"mif1", b"msf1", b"mif2", b"miaf", b"avif", b"avis", b"avio",
        b"jp2 ", b"jpx ", b"jpm ", b"crx ",
    }
)  # fmt: skip
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free")
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def check_video(stream, filename: str, *, max_bytes: int) -> CheckedVideo:
    """Check an uploaded video by its content and size; the stream is left at position 0."""
    name = _display_name(filename, _("The video"))
    stream.seek(0)
    try:
        head = _read_at_most(stream, 256)
        size = len(head)
        while size <= max_bytes:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
    finally:
        stream.seek(0)

    if size == 0:
        raise UploadRefused(_("%(file)s is empty. Choose the video again.", file=name))
    if size > max_bytes:
        raise UploadRefused(
            _(
                "%(file)s is larger than %(size)s. Send a shorter video.",
                file=name,
                size=_size_words(max_bytes),
            )
        )
    kind = _video_kind(head)
    if kind is None:
        raise UploadRefused(
            _(
                "%(file)s is not a video we can play. Send an MP4, WebM or QuickTime (.mov) video.",
                file=name,
            )
        )
    content_type, extension = kind
    return CheckedVideo(content_type=content_type, extension=extension, size=size)


def _video_kind(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None if not a video we take."""
    box_type = head[4:8]
    if box_type == b"ftyp":
        major = head[8:12]
        if major == b"qt  ":
            return "video/quicktime", ".mov"
        box_size = int.from_bytes(head[0:4], "big")
        end = min(max(box_size, 16), len(head))
        brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
        if major in AUDIO_BRANDS or brands & IMAGE_BRANDS:
            return None
        if major in VIDEO_BRANDS or brands & VIDEO_BRANDS:
            return "video/mp4", ".mp4"
        return None
    if box_type in QUICKTIME_ATOMS:
        return "video/quicktime", ".mov"
    if head.startswith(EBML_MAGIC) and b"webm" in head[:64]:
        return "video/webm", ".webm"
    return None


# The FFmpeg demuxer for each kind check_video recognises: FFmpeg's other demuxers never
# see an upload, as Pillow's other plugins never see a photo.
VIDEO_DEMUXERS = {".mp4": "mov", ".mov": "mov", ".webm": "matroska"}
# Where a clean copy goes, tried in order, the streams copied as they are: MP4 plays
# everywhere; QuickTime takes what MP4 refuses (PCM sound, ProRes ...); WebM stays WebM
# unless it holds what WebM may not (H.264, as Chrome's recorder writes it).
MP4_THEN_QUICKTIME = (("mp4", "video/mp4", ".mp4"), ("mov", "video/quicktime", ".mov"))
CLEAN_CONTAINERS = {
    ".mp4": MP4_THEN_QUICKTIME,
    ".mov": MP4_THEN_QUICKTIME,
    ".webm": (("webm", "video/webm", ".webm"), *MP4_THEN_QUICKTIME),
}
# bitexact: no encoder name and no creation time in the headers; faststart: the index
# first, so a browser starts playing before the whole file has come.
MUXER_OPTIONS = {
    "mp4": {"movflags": "+faststart", "fflags": "+bitexact"},
    "mov": {"movflags": "+faststart", "fflags": "+bitexact"},
    "webm": {"fflags": "+bitexact"},
}
MAX_VIDEO_PIXELS = 40_000_000  # as for photos: 8K is 33 million


def read_video(source, filename: str, *, extension: str, max_seconds: int) -> VideoInfo:
    """Read a video's header (no frame decoded): refuse one FFmpeg cannot read, without a
    picture, or longer than ``max_seconds``. A file-like ``source`` is left at position 0."""
    name = _display_name(filename, _("The video"))
    try:
        with _open_video(source, extension, name) as container:
            return _video_info(container, name, max_seconds)
    finally:
        if hasattr(source, "seek"):
            source.seek(0)


def clean_video(
    source, folder: Path, filename: str, *, extension: str, max_seconds: int
) -> CleanVideo:
    """Copy a video's picture and sound into a fresh container in ``folder`` with no
    metadata at all (no place, camera, dates, encoder, nor the phone's other tracks), and
    make its poster from the copy's first frame. Streams are copied, never re-encoded.

    Raises UploadRefused, never anything else, for a video we will not keep."""
    name = _display_name(filename, _("The video"))
    with _open_video(source, extension, name) as container:
        info = _video_info(container, name, max_seconds)
    for muxer, content_type, out_extension in CLEAN_CONTAINERS.get(extension, ()):
        target = Path(folder) / f"clean{out_extension}"
        try:
            duration = _remux(source, extension, name, target, muxer, max_seconds)
            poster = _poster(target, muxer)
        except UploadRefused:
            raise
        except Exception:  # a codec this container does not take, or damaged data
            target.unlink(missing_ok=True)
            continue
        width, height = info.width, info.height
        if (poster.width > poster.height) != (width > height) and poster.width != poster.height:
            width, height = height, width  # held upright: the size as it is shown
        return CleanVideo(
            path=target,
            content_type=content_type,
            extension=out_extension,
            width=width,
            height=height,
            duration=duration or info.duration,
            poster=_jpeg_bytes(poster, THUMB_QUALITY),
            poster_width=poster.width,
            poster_height=poster.height,
        )
    raise _damaged_video(name)


@contextmanager
def _open_video(source, extension: str, name: str):
    """An FFmpeg input for an upload, through the demuxer of its kind only."""
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        container = av.open(
            str(source) if isinstance(source, Path) else source,
            "r",
            format=VIDEO_DEMUXERS.get(extension),
        )
    except Exception:
        raise _not_a_video(name) from None
    try:
        yield container
    finally:
        container.close()


def _video_info(container, name: str, max_seconds: int) -> VideoInfo:
    try:
        video = container.streams.video[0] if container.streams.video else None
        width = video.codec_context.width if video is not None else 0
        height = video.codec_context.height if video is not None else 0
        if not width or not height or width * height > MAX_VIDEO_PIXELS:
            raise _not_a_video(name)
        duration = _duration(container, video, max_seconds)
    except UploadRefused:
        raise
    except Exception:
        raise _not_a_video(name) from None
    if duration > max_seconds + 0.5:  # headers round: a 2-minute clip may say 120.02 s
        raise _too_long(name, max_seconds)
    return VideoInfo(duration=duration, width=width, height=height)


def _duration(container, video, max_seconds: int) -> float:
    """Seconds, from the header; a file without one (a browser's recording) is read
    packet by packet, nothing decoded, until its end or past the limit."""
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    latest = 0.0
    for packet in container.demux(video):
        if packet.pts is not None and packet.time_base:
            latest = max(latest, float(packet.pts * packet.time_base))
            if latest > max_seconds + 1:
                break
    return latest


def _remux(source, extension: str, name: str, target: Path, muxer: str, max_seconds: int):
    """Copy the first video and first audio stream, packet by packet, into ``target``;
    the packets' own times, not the header, decide whether the clip is too long."""
    latest = 0.0
    with _open_video(source, extension, name) as inp:
        chosen = [inp.streams.video[0], *inp.streams.audio[:1]]
        with av.open(str(target), "w", format=muxer, options=MUXER_OPTIONS[muxer]) as out:
            out.metadata.clear()
            copies = {}
            for stream in chosen:
                copy = out.add_stream_from_template(stream)
                copy.metadata.clear()  # handler names, languages, dates, places
                copies[stream.index] = copy
            for packet in inp.demux(*chosen):
                if not packet.size:
                    continue  # the empty packet that ends each stream (Matroska's
                    # real packets may have no dts: FFmpeg's muxer works it out)
                if packet.pts is not None and packet.time_base:
                    latest = max(latest, float(packet.pts * packet.time_base))
                    if latest > max_seconds + 1:
                        raise _too_long(name, max_seconds)
                packet.stream = copies[packet.stream.index]
                out.mux(packet)
    return latest


def _poster(path: Path, muxer: str) -> Image.Image:
    """The clean copy's first frame, upright and thumbnail-sized: proof that it plays."""
    with av.open(str(path), "r", format="mov" if muxer in ("mp4", "mov") else "matroska") as video:
        for frame in video.decode(video=0):
            picture = frame.to_image()
            rotation = frame.rotation  # how a phone held upright wants it turned
            if rotation:
                picture = picture.rotate(rotation, expand=True)
            picture.thumbnail((THUMB_SIDE, THUMB_SIDE))
            return picture
    raise ValueError("no frame")


def _not_a_video(name: str) -> UploadRefused:
    return UploadRefused(
        _(
            "%(file)s is not a video we can play. Send an MP4, WebM or QuickTime (.mov) video.",
            file=name,
        )
    )


def _damaged_video(name: str) -> UploadRefused:
    return UploadRefused(
        _("%(file)s is damaged or incomplete. Try recording or saving it again.", file=name)
    )


def _too_long(name: str, max_seconds: int) -> UploadRefused:
    return UploadRefused(
        _(
            "%(file)s is longer than %(seconds)d seconds. Send a shorter clip.",
            file=name,
            seconds=max_seconds,
        )
    )


def _display_name(filename: str | None, fallback: str) -> str:
    """The file's own name, without any folders, fit to show back to the resident."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    if len(name) > NAME_LIMIT:
        name = name[: NAME_LIMIT - 1] + "…"
    return name or fallback


def _read_at_most(stream, limit: int) -> bytes:
    """Up to limit bytes, reading again when a stream returns short reads."""
    parts = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _size_words(size: int) -> str:
    if size >= MB:
        return f"{round(size / MB, 1):g} MB"
    if size >= 1024:
        return f"{round(size / 1024, 1):g} KB"
    return f"{size} bytes"

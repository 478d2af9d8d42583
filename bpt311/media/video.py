"""Videos checked by their content (a video brand of ISO base media, QuickTime or WebM) and
size, read by their header (length, size), and copied stream by stream into a fresh
container with no metadata, with a poster from the copy's first frame."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
from flask_babel import gettext as _
from PIL import Image

from bpt311.media import (
    CHUNK,
    UploadRefused,
    display_name,
    read_at_most,
    size_words,
)
from bpt311.media.photos import THUMB_QUALITY, THUMB_SIDE, jpeg_bytes


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
    name = display_name(filename, _("The video"))
    stream.seek(0)
    try:
        head = read_at_most(stream, 256)
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
                size=size_words(max_bytes),
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
    name = display_name(filename, _("The video"))
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
    name = display_name(filename, _("The video"))
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
            poster=jpeg_bytes(poster, THUMB_QUALITY),
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

"""Resident uploads: every file here is made by the test itself, with Pillow or by hand."""

from __future__ import annotations

import random
import resource
import struct
import zipfile
import zlib
from io import BytesIO

import pytest
from PIL import Image, ImageCms, ImageFile, TiffImagePlugin
from sqlalchemy import select

from bpt311 import storage
from bpt311.community.comments import add_comment
from bpt311.extensions import db
from bpt311.media import UploadRefused
from bpt311.media.gps import read_gps
from bpt311.media.photos import ProcessedPhoto, process_photo
from bpt311.media.video import CheckedVideo, check_video
from bpt311.models import Media, utcnow
from tests.factories import make_user, sign_in_as
from tests.test_reporting import form_data, jpeg, post

NOT_A_PHOTO = "is not a photo we can read. Send a JPEG, PNG, WebP or HEIC picture."
DAMAGED = "is damaged or incomplete. Try taking or saving it again."
NOT_A_VIDEO = "is not a video we can play. Send an MP4, WebM or QuickTime (.mov) video."
BRIDGEPORT_GPS = {1: "N", 2: (41.0, 10.0, 45.12), 3: "W", 4: (73.0, 11.0, 21.84)}


# --- making files -----------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def exif_with(gps: dict | None = None, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps is not None:
        exif.get_ifd(0x8825).update(gps)
    return exif


def photo_jpeg(size=(64, 48), color="steelblue", **params) -> bytes:
    return encoded(Image.new("RGB", size, color), "JPEG", **params)


def noisy_jpeg(size=(400, 300)) -> bytes:
    """A JPEG whose pixel data is most of the file, so cutting it loses pixels."""
    noise = Image.frombytes("RGB", size, random.Random(311).randbytes(size[0] * size[1] * 3))
    return encoded(noise, "JPEG", quality=95)


def png_of_size(width: int, height: int) -> bytes:
    """A genuine all-black 1-bit PNG: a few KB on disk, width*height bytes once decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = bytes(1 + (width + 7) // 8)  # filter byte and packed pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_segments(data: bytes) -> list[int]:
    """The marker of every JPEG segment before the image data."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the pixels follow
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return markers


def process(data: bytes, filename: str = "photo.jpg", **limits) -> ProcessedPhoto:
    return process_photo(BytesIO(data), filename, **limits)


def refusal(data: bytes, filename: str, **limits) -> str:
    with pytest.raises(UploadRefused) as refused:
        process(data, filename, **limits)
    return str(refused.value)


def reopened(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


# --- photos we keep ---------------------------------------------------------


@pytest.mark.parametrize("with_icc_profile", [True, False])
def test_gps_is_read_before_every_piece_of_metadata_is_stripped(with_icc_profile):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = photo_jpeg(
        exif=exif_with(BRIDGEPORT_GPS, orientation=1),
        comment=b"shot by Jane Doe at 12 Main St",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>Jane Doe</x:xmpmeta>",
        **({"icc_profile": srgb} if with_icc_profile else {}),
    )
    assert b"Exif" in upload and b"Jane Doe" in upload  # the metadata really is there

    photo = process(upload)

    assert photo.gps == pytest.approx((41.1792, -73.1894), abs=1e-6)
    assert photo.content_type == "image/jpeg"
    for output in (photo.data, photo.thumb):
        image = reopened(output)
        assert image.format == "JPEG"
        assert not image.getexif()
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
        # No APP1 (EXIF, XMP), APP2 (ICC) or COM segment at all; APP0 (JFIF) only.
        assert not {0xE1, 0xE2, 0xFE} & set(jpeg_segments(output))
        assert b"Jane Doe" not in output and b"Exif" not in output


def test_photo_without_gps_has_none():
    assert process(photo_jpeg()).gps is None


def test_exif_orientation_6_turns_the_picture_upright():
    sideways = Image.new("RGB", (60, 40), "blue")
    sideways.paste("red", (0, 0, 30, 40))  # left half red
    photo = process(encoded(sideways, "JPEG", exif=exif_with(orientation=6)))

    assert (photo.width, photo.height) == (40, 60)
    upright = reopened(photo.data)
    # Orientation 6 means "rotate 90 degrees clockwise to view": the left half becomes the top.
    red, green, blue = upright.getpixel((20, 5))
    assert red > 200 and blue < 60
    red, green, blue = upright.getpixel((20, 55))
    assert blue > 200 and red < 60
    assert (photo.thumb_width, photo.thumb_height) == (40, 60)


def test_large_photo_is_shrunk_to_2048_and_its_thumbnail_to_480():
    photo = process(photo_jpeg(size=(5000, 3000), color="olive"), "big.jpg")

    assert (photo.width, photo.height) == (2048, 1229)
    assert reopened(photo.data).size == (2048, 1229)
    assert max(photo.thumb_width, photo.thumb_height) == 480
    assert reopened(photo.thumb).size == (photo.thumb_width, photo.thumb_height)


def test_max_side_is_respected_for_portrait_photos():
    photo = process(photo_jpeg(size=(900, 1600)), max_side=800)
    assert (photo.width, photo.height) == (450, 800)


def test_small_photo_is_not_enlarged():
    photo = process(photo_jpeg(size=(64, 48)))
    assert (photo.width, photo.height, photo.thumb_width, photo.thumb_height) == (64, 48, 64, 48)


def test_png_with_transparency_becomes_a_jpeg_on_white():
    image = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 40, 80))
    photo = process(encoded(image, "PNG"), "cutout.png")

    output = reopened(photo.data)
    assert output.format == "JPEG" and output.mode == "RGB"
    assert all(channel > 240 for channel in output.getpixel((70, 40)))  # transparent -> white
    assert output.getpixel((10, 40))[0] > 180


def test_palette_png_with_transparent_colour_is_flattened_onto_white():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.paste(1, (0, 0, 20, 40))
    output = reopened(process(encoded(image, "PNG", transparency=0), "map.png").data)
    assert all(channel > 240 for channel in output.getpixel((35, 20)))
    assert output.getpixel((5, 20))[0] > 200


def test_16_bit_greyscale_png_keeps_its_tones():
    image = Image.new("I;16", (32, 32), 32768)
    output = reopened(process(encoded(image, "PNG"), "scan.png").data)
    assert 110 < output.getpixel((16, 16))[0] < 145


def test_webp_is_accepted():
    photo = process(encoded(Image.new("RGB", (120, 90), "green"), "WEBP"), "leaf.webp")
    assert (photo.width, photo.height) == (120, 90)
    assert reopened(photo.data).format == "JPEG"


def test_multi_picture_jpeg_from_a_phone_is_accepted():
    first, second = Image.new("RGB", (50, 40), "red"), Image.new("RGB", (50, 40), "blue")
    upload = encoded(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(BytesIO(upload)).format == "MPO"
    photo = process(upload)
    assert (photo.width, photo.height) == (50, 40)


def test_heic_is_accepted():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    try:
        upload = encoded(Image.new("RGB", (96, 64), "purple"), "HEIF")
    except Exception as error:  # libheif built without an HEVC encoder
        pytest.skip(f"this pillow-heif cannot encode HEIF: {error}")

    photo = process(upload, "IMG_0001.HEIC")
    assert (photo.width, photo.height) == (96, 64)
    assert reopened(photo.data).format == "JPEG"


def test_file_name_does_not_decide_the_type():
    photo = process(encoded(Image.new("RGB", (30, 30)), "PNG"), "actually-a-png.gif")
    assert photo.content_type == "image/jpeg"


# --- photos we refuse -------------------------------------------------------


def test_pdf_renamed_jpg_is_refused_with_its_name():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    message = refusal(pdf, "C:\\Users\\resident\\Pictures\\holiday.jpg")
    assert message == f"holiday.jpg {NOT_A_PHOTO}"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        (
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b"<script>alert(1)</script></svg>",
        ),
        ("page.jpg", b"<!doctype html><html><script>alert(1)</script></html>"),
        ("notes.png", b"There is a pothole on Main Street.\n"),
        ("animation.gif", encoded(Image.new("RGB", (20, 20), "red"), "GIF")),
        ("photo.bmp", encoded(Image.new("RGB", (20, 20), "red"), "BMP")),
        ("photo.tiff", encoded(Image.new("RGB", (20, 20), "red"), "TIFF")),
    ],
)
def test_files_that_are_not_accepted_photos_are_refused(filename, content):
    assert refusal(content, filename) == f"{filename} {NOT_A_PHOTO}"


def test_empty_file_is_refused_with_its_name():
    assert refusal(b"", "nothing.jpg") == "nothing.jpg is empty. Choose the photo again."


def test_refusal_without_a_file_name_speaks_of_the_photo():
    assert refusal(b"hello", "").startswith("The photo is not a photo")
    assert refusal(b"hello", "uploads/").startswith("The photo ")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_photo_is_refused_as_damaged(fmt):
    if fmt == "JPEG":
        whole = noisy_jpeg()
    else:
        whole = encoded(Image.frombytes("L", (300, 300), random.Random(5).randbytes(90_000)), "PNG")
    cut = whole[: len(whole) // 2]
    assert refusal(cut, "cut.jpg") == f"cut.jpg {DAMAGED}"


def test_oversize_photo_is_refused_without_reading_it_all():
    stream = BytesIO(bytes(30 * 1024 * 1024))
    with pytest.raises(UploadRefused) as refused:
        process_photo(stream, "big.jpg")
    assert str(refused.value) == "big.jpg is larger than 20 MB. Send a smaller photo."
    assert stream.tell() == 20 * 1024 * 1024 + 1


def test_photo_just_over_a_custom_limit_is_refused():
    upload = photo_jpeg()
    assert process(upload, max_bytes=len(upload)).width == 64
    message = refusal(upload, "big.jpg", max_bytes=len(upload) - 1)
    assert message.startswith("big.jpg is larger than ")


def test_bomb_builder_makes_real_pictures():
    """The bomb tests below are refused for their size, not for being malformed."""
    assert process(png_of_size(300, 200), "fine.png").width == 300


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (7_000, 6_000),  # over our 40 megapixels, under Pillow's own warning
        (10_000, 9_000),  # Pillow warns (DecompressionBombWarning)
        (20_000, 20_000),  # Pillow refuses (DecompressionBombError)
    ],
)
def test_decompression_bomb_is_refused_before_its_pixels_are_decoded(monkeypatch, width, height):
    bomb = png_of_size(width, height)
    assert len(bomb) < 100_000
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image))
    peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    assert refusal(bomb, "bomb.png") == "bomb.png has too many pixels to be a real photo."

    assert decoded == []
    peak_after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_after_kb - peak_before_kb < 40 * 1024  # decoding would take 42-400 MB


@pytest.mark.parametrize(("width", "height"), [(10_000, 9_000), (20_000, 20_000)])
def test_pillows_own_bomb_checks_refuse_even_above_our_pixel_limit(width, height):
    message = refusal(png_of_size(width, height), "bomb.png", max_pixels=10**12)
    assert message == "bomb.png has too many pixels to be a real photo."


def test_pixel_limit_is_a_setting():
    assert refusal(photo_jpeg(size=(20, 10)), "tiny.jpg", max_pixels=199).endswith(
        "has too many pixels to be a real photo."
    )
    assert process(photo_jpeg(size=(20, 10)), max_pixels=200).width == 20


@pytest.mark.parametrize("error", [OSError, ValueError, SyntaxError, struct.error, EOFError])
def test_unexpected_decoder_errors_become_a_refusal(monkeypatch, error):
    def broken_load(self):
        raise error("decoder fell over")

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken_load)
    assert refusal(photo_jpeg(), "odd.jpg") == f"odd.jpg {DAMAGED}"


def test_corrupted_photos_never_crash():
    original = noisy_jpeg((120, 90))
    chance = random.Random(2024)
    for _ in range(60):
        mangled = bytearray(original)
        for _ in range(chance.randint(1, 20)):
            mangled[chance.randrange(len(mangled))] = chance.randrange(256)
        try:
            process(bytes(mangled))
        except UploadRefused:
            pass


# --- polyglots: only pixels survive -----------------------------------------


def test_jpeg_with_html_appended_is_kept_but_the_html_is_not():
    script = b"<html><script>alert(1)</script></html>"
    photo = process(photo_jpeg() + script, "holiday.jpg")
    assert b"<script" not in photo.data and b"<script" not in photo.thumb


def test_jpeg_with_zip_appended_is_kept_but_the_zip_is_not():
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    photo = process(photo_jpeg() + archive.getvalue())
    for output in (photo.data, photo.thumb):
        assert b"PK\x03\x04" not in output and b"payload" not in output


def test_png_text_chunk_does_not_survive():
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    photo = process(encoded(Image.new("RGB", (30, 30)), "PNG", pnginfo=text), "x.png")
    assert b"<script" not in photo.data


# --- GPS --------------------------------------------------------------------


def image_with_gps(gps: dict) -> Image.Image:
    image = Image.new("RGB", (8, 8))
    image.getexif().get_ifd(0x8825).update(gps)
    return image


def test_gps_accepts_rational_pairs_ifdrationals_and_byte_refs():
    rational = TiffImagePlugin.IFDRational
    gps = {
        1: b"N\x00",
        2: ((41, 1), (10, 1), (4512, 100)),
        3: "w",
        4: (rational(73), rational(11), rational(2184, 100)),
    }
    assert read_gps(image_with_gps(gps)) == (41.1792, -73.1894)


def test_gps_in_the_southern_and_eastern_hemispheres_is_signed():
    gps = {1: "S", 2: (33.0, 52.0, 4.0), 3: "E", 4: (151.0, 12.0, 36.0)}
    assert read_gps(image_with_gps(gps)) == (-33.867778, 151.21)


@pytest.mark.parametrize(
    "gps",
    [
        {},
        {1: "N", 2: (41.0, 10.0, 45.12)},  # no longitude
        {2: (41.0, 10.0, 45.12), 4: (73.0, 11.0, 21.84)},  # no refs: sign unknown
        {**BRIDGEPORT_GPS, 2: (200.0, 0.0, 0.0)},  # latitude over 90
        {**BRIDGEPORT_GPS, 4: (181.0, 0.0, 0.0)},  # longitude over 180
        {**BRIDGEPORT_GPS, 2: ((41, 0), (10, 1), (0, 1))},  # zero denominator
        {**BRIDGEPORT_GPS, 2: (float("nan"), 0.0, 0.0)},
        {**BRIDGEPORT_GPS, 2: (41.0, 75.0, 0.0)},  # 75 minutes
        {**BRIDGEPORT_GPS, 1: "Q"},
        {**BRIDGEPORT_GPS, 2: "forty-one"},
        {**BRIDGEPORT_GPS, 2: (41.0, 10.0, 45.12, 1.0)},
        {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},  # a camera without a fix
    ],
)
def test_missing_or_absurd_gps_is_none(gps):
    assert read_gps(image_with_gps(gps)) is None


def test_absurd_gps_in_an_upload_gives_none_and_the_photo_is_kept():
    rational = TiffImagePlugin.IFDRational
    for gps in (
        {**BRIDGEPORT_GPS, 2: (200.0, 0.0, 0.0)},
        {**BRIDGEPORT_GPS, 2: (rational(41, 0), 10.0, 45.12)},
        {**BRIDGEPORT_GPS, 4: (rational(0, 0), rational(0, 0), rational(0, 0))},
    ):
        photo = process(photo_jpeg(exif=exif_with(gps)))
        assert photo.gps is None
        assert photo.width == 64


def test_read_gps_never_raises_on_an_image_without_exif():
    assert read_gps(Image.new("L", (4, 4))) is None


# --- videos -----------------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (4 + len(body)).to_bytes(4, "big") + body + bytes(200)


WEBM_HEADER = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04"
    b"\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02"
)


def check(content: bytes, filename: str = "clip.mp4", max_bytes: int = 50 * 1024 * 1024):
    return check_video(BytesIO(content), filename, max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("content", "content_type", "extension"),
    [
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4", ".mp4"),
        (ftyp(b"mp42", b"mp42", b"isom"), "video/mp4", ".mp4"),
        (ftyp(b"3gp4", b"3gp4"), "video/mp4", ".mp4"),
        (ftyp(b"XAVC", b"XAVC", b"mp42", b"iso2"), "video/mp4", ".mp4"),  # vendor brand
        (ftyp(b"qt  ", b"qt  "), "video/quicktime", ".mov"),
        (b"\x00\x00\x00\x08wide" + bytes(100), "video/quicktime", ".mov"),
        (b"\x00\x00\x10\x00moov" + bytes(100), "video/quicktime", ".mov"),
        (WEBM_HEADER + bytes(100), "video/webm", ".webm"),
    ],
)
def test_videos_are_recognised_by_their_content(content, content_type, extension):
    video = check(content, "whatever.bin")
    assert video == CheckedVideo(content_type=content_type, extension=extension, size=len(content))


@pytest.mark.parametrize(
    "content",
    [
        photo_jpeg(),
        ftyp(b"heic", b"mif1", b"heic"),  # a HEIC photo shares the container
        ftyp(b"avif", b"avif", b"mif1", b"miaf"),
        ftyp(b"mif1", b"mif1", b"heic", b"iso8"),
        ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"),  # audio only
        ftyp(b"zzzz"),
        WEBM_HEADER.replace(b"webm", b"matr") + b"oska" + bytes(100),  # Matroska, not WebM
        b"<html><body>video</body></html>",
        b"RIFF\x00\x00\x00\x00AVI LIST",
    ],
)
def test_files_that_are_not_accepted_videos_are_refused(content):
    with pytest.raises(UploadRefused) as refused:
        check(content, "clip.mp4")
    # A HEIC (an image brand) named .mp4 is refused like any other non-video.
    assert str(refused.value) == f"clip.mp4 {NOT_A_VIDEO}"


def test_jpeg_renamed_mp4_is_refused_with_its_name():
    with pytest.raises(UploadRefused, match=r"^holiday\.mp4 is not a video we can play\."):
        check(photo_jpeg(), "/tmp/holiday.mp4")


def test_empty_video_is_refused():
    with pytest.raises(UploadRefused, match=r"^clip\.mp4 is empty\."):
        check(b"")


class EndlessZeros:
    """A seekable stream of zeros after an MP4 header, counting what is read."""

    def __init__(self, size: int):
        self.head = ftyp(b"isom", b"isom")
        self.size = size
        self.position = 0
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n < 0 else min(n, self.size - self.position)
        start, self.position = self.position, self.position + n
        self.bytes_read += n
        return (self.head[start : start + n] + bytes(n))[:n]

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else self.size + offset
        return self.position

    def tell(self) -> int:
        return self.position


def test_oversize_video_is_refused_without_reading_far_past_the_limit():
    limit = 50 * 1024 * 1024
    stream = EndlessZeros(10 * limit)
    with pytest.raises(UploadRefused) as refused:
        check_video(stream, "clip.mp4", max_bytes=limit)
    assert str(refused.value) == "clip.mp4 is larger than 50 MB. Send a shorter video."
    assert stream.bytes_read <= limit + 2 * 1024 * 1024
    assert stream.tell() == 0


def test_video_at_the_limit_is_accepted_and_sized():
    stream = EndlessZeros(3 * 1024 * 1024 + 5)
    video = check_video(stream, "clip.mp4", max_bytes=stream.size)
    assert video.size == stream.size
    with pytest.raises(UploadRefused, match="larger than 3 MB"):
        check_video(stream, "clip.mp4", max_bytes=3 * 1024 * 1024)


@pytest.mark.parametrize("content", [ftyp(b"isom"), b"not a video at all", b""])
def test_stream_is_back_at_the_start_after_check_video(content):
    stream = BytesIO(content)
    stream.seek(len(content) // 2)  # wherever the caller left it, the whole file is checked
    try:
        check_video(stream, "clip.mp4", max_bytes=1024)
    except UploadRefused:
        pass
    assert stream.tell() == 0
    assert stream.read() == content


# --- smaller copies for srcset (the performance issue) ---------------------------------


def test_photo_gets_modern_copies_at_each_width_without_metadata():
    from PIL import features

    data = photo_jpeg(size=(1600, 1200), exif=exif_with(gps=BRIDGEPORT_GPS))
    photo = process_photo(BytesIO(data), "big.jpg")
    by_type = {}
    for variant in photo.variants:
        by_type.setdefault(variant.content_type, []).append(variant.width)
        picture = Image.open(BytesIO(variant.data))
        assert picture.size == (variant.width, variant.height)
        assert variant.width * 3 == variant.height * 4  # the photo's shape
        assert len(picture.getexif()) == 0
    assert sorted(by_type["image/webp"]) == [240, 480, 960]
    assert sorted(by_type["image/jpeg"]) == [240, 960]  # the thumbnail is the 480 JPEG
    if features.check("avif"):
        assert sorted(by_type["image/avif"]) == [240, 480, 960]


def test_copies_are_never_larger_than_the_photo():
    photo = process_photo(BytesIO(photo_jpeg(size=(150, 100))), "small.jpg")
    assert {variant.width for variant in photo.variants} == {150}
    assert "image/jpeg" not in {v.content_type for v in photo.variants}  # the thumbnail is it


# --- serving what moderators may hide ----------------------------------------


def _comment_photo(client):
    """A resident's report with a photo (and its copies), the photo then moved onto a
    comment by another resident, as a photo sent with a comment is stored."""
    assert post(client, form_data(client, photos=[jpeg(size=(1600, 1200))])).status_code == 303
    media = db.session.scalars(select(Media)).one()
    writer = make_user("writer@example.org")
    comment = add_comment(media.report, writer, "Here is a closer look at it.")
    media.comment_id = comment.id
    db.session.commit()
    return media, comment


def _names(media) -> list[str]:
    return [media.file_name, media.thumb_name, *storage.variant_files(media)]


@pytest.mark.parametrize("how", ["hidden", "deleted"])
def test_a_photo_with_a_comment_hidden_or_deleted_is_not_served(client, city, how):
    media, comment = _comment_photo(client)
    names = _names(media)
    assert len(names) > 3 and all(client.get(f"/media/{n}").status_code == 200 for n in names)
    if how == "hidden":
        comment.hidden_at, comment.hidden_reason = utcnow(), "Abusive"
    else:
        comment.deleted_at = utcnow()
    db.session.commit()
    for name in names:  # the photo, its thumbnail and every copy under /media/v/
        assert client.get(f"/media/{name}").status_code == 404, name
    staff = city.test_client()
    sign_in_as(staff, make_user("moderator@bridgeport.example", role="staff"))
    for name in names:
        response = staff.get(f"/media/{name}")
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "private, no-cache", name


def test_photos_are_revalidated_so_no_cache_keeps_one_after_it_is_hidden(client, city):
    """Not a day in a shared cache: every use asks again, and an unchanged photo is a
    304; once hidden, the next ask is a 404."""

    media, _comment = _comment_photo(client)
    for name in _names(media):
        response = client.get(f"/media/{name}")
        assert response.headers["Cache-Control"] == "public, no-cache", name
        etag = response.headers["ETag"]
        again = client.get(f"/media/{name}", headers={"If-None-Match": etag})
        assert again.status_code == 304, name
    media.hidden_at, media.hidden_reason = utcnow(), "Shows a face"
    db.session.commit()
    for name in _names(media):
        assert client.get(f"/media/{name}", headers={"If-None-Match": etag}).status_code == 404

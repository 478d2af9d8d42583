"""A Nominatim look-alike on loopback, so geocoding tests speak real HTTP without the internet."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    params: dict[str, str]


def nominatim_place(
    latitude: float,
    longitude: float,
    *,
    house_number: str = "",
    road: str = "",
    city: str = "Bridgeport",
    display_name: str = "",
) -> dict:
    """One result as Nominatim's format=json with addressdetails=1 writes it."""
    address = {"house_number": house_number, "road": road, "city": city}
    address = {key: value for key, value in address.items() if value}
    address.update({"county": "Fairfield County", "state": "Connecticut", "country_code": "us"})
    if not display_name:
        street = " ".join(part for part in (house_number, road) if part)
        display_name = ", ".join(
            part
            for part in (street, city, "Fairfield County", "Connecticut", "United States")
            if part
        )
    return {
        "place_id": abs(hash((latitude, longitude))) % 10**9,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
        "osm_type": "way",
        "lat": str(latitude),
        "lon": str(longitude),
        "class": "place",
        "type": "house",
        "display_name": display_name,
        "address": address,
    }


class FakeNominatim:
    """Answers /search and /reverse under ``prefix`` on a random free port.

    ``results`` maps a substring of the search text (case-insensitive) to the results to
    return; the first key that matches wins, and no match gives []. ``reverse_result`` is
    the answer to every reverse request (None: Nominatim's "Unable to geocode").
    ``delay`` seconds before answering simulates a slow geocoder, ``status`` other than 200
    an erroring one. Every request received is kept in ``requests``.
    """

    def __init__(
        self,
        results: dict[str, list[dict]] | None = None,
        *,
        reverse_result: dict | None = None,
        delay: float = 0,
        status: int = 200,
        prefix: str = "",
    ):
        self.results = dict(results or {})
        self.reverse_result = reverse_result
        self.delay = delay
        self.status = status
        self.prefix = prefix.rstrip("/")
        self.requests: list[ReceivedRequest] = []
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval so shutdown() takes milliseconds, not half a second per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """What to set GEOCODER_URL to."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def __enter__(self) -> FakeNominatim:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()  # wakes handlers still sitting out their delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, object]:
        self.requests.append(ReceivedRequest(path, params))
        if self.delay:
            self._closing.wait(self.delay)
        if self.status != 200:
            return self.status, {"error": f"HTTP {self.status}"}
        if path == self.prefix + "/search":
            text = params.get("q", "").lower()
            for fragment, found in self.results.items():
                if fragment.lower() in text:
                    return 200, found
            return 200, []
        if path == self.prefix + "/reverse":
            return 200, self.reverse_result or {"error": "Unable to geocode"}
        return 404, {"error": "not found"}


def _handler_for(fake: FakeNominatim) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            status, body = fake.answer(url.path, params)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (the slow-geocoder tests)

        def log_message(self, format, *args) -> None:
            pass

    return Handler

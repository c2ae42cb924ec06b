"""Where the bundled demo capture is: inside the installed package (the wheel puts it at
tui/demo/home-demo.pcapng), or in a checkout's fixtures/demo folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_NAME = "home-demo.pcapng"


def demo_capture_path() -> Path | None:
    try:
        packaged = resources.files("tui").joinpath("demo", DEMO_NAME)
        if packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, OSError):
        pass
    checkout = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / DEMO_NAME
    return checkout if checkout.is_file() else None

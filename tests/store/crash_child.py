"""The process test_crash.py kills: records captures into a store, slowly, saying after each flush how
many it made. `python -m tests.store.crash_child STORE CHUNK CAPTURE...`"""

from __future__ import annotations

import sys
import time

from engine.analysis import Analysis
from engine.capture.source import CaptureSet
from engine.store import HistoryStore, Recorder


def main(store_path: str, chunk: int, paths: list[str]) -> None:
    store = HistoryStore(store_path, sensor="pi")
    capture = CaptureSet(paths)
    capture.start_offsets = store.resume_offsets(capture.paths)
    analysis = Analysis(inspector="process")
    assert analysis.inspector is not None
    print(f"inspector {analysis.inspector.pid}", flush=True)  # type: ignore[attr-defined]
    recorder = Recorder(store, analysis, interval=0.02)
    seen = 0
    for batch in recorder.wrap(lambda: capture.batches(chunk), capture.paths, capture.statuses)():
        analysis.ingest_batch(batch)
        time.sleep(0.005)
        if recorder.stats.flushes != seen:
            seen = recorder.stats.flushes
            print(f"flushed {seen}", flush=True)
    analysis.finish()
    recorder.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])

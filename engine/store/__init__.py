"""The history store: homescope's memory across restarts (see docs/history-store.md).

store = HistoryStore()                        # Settings.store_path; sensor = this host's name
capture.start_offsets = store.resume_offsets(capture.paths)
recorder = Recorder(store, analysis)
recorder.record(capture)                      # or CaptureSession(batches=recorder.wrap(...))
recorder.close()
past = store.load(start, end)                 # a StoredAnalysis: .snapshot, .sources, .dataframes()
"""

from engine.store.errors import StoreBusyError, StoreError, StoreVersionError
from engine.store.loader import StoredAnalysis
from engine.store.positions import FileIdentity, SourcePosition
from engine.store.recorder import Recorder
from engine.store.retention import PruneResult
from engine.store.store import HistoryStore, Retention, RunInfo, StoreInfo

__all__ = [
    "FileIdentity",
    "HistoryStore",
    "PruneResult",
    "Recorder",
    "Retention",
    "RunInfo",
    "SourcePosition",
    "StoreBusyError",
    "StoreError",
    "StoreInfo",
    "StoreVersionError",
    "StoredAnalysis",
]

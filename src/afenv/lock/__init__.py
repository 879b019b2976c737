"""Stage 2, the lock: one facility-wide resolution, Debian pins, drift, and the ONE loader."""

from afenv.lock.drift import check, check_experiment, input_digests
from afenv.lock.files import FacilityLock, ImageLock, LockedWheel
from afenv.lock.load import LockSet, load_locks
from afenv.lock.resolve import LockResult, image_sets, lock

__all__ = [
    "FacilityLock",
    "ImageLock",
    "LockResult",
    "LockSet",
    "LockedWheel",
    "check",
    "check_experiment",
    "image_sets",
    "input_digests",
    "load_locks",
    "lock",
]

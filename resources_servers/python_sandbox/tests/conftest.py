"""Lets the tests `from app import ...` whether pytest runs here or from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

SERVER_DIR = str(Path(__file__).resolve().parent.parent)
if SERVER_DIR not in sys.path:
    sys.path.insert(0, SERVER_DIR)

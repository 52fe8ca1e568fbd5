"""The GLUE metric as a local `evaluate` module (see glue_metric.py).

`evaluate.load` takes this folder's path: it loads `glue_metric.py` from here (the script must have
the folder's name) and never asks the hub. Nothing in the suite imports the script directly.
"""

from pathlib import Path

METRIC_DIR = Path(__file__).resolve().parent

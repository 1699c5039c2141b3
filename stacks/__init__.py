"""CDK constructs and the stack of the AIOS Kit (no business logic here).

The synth reads the kit's own library (specs, capabilities, the keyring's models) as the layer
ships it, so the layer's folder is put on the path before any stack module imports from it.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "aios" / "python")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)

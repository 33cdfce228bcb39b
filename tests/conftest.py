import os
import sys
from pathlib import Path

from hypothesis import settings

# Test helpers such as corpus_score live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

# In CI the property tests run a fixed sequence of examples, so a run is reproducible; on a developer's
# machine they keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

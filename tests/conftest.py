import sys
from pathlib import Path

# Test helpers such as corpus_score live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

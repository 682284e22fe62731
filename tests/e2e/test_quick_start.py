"""The README's first session, run as written (bash, curl and jq) against a real embedded `kb serve`
with the key its first start printed."""

import re
import subprocess
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def _first_session() -> str:
    text = README.read_text()
    block = re.search(r"A first session.*?```sh\n(.*?)```", text, re.DOTALL)
    assert block, "the README's quick start has a first session"
    return block.group(1)


def test_the_readme_first_session_works_as_written(kb_service):
    script = _first_session()
    assert "KEY=ds-…" in script and "API=http://127.0.0.1:5001/v1" in script
    script = script.replace("KEY=ds-…", f"KEY={kb_service.key}")
    script = script.replace("API=http://127.0.0.1:5001/v1", f"API={kb_service.url}/v1")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"content": "Sea otters hold hands while they sleep so they do not drift apart."' in result.stdout

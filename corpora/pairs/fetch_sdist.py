"""Fetch one sdist from PyPI with pip's own index client (finder + session) and check its SHA-256.

``pip download --no-deps bigbench==1.0.0`` downloads the 358 MB sdist and then deletes it, because
the package's metadata declares a direct-URL dependency (``bleurt @ file://…``) that pip refuses
for distributions from PyPI. This does the same look-up and download without building metadata.

    python corpora/pairs/fetch_sdist.py bigbench 1.0.0 /tmp/pairdl/bigbench-1.0.0.tar.gz
"""

from __future__ import annotations

import hashlib
import shutil
import sys

from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.network.session import PipSession

KNOWN = {("bigbench", "1.0.0"): "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"}


def _is_sdist(filename: str) -> bool:
    """A source archive (pip's ``Link.is_sdist`` went away in later pips, so the name decides)."""
    return filename.endswith((".tar.gz", ".zip"))


def main() -> None:
    name, version, dest = sys.argv[1], sys.argv[2], sys.argv[3]
    session = PipSession()
    scope = SearchScope.create(find_links=[], index_urls=["https://pypi.org/simple"], no_index=False)
    finder = PackageFinder.create(LinkCollector(session, scope), SelectionPreferences(allow_yanked=False))
    candidates = finder.find_all_candidates(name)
    links = [c.link for c in candidates if str(c.version) == version and _is_sdist(c.link.filename)]
    if not links:
        sys.exit(f"no sdist for {name}=={version}")
    url = links[0].url_without_fragment
    print(url)
    with session.get(url, stream=True) as resp, open(dest, "wb") as out:
        resp.raise_for_status()
        shutil.copyfileobj(resp.raw, out)
    with open(dest, "rb") as done:
        digest = hashlib.sha256(done.read()).hexdigest()
    print("sha256", digest)
    if (name, version) in KNOWN and KNOWN[(name, version)] != digest:
        sys.exit("sha256 mismatch")


if __name__ == "__main__":
    main()

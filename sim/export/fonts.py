"""The CJK font that the map, the report and the figures render Chinese with.

A planner's PC (or this project's CI) may have no font with Chinese glyphs; a page or a
PNG that names one it does not have shows empty boxes.  So the font travels with the
program: Noto Sans SC (SIL Open Font License 1.1, © 2014-2021 Adobe) from the
``justmytype-intl-cjk`` package, a dependency.  It is a variable font (weight 100-900,
default Thin, 17 MB); each page gets only the characters it shows, at the weights it
uses, made with fontTools (:func:`font_subset`, about 0.7 s for the 250-odd characters
of the Chinese labels):

- HTML pages embed the subset as ``@font-face`` rules (WOFF ``data:`` URIs) for the
  CJK characters of the page (:func:`font_face_css`), so a page renders Chinese with
  no system font and no network;
- figures register the subset with matplotlib (``font_manager.addfont`` on a file in a
  private temporary folder; :func:`matplotlib_family`), from the package, never from
  the system.

"CJK characters" are those from U+2E80 on (CJK radicals, punctuation, kana,
ideographs, compatibility and full-width forms), outside the private-use area:
:func:`cjk_chars`.  Latin text keeps the page's or matplotlib's usual font.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

__all__ = [
    "CSS_FAMILY",
    "FONT_NOTICE",
    "cjk_chars",
    "font_face_css",
    "font_path",
    "font_subset",
    "matplotlib_family",
]

#: The package that ships the font, and the font's path inside it.
FONT_PACKAGE = "justmytype_intl_cjk"
FONT_FILE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
#: The family name pages use for the embedded subset.
CSS_FAMILY = "chargesite CJK"
#: Credit written next to an embedded subset (the OFL asks that the licence travels).
FONT_NOTICE = (
    "Noto Sans SC, subset: Copyright 2014-2021 Adobe (http://www.adobe.com/). "
    "Licensed under the SIL Open Font License, Version 1.1 (https://openfontlicense.org)."
)
#: Weights embedded in pages: regular text and bold headings / table heads.
PAGE_WEIGHTS = (400, 700)


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return o >= 0x2E80 and not (0xD800 <= o <= 0xF8FF) and not (0xFFF0 <= o <= 0xFFFF)


def cjk_chars(*texts: str) -> str:
    """The distinct CJK characters of ``texts``, sorted (the key of a subset).

    Parameters
    ----------
    *texts
        Any text (labels, names, a whole page).

    Returns
    -------
    str
        Characters from U+2E80 on, outside the private-use area; ``""`` when none.
    """
    # the distinct characters first (a set of a string is made in C): a page of a
    # megabyte holds a few hundred
    return "".join(sorted({c for t in texts for c in set(t) if _is_cjk(c)}))


@lru_cache(maxsize=1)
def font_path() -> Path | None:
    """The packaged Noto Sans SC file, or ``None`` when ``justmytype-intl-cjk`` is not
    installed (pages then name system fonts only and figures fall back to English)."""
    from importlib import resources

    try:
        path = Path(str(resources.files(FONT_PACKAGE) / FONT_FILE))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


@lru_cache(maxsize=16)
def _variable_subset(chars: str) -> bytes:
    """The variable font cut down to ``chars`` (TrueType bytes; weight axis kept)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = font_path()
    assert path is not None  # callers check
    with TTFont(path, lazy=True, recalcBBoxes=False) as font:  # lazy: read what is kept
        options = subset.Options()
        options.notdef_outline = True
        options.hinting = False  # screen and PNG rendering at report sizes needs none
        options.name_IDs = [0, 13, 14]  # copyright and licence stay with the font
        # Horizontal Chinese text needs no OpenType layout, vertical metrics or metric
        # variations (advances come from gvar's phantom points); reading them is most of
        # the time of a subset.
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "HVAR", "VVAR", "vhea", "vmtx"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in chars])
        subsetter.subset(font)
        buf = io.BytesIO()
        font.save(buf)
        return buf.getvalue()


def _rename(font: object, family: str, weight: int) -> None:
    style = "Bold" if weight >= 700 else "Regular"
    table = font["name"]  # type: ignore[index]
    for name_id, text in (
        (1, family),
        (2, style),
        (4, f"{family} {style}"),
        (6, f"{family}-{style}".replace(" ", "")),
        (16, family),
        (17, style),
    ):
        table.setName(text, name_id, 3, 1, 0x409)


@lru_cache(maxsize=32)
def font_subset(chars: str, /, *, weight: int = 400, woff: bool = False) -> bytes | None:
    """Noto Sans SC with only ``chars``, as a static font of one weight.

    Parameters
    ----------
    chars
        The characters to keep (:func:`cjk_chars`); those the font lacks are ignored.
    weight
        Font weight, 100-900 (400 regular, 700 bold).
    woff
        WOFF (zlib-compressed, for pages) instead of TrueType.

    Returns
    -------
    bytes or None
        The font file, named :data:`CSS_FAMILY` plus a hash of ``chars`` (so that two
        subsets registered with matplotlib do not shadow each other); ``None`` when
        ``chars`` is empty or the font package is missing.
    """
    if not chars or font_path() is None:
        return None
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = instancer.instantiateVariableFont(
        TTFont(io.BytesIO(_variable_subset(chars))), {"wght": float(weight)}
    )
    _rename(font, _family(chars), weight)
    if woff:
        font.flavor = "woff"
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _family(chars: str) -> str:
    return f"{CSS_FAMILY} {hashlib.sha1(chars.encode('utf-8')).hexdigest()[:8]}"


def font_face_css(text: str, /) -> str:
    """``@font-face`` rules that embed the CJK characters of ``text`` (a page).

    The rules name the family :data:`CSS_FAMILY` at the weights of
    :data:`PAGE_WEIGHTS`; a page lists that family first, so its CJK text uses the
    embedded glyphs and its Latin text the usual fonts.

    Returns
    -------
    str
        CSS (with the font's credit as a comment), or ``""`` when ``text`` has no CJK
        character or the font package is missing.
    """
    chars = cjk_chars(text)
    rules = []
    for weight in PAGE_WEIGHTS:
        data = font_subset(chars, weight=weight, woff=True)
        if data is None:
            return ""
        uri = "data:font/woff;base64," + base64.b64encode(data).decode("ascii")
        rules.append(
            f'@font-face{{font-family:"{CSS_FAMILY}";font-style:normal;'
            f'font-weight:{weight};src:url({uri}) format("woff");}}'
        )
    return f"/* {FONT_NOTICE} */\n" + "\n".join(rules)


@lru_cache(maxsize=1)
def _font_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="chargesite-fonts-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@lru_cache(maxsize=16)
def matplotlib_family(chars: str, /) -> str | None:
    """Register the subset of ``chars`` (regular and bold) with matplotlib.

    Parameters
    ----------
    chars
        The CJK characters the figures will draw (:func:`cjk_chars`).

    Returns
    -------
    str or None
        The family name to put in ``font.sans-serif``; ``None`` when ``chars`` is empty
        or the font package is missing.
    """
    from matplotlib import font_manager

    family = None
    for weight in (400, 700):
        data = font_subset(chars, weight=weight)
        if data is None:
            return None
        path = _font_dir() / f"{_family(chars).replace(' ', '-')}-{weight}.ttf"
        path.write_bytes(data)
        font_manager.fontManager.addfont(str(path))
        family = str(font_manager.FontProperties(fname=str(path)).get_name())
    return family

"""What to do about a module the user's code imports and this environment lacks: the package to
install, or the repository's own module that is not where the code expects it (a folder left
out of a checkout, a folder flattened beside the script)."""

from __future__ import annotations

import re


def missing_package(module: str, error) -> str:
    """The package to install: the one the import error names (``utils.misc`` failed
    because ``gym`` is not installed: gym), else the module imported."""
    match = re.search(r"No module named '([^']+)'", str(error))
    return match.group(1).split(".")[0] if match else module


# import names whose package on PyPI is named otherwise (`import hydra` is hydra-core's)
_PIP_NAMES = {
    "hydra": "hydra-core",
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "dotenv": "python-dotenv",
    "gin": "gin-config",
    "Bio": "biopython",
    "bs4": "beautifulsoup4",
    "attr": "attrs",
    "absl": "absl-py",
    "ml_collections": "ml-collections",
    "torch_geometric": "torch-geometric",
    "pytorch_lightning": "pytorch-lightning",
    "tensorflow_probability": "tensorflow-probability",
    "umap": "umap-learn",
    "Levenshtein": "python-Levenshtein",
    "magic": "python-magic",
    "fitz": "PyMuPDF",
    "docx": "python-docx",
    "jwt": "PyJWT",
    # seen in VAE repositories the day's helpers tried: latent diffusion's VQGAN, microbiome and chemistry VAEs
    "taming": "taming-transformers",
    "biom": "biom-format",
    "skbio": "scikit-bio",
    "tdc": "PyTDC",
    "pytorch_msssim": "pytorch-msssim",
    "torch_scatter": "torch-scatter",
    "ruamel": "ruamel.yaml",
    "imblearn": "imbalanced-learn",
}


# the packages the code imported that are not installed, in this check (package -> the file importing it)
NOT_INSTALLED: dict[str, str] = {}


def noted_not_installed(module: str, path: str, error) -> None:
    """Remember a package an import of the code's found not installed (``No module named 'einops'``)."""
    if "No module named" in str(error):
        NOT_INSTALLED.setdefault(missing_package(module, error), path)


def also_missing(package: str, path: str) -> str:
    """`` (the code also imports einops, omegaconf: not installed either; all at once: pip install ...)``:
    the other packages the same project's files imported and this environment lacks, with the one
    command that installs them all under their PyPI names (taming-transformers for taming), so that
    one run says what a run per package said before; ""."""
    import os

    home, top = os.path.dirname(os.path.abspath(path)), package.split(".")[0]
    others = [
        p
        for p, at in NOT_INSTALLED.items()
        if p != top and os.path.commonpath([home, os.path.dirname(os.path.abspath(at))]) not in ("/", "") and not _the_projects_own(p, home)
    ]
    if not others:
        return ""
    pip = " ".join(_PIP_NAMES.get(p, p) for p in ([] if _the_projects_own(top, home) else [top]) + others)
    return f" (the code also imports {', '.join(others)}: not installed either; all at once: pip install {pip})"


def _the_projects_own(top: str, home: str) -> bool:
    """Is ``top`` a folder or module of the project's own (``lvae/`` of the repository, shadowed by a
    model file of that name): no package pip installs (helper-found: "pip install boilr lvae")."""
    import os

    folders = {os.getcwd(), home, os.path.dirname(home), os.path.dirname(os.path.dirname(home))}
    return any(os.path.exists(os.path.join(d, top)) or os.path.exists(os.path.join(d, f"{top}.py")) for d in folders)


def pip_hint(package: str) -> str:
    """`` (pip install hydra-core)`` where the package's PyPI name is not its import name; ""."""
    name = _PIP_NAMES.get(package.split(".")[0])
    return f" (pip install {name})" if name else ""


def install_advice(module: str, error) -> str:
    """What to do about a module that could not be imported: the repository's own, where its
    package's folder is here and the module's file is not (``from src.vae_module import LitVAE``
    with src/ here, vae_module.py left out of the checkout); else the package to install."""
    import os

    gone = re.search(r"cannot import name '([^']+)' from '([^']+)'", str(error))
    if gone is not None:
        # `from collections import MutableMapping` on Python 3.10+: the module is here, the name is not
        return (
            f"{gone.group(2)} is here but has no {gone.group(1)!r} (the code was written for another version of it; "
            "import the name from where this version has it)"
        )
    syntax = re.search(r"SyntaxError: (.+?) \(([^,()]+\.py), line (\d+)\)", str(error))
    if syntax is not None:
        # the module is here and does not parse: written for another Python (def f[T](...) is 3.12's)
        import sys

        py2 = "Missing parentheses in call to" in syntax.group(1) or "print" in syntax.group(1)
        return (
            f"{syntax.group(2)} does not parse with this Python ({sys.version_info.major}.{sys.version_info.minor}): "
            f"{syntax.group(1)} at line {syntax.group(3)} "
            + (
                "(Python 2 code: port that file to Python 3, print(...) for print ...)"
                if py2
                else "(syntax of a newer Python?): run vaelint with the Python the code is written for"
            )
        )
    if not module:
        return "Install the package it names"
    package = missing_package(module, error)
    top = package.split(".")[0]
    if "." in module and os.path.isdir(os.path.join(os.getcwd(), top)):
        path = module.replace(".", "/")
        if os.path.isfile(f"{path}.py") or os.path.isdir(path):
            # run as a file, a module of the same name beside the script (arch/nvae/utils.py) is found
            # before the folder's package: the code is meant to run as `python -m`
            here = f"{path}/" if os.path.isdir(path) else f"{path}.py"
            return (
                f"{here} is here, but the import found another {top!r} first (a module of that name beside the "
                f"script, where `python FILE` looks first): the code is meant to run as `python -m`, not as a file: "
                "name the function that trains as PATH.py:FUNCTION"
            )
        return f"{path}.py is not in this folder (a module of the repository's own, left out of its checkout?): add it"
    if "." in module and not os.path.exists(top) and (beside := _this_folder_as(module)) is not None:
        # `from my_vae_project.vaemodel import VAE` with ./vaemodel.py defining VAE: the author's checkout's name
        here = os.path.basename(os.getcwd())
        return (
            f"{module!r} is this folder's own {beside}, imported under the package name {top!r} (the name of the author's "
            f"checkout; this one is {here!r}): check it from a checkout named {top}/, with PYTHONPATH set to the folder above it"
        )
    if "." in module and not os.path.exists(top) and _beside(module) and not _a_package_here(top, module) and not _imported_flat(module):
        # `import lib.dist` with dist.py beside the script and no lib/: the repository's folder, flattened
        return (
            f"{top}/ is not here, and {_beside(module)} is beside the script: the code expects it in "
            f"{module.rsplit('.', 1)[0].replace('.', '/')}/ (a folder of the repository's own, left out of its checkout?): move it there"
        )
    return _found_elsewhere(module, top) or f"Install {package}{pip_hint(package)}"


def _found_elsewhere(module: str, top: str) -> str | None:
    """The module's file in a folder below the working one, or its package in one above: the
    import path the code expects, said; None where neither is here."""
    import os

    inside = _in_a_folder(module)
    if inside is not None:
        # `from pc_models import PointVAE` with lib/pc_models.py here: a notebook run from lib/, or a
        # sys.path.append a Colab cell made, put the folder on the import path; `from utils.helpers
        # import f` with src/utils/helpers.py: the launcher's PYTHONPATH=src
        folder = inside.removesuffix(".py")[: -len(module.replace(".", "/"))].rstrip("/") or "."
        return (
            f"{module!r} is not installed, but {inside} is here: the code expects {folder}/ on the import path (a "
            f"notebook run from there, or a sys.path.append of it): run vaelint with PYTHONPATH={folder}"
        )
    above = _package_above(top)
    if above is not None:
        # cd worldmodels/ctallec; vaelint check trainvae.py with `import worldmodels` of the repository's root
        root, installable = above
        how = f"install the project into this environment (pip install -e {root}), or " if installable else ""
        return f"{top!r} is the repository's own package ({os.path.join(root, top)}/), not installed here: {how}run vaelint with PYTHONPATH={root}"
    return None


def _package_above(top: str) -> tuple[str, bool] | None:
    """(the folder above the working one that holds the package ``top``, as a relative path; whether
    it is a project pip installs) where one up to six levels up does; None where none does."""
    import os

    d = os.getcwd()
    for _ in range(6):
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
        if os.path.isfile(os.path.join(d, top, "__init__.py")):
            installable = any(os.path.isfile(os.path.join(d, f)) for f in ("pyproject.toml", "setup.py", "setup.cfg"))
            return os.path.relpath(d), installable
    return None


def _in_a_folder(module: str) -> str | None:
    """The module's file in a folder of the repository below the working folder (lib/pc_models.py)."""
    import glob

    path = module.replace(".", "/")  # utils.helpers: src/utils/helpers.py
    found = sorted(glob.glob(f"*/{path}.py") + glob.glob(f"*/*/{path}.py") + glob.glob(f"*/{path}/__init__.py"))
    found = [f for f in found if not f.startswith((".", "venv", "env", "site-packages")) and "site-packages" not in f]
    found = [f for f in found if not _imports_the_package(f, module)]  # proj/dataset/biom.py's own `from biom import`
    if not found:
        return None
    return found[0] if found[0].endswith(f"{path}.py") else found[0].rsplit("/", 1)[0]


def _a_package_here(top: str, module: str) -> bool:
    """Do the files beside the script use ``top`` as a package of its own (``import ray``, ``from
    ray import tune``), or does the file beside the script import ``module`` itself (train.py's
    ``from ray.train import report``)? Then it is a package to install, not a folder flattened."""
    import glob

    own = re.compile(
        rf"^\s*(import\s+{re.escape(top)}\b(?!\.)|from\s+{re.escape(top)}\s+import\b|from\s+{re.escape(module)}\s+import\b)", re.M
    )
    # the script's folder and the project's folders below it (jobs/prep.py's `from torchtext.data.utils import`)
    paths = glob.glob("*.py") + [p for p in glob.glob("*/**/*.py", recursive=True) if not p.startswith((".", "venv", "env"))]
    for path in paths[:300]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                if own.search(f.read(200_000)):
                    return True
        except OSError:
            continue
    return False


def _beside(module: str) -> str | None:
    """The module's file, found in the working folder instead of under its package's folder."""
    import os

    name = module.rsplit(".", 1)[-1]
    for found in (f"{name}.py", os.path.join(name, "__init__.py")):
        if os.path.isfile(found):
            return found
    return None


def _imports_the_package(path: str, module: str) -> bool:
    """Does the project's file of that name import the package itself (proj/dataset/biom.py's ``from
    biom import Table``)? Then it is a wrapper of the package, not the module the code expects."""
    own = re.compile(rf"^\s*(from\s+{re.escape(module)}\s+import\b|import\s+{re.escape(module)}\b(?!\.))", re.M)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return bool(own.search(f.read(200_000)))
    except OSError:
        return False


# module names too common to tell a package's module from the folder's own file of that name
_GENERIC = frozenset("utils util helpers common tools misc data config configs io core base functional ops layers nn models".split())


def _this_folder_as(module: str) -> str | None:
    """The file beside the script that ``module``'s import names are defined in (``from
    my_vae_project.vaemodel import VAE`` with ./vaemodel.py's class VAE): the repository imports itself
    under its checkout's name. A package of the same last part (``from ray.train import report``
    beside a train.py without report) is not."""
    import ast
    import glob

    beside = _beside(module)
    if beside is None or module.rsplit(".", 1)[-1] in _GENERIC:
        return None  # kornia.utils with a utils.py here: a package's module as likely as the folder's own
    taken = re.compile(rf"^[ \t]*from\s+{re.escape(module)}\s+import[ \t]+(?:\(([\w\s,]+)\)|([\w \t,]+))", re.M)
    names: set = set()
    for path in glob.glob("*.py")[:200]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                said = [m.group(1) or m.group(2) for m in taken.finditer(f.read(200_000))]
                names |= {n.split(" as ")[0].strip() for line in said for n in line.split(",")}
        except OSError:
            continue
    try:
        with open(beside, encoding="utf-8", errors="replace") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    names.discard("")
    return beside if names and names <= defined else None


def _imported_flat(module: str) -> bool:
    """Does a file beside the script import the module's last part as a module of its own (``from
    utils import set_seed`` beside ``from torchtext.data.utils import get_tokenizer``)? Then that file
    is the project's own top-level module, not a package's flattened: the package is to install."""
    import glob

    name = re.escape(module.rsplit(".", 1)[-1])
    flat = re.compile(rf"^\s*(import\s+{name}\b(?!\.)|from\s+{name}\s+import\b)", re.M)
    for path in glob.glob("*.py")[:200]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                if flat.search(f.read(200_000)):
                    return True
        except OSError:
            continue
    return False


def missing_before(path: str, line: int) -> str:
    """Where a top-level import before ``line`` names a package that is not installed (``import
    dotenv``, whose load_dotenv() would have set PROJECT_ROOT): that package is the cause to say,
    not the later line's KeyError; '' where none is."""
    import ast
    import importlib.util

    from vaelint.source.cells import where
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return ""
    # the names read up to the failing line: an import none of whose names is read there (tensorboardX's
    # SummaryWriter, used for logging later) did nothing the line missed (memray/Sentence-VAE)
    read = _read_by(tree, line)
    for stmt in tree.body:
        if stmt.lineno >= line or not isinstance(stmt, (ast.Import, ast.ImportFrom)) or getattr(stmt, "level", 0):
            continue
        bound = {(a.asname or a.name).split(".")[0] if isinstance(stmt, ast.Import) else (a.asname or a.name) for a in stmt.names}
        if not bound & read:
            continue
        names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        for name in names:
            top = name.split(".")[0]
            try:
                found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if top and not found:
                return (
                    f"Before it, {where(path, stmt.lineno)} imports {top!r}, which is not installed here: what that line "
                    f"needs is likely what {top!r} would have done (install it, or give the value it would have set)."
                )
    return ""


def _read_by(tree, line: int) -> set:
    """The names the module's statements before ``line`` read when they run: a function's or class
    method's body only where that function or class is named there (einops' rearrange in a plotting
    helper never called is not read by ``model = VAE()``)."""
    import ast

    bodies: dict = {}
    read: set = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            name = getattr(node, "name", None)
            if name is not None:
                bodies.setdefault(name, []).append(node)
            for d in getattr(node, "decorator_list", []):
                visit(d)
            return
        if isinstance(node, ast.Name) and node.lineno <= line:
            read.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        if stmt.lineno < line or stmt.lineno == line:
            visit(stmt)
    done: set = set()
    while True:
        called = [n for n in read & set(bodies) if n not in done]
        if not called:
            return read
        for name in called:
            done.add(name)
            for node in bodies[name]:
                for child in node.body if isinstance(node.body, list) else [node.body]:
                    # a class named: its methods run when it is built and used (their bodies are read)
                    inner = (
                        child.body
                        if isinstance(node, ast.ClassDef) and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                        else [child]
                    )
                    for one in inner:
                        visit(one)

"""Every folder of Python modules in the apps is a regular package: import-linter's graph leaves out a
namespace package (no __init__.py) silently, and the app contracts would then not check its imports."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "routing", "experiments", "analytics", "devtools")


def test_every_folder_of_modules_is_a_package_the_import_contracts_see():
    folders = {path.parent for app in APPS for path in (ROOT / app).rglob("*.py")}
    bare = (folder for folder in folders if not (folder / "__init__.py").is_file())
    missing = sorted(str(folder.relative_to(ROOT)) for folder in bare)
    assert missing == []

"""Benchmark the site build: cold build, no-change rebuild, and rebuilds after editing one chapter.

A prose edit leaves the page's code unchanged, so its cached execution is reused; a code edit
makes that one page run again (and only that one).

Works on a temporary copy of the repository, so the working tree and its cache are untouched.
Prints seconds and the ratios against the cold build, all measured in this run.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def build(root):
    start = time.perf_counter()
    done = subprocess.run([str(JUPYTER_BOOK), "build", str(root), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"build failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chapter", default="book/ch04_recurrent_networks.md", help="the chapter to edit")
    args = p.parse_args()
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
        chapter = root / args.chapter
        times = {"cold": build(root), "no change": build(root)}
        chapter.write_text(chapter.read_text() + "\n\nAn added sentence, to time a rebuild after an edit.\n")
        times[f"prose edit in {chapter.name}"] = build(root)
        chapter.write_text(chapter.read_text() + "\n```{code-cell} ipython3\nprint('an added cell')\n```\n")
        times[f"code edit in {chapter.name}"] = build(root)
    width = max(map(len, times)) + 2
    print(f"{'build':<{width}}{'seconds':>8}{'vs cold':>9}")
    for name, seconds in times.items():
        print(f"{name:<{width}}{seconds:>8.1f}{seconds / times['cold']:>9.2f}")


if __name__ == "__main__":
    main()
